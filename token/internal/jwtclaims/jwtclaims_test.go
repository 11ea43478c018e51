package jwtclaims

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func compact(header, claims, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + sig
}

func TestNumericDate(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want time.Time
		ok   bool
	}{
		{float64(1772366400), time.Unix(1772366400, 0).UTC(), true},
		{1772366400.25, time.Unix(1772366400, 250e6).UTC(), true},
		{float64(maxNumericDate), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{float64(maxNumericDate + 1), time.Time{}, false},
		{0.0, time.Time{}, false},
		{-1.0, time.Time{}, false},
		{math.NaN(), time.Time{}, false},
		{math.Inf(1), time.Time{}, false},
		{"1772366400", time.Time{}, false},
		{nil, time.Time{}, false},
	} {
		got, ok := NumericDate(tt.v)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("NumericDate(%v) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzUnverified: the claims of a token built from any header and claims
// text are exactly what encoding/json makes of that text, whatever the
// header says about alg; a token that is not three base64url segments of
// JSON objects gives nothing; NumericDate accepts only the dates a token
// can carry, and the time it returns is the number it was given.
func FuzzUnverified(f *testing.F) {
	f.Add(`{"alg":"RS256","typ":"JWT"}`, `{"exp":1772378100,"iat":1772366400,"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}`, "c2ln", 1772378100.5)
	f.Add(`{"alg":"none"}`, `{"exp":1.5e9,"nbf":-1}`, "", 0.0)
	f.Add(`{"typ":"JWT"}`, `{"exp":"1772378100"}`, "!!!", -5.0)
	f.Add(`{"alg":5}`, `[1]`, "", 1e300)
	f.Add(`alg`, `null`, "", float64(maxNumericDate))
	f.Add(`{"alg":"HS256"}`, `{"exp":1e400}`, "a.b", math.SmallestNonzeroFloat64)
	f.Fuzz(func(t *testing.T, header, claims, sig string, date float64) {
		tok := compact(header, claims, sig)
		got, ok := Unverified(tok)
		if ok != (got != nil) {
			t.Fatalf("ok=%v with claims %v", ok, got)
		}
		var wantClaims map[string]any
		claimsOK := json.Unmarshal([]byte(claims), &wantClaims) == nil && wantClaims != nil
		var h map[string]any
		headerOK := json.Unmarshal([]byte(header), &h) == nil && h != nil
		_, sigErr := base64.RawURLEncoding.DecodeString(sig)
		sigOK := sigErr == nil && !strings.ContainsAny(sig, "\r\n")
		if ok && !reflect.DeepEqual(map[string]any(got), wantClaims) {
			t.Fatalf("claims %q decoded as %v, want %v", claims, got, wantClaims)
		}
		if ok && (!headerOK || !claimsOK) {
			t.Fatalf("accepted a token whose header (%v) or claims (%v) is not a JSON object", headerOK, claimsOK)
		}
		if !ok && headerOK && claimsOK && sigOK && len(tok) <= MaxLen {
			t.Fatalf("refused a well-formed token: %q", tok)
		}
		// Any raw string: no panic, and nothing but a whole result.
		if c, ok := Unverified(header); ok != (c != nil) {
			t.Fatalf("ok=%v with claims %v", ok, c)
		}

		d, ok := NumericDate(date)
		switch {
		case !ok && !d.IsZero():
			t.Fatalf("NumericDate(%v) = %v with ok=false", date, d)
		case ok != (date > 0 && date <= maxNumericDate):
			t.Fatalf("NumericDate(%v) ok=%v", date, ok)
		case ok && (d.Unix() != int64(date) || d.Location() != time.UTC):
			t.Fatalf("NumericDate(%v) = %v (%d)", date, d, d.Unix())
		case ok && math.Abs(float64(d.Unix())+float64(d.Nanosecond())/1e9-date) > 1e-6:
			t.Fatalf("NumericDate(%v) = %v, off by more than rounding", date, d)
		}
	})
}
