package acr

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/jwtclaims"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

// rawJWT builds a compact JWS from literal JSON, so tests can make tokens
// that no JWT library would sign.
func rawJWT(header, claims, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + sig
}

func TestRefreshTokenTimes(t *testing.T) {
	const hs = `{"alg":"HS256","typ":"JWT"}`
	iat := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := iat.Add(3*time.Hour + 15*time.Minute)
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name        string
		tok         string
		wantOK      bool
		wantIssued  time.Time
		wantExpires time.Time
	}{
		{
			name: "acr-like signed token",
			tok: testkit.HS256(t, jwt.MapClaims{
				"exp": exp.Unix(), "iat": iat.Unix(), "nbf": iat.Unix(), "iss": "Azure Container Registry",
				"aud": "myreg.azurecr.io", "grant_type": "refresh_token", "tenant": "t",
			}),
			wantOK: true, wantIssued: iat, wantExpires: exp,
		},
		{name: "no exp", tok: rawJWT(hs, `{"iat":1772366400}`, "c2ln"), wantOK: false},
		{name: "exp null", tok: rawJWT(hs, `{"exp":null}`, ""), wantOK: false},
		{name: "exp as string", tok: rawJWT(hs, `{"exp":"1772378100"}`, ""), wantOK: false},
		{name: "exp zero", tok: rawJWT(hs, `{"exp":0}`, ""), wantOK: false},
		{name: "exp negative", tok: rawJWT(hs, `{"exp":-5}`, ""), wantOK: false},
		{name: "exp beyond year 9999", tok: rawJWT(hs, `{"exp":1e300}`, ""), wantOK: false},
		{name: "exp out of float range", tok: rawJWT(hs, `{"exp":1e400}`, ""), wantOK: false},
		{
			name: "exp as float", tok: rawJWT(hs, `{"exp":1772378100.5,"iat":1772366400.25}`, ""),
			wantOK: true, wantIssued: time.Unix(1772366400, 250e6).UTC(), wantExpires: time.Unix(1772378100, 500e6).UTC(),
		},
		{
			name: "exp in the past is still read", tok: rawJWT(hs, `{"exp":1577836800}`, ""),
			wantOK: true, wantExpires: past,
		},
		{
			name: "nbf used when iat absent", tok: rawJWT(hs, `{"exp":1772378100,"nbf":1772366400}`, ""),
			wantOK: true, wantIssued: iat, wantExpires: time.Unix(1772378100, 0).UTC(),
		},
		{
			name: "iat after exp is dropped", tok: rawJWT(hs, `{"exp":1772366400,"iat":1772378100}`, ""),
			wantOK: true, wantExpires: iat,
		},
		{
			name: "iat of the wrong type is ignored", tok: rawJWT(hs, `{"exp":1772366400,"iat":"yesterday"}`, ""),
			wantOK: true, wantExpires: iat,
		},
		{
			name: "alg none", tok: rawJWT(`{"alg":"none"}`, `{"exp":1772366400}`, ""),
			wantOK: true, wantExpires: iat,
		},
		{
			name: "unknown alg", tok: rawJWT(`{"alg":"XS999"}`, `{"exp":1772366400}`, "c2ln"),
			wantOK: true, wantExpires: iat,
		},
		{
			name: "missing alg", tok: rawJWT(`{"typ":"JWT"}`, `{"exp":1772366400}`, ""),
			wantOK: true, wantExpires: iat,
		},
		{
			name: "padded segments", tok: base64.URLEncoding.EncodeToString([]byte(hs)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1772366400}`)) + ".",
			wantOK: true, wantExpires: iat,
		},
		{name: "two segments", tok: strings.Join(strings.Split(rawJWT(hs, `{"exp":1772366400}`, ""), ".")[:2], "."), wantOK: false},
		{name: "four segments", tok: rawJWT(hs, `{"exp":1772366400}`, "c2ln") + ".x", wantOK: false},
		{name: "signature not base64url", tok: rawJWT(hs, `{"exp":1772366400}`, "!!!"), wantOK: false},
		{name: "claims not base64", tok: "eyJhbGciOiJIUzI1NiJ9.%%%.", wantOK: false},
		{name: "claims not an object", tok: rawJWT(hs, `[1772366400]`, ""), wantOK: false},
		{name: "claims null", tok: rawJWT(hs, `null`, ""), wantOK: false},
		{name: "header not JSON", tok: rawJWT(`alg`, `{"exp":1772366400}`, ""), wantOK: false},
		{name: "empty", tok: "", wantOK: false},
		{name: "opaque token", tok: "not-a-jwt", wantOK: false},
		{
			name: "huge token", tok: rawJWT(hs, `{"exp":1772366400,"pad":"`+strings.Repeat("a", jwtclaims.MaxLen)+`"}`, ""),
			wantOK: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issued, expires, ok := refreshTokenTimes(tt.tok)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (issued %v, expires %v)", ok, tt.wantOK, issued, expires)
			}
			if !issued.Equal(tt.wantIssued) || !expires.Equal(tt.wantExpires) {
				t.Fatalf("times = (%v, %v), want (%v, %v)", issued, expires, tt.wantIssued, tt.wantExpires)
			}
		})
	}
}

func TestTenantFromEntraToken(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tests := []struct {
		name string
		tok  string
		want string
	}{
		{name: "entra token", tok: testkit.HS256(t, jwt.MapClaims{"tid": tid, "aud": "https://containerregistry.azure.net", "exp": 2e9}), want: tid},
		{name: "unknown alg", tok: rawJWT(`{"alg":"RS999"}`, `{"tid":"`+tid+`"}`, ""), want: tid},
		{name: "no tid", tok: rawJWT(`{"alg":"RS256"}`, `{"oid":"x"}`, ""), want: ""},
		{name: "tid not a string", tok: rawJWT(`{"alg":"RS256"}`, `{"tid":42}`, ""), want: ""},
		{name: "tid with odd characters", tok: rawJWT(`{"alg":"RS256"}`, `{"tid":"a b\n"}`, ""), want: ""},
		{name: "tid too long", tok: rawJWT(`{"alg":"RS256"}`, `{"tid":"`+strings.Repeat(strings.Repeat("a", 63)+".", 4)+`com"}`, ""), want: ""},
		{name: "tid with an empty label", tok: rawJWT(`{"alg":"RS256"}`, `{"tid":"contoso..com"}`, ""), want: ""},
		{name: "tid a domain", tok: rawJWT(`{"alg":"RS256"}`, `{"tid":"contoso.onmicrosoft.com"}`, ""), want: "contoso.onmicrosoft.com"},
		{name: "two segments", tok: strings.Join(strings.Split(rawJWT(`{"alg":"RS256"}`, `{"tid":"`+tid+`"}`, ""), ".")[:2], "."), want: ""},
		{name: "garbage", tok: "a.b.c", want: ""},
		{name: "empty", tok: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tenantFromEntraToken(tt.tok); got != tt.want {
				t.Fatalf("tenantFromEntraToken = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzRefreshTokenTimes: any token gives consistent times or none, any
// tid read is a plausible tenant, and a token built with given exp and iat
// reads back as those times exactly when they are dates a token can carry.
func FuzzRefreshTokenTimes(f *testing.F) {
	f.Add(rawJWT(`{"alg":"RS256"}`, `{"exp":1772366400,"iat":1772355600}`, ""), 1772366400.0, 1772355600.0)
	f.Add(rawJWT(`{"alg":"none"}`, `{"exp":1.5e9,"nbf":-1,"tid":"x"}`, "c2ln"), 1.5e9, -1.0)
	f.Add("a.b.c", 0.0, 1e300)
	f.Add("..", 253402300800.0, 1772366400.5)
	f.Fuzz(func(t *testing.T, tok string, exp, iat float64) {
		issued, expires, ok := refreshTokenTimes(tok)
		if !ok && (!issued.IsZero() || !expires.IsZero()) {
			t.Fatalf("times (%v, %v) returned with ok=false", issued, expires)
		}
		if ok && !issued.IsZero() && !issued.Before(expires) {
			t.Fatalf("issuedAt %v not before expiresAt %v", issued, expires)
		}
		if tid := tenantFromEntraToken(tok); tid != "" && !token.ValidTenantID(tid) {
			t.Fatalf("implausible tenant %q", tid)
		}

		claims, err := json.Marshal(map[string]float64{"exp": exp, "iat": iat})
		if err != nil {
			return // NaN and the infinities have no JSON spelling
		}
		issued, expires, ok = refreshTokenTimes(rawJWT(`{"alg":"RS256"}`, string(claims), ""))
		wantExp, expOK := jwtclaims.NumericDate(exp)
		wantIat, _ := jwtclaims.NumericDate(iat)
		if !wantIat.Before(wantExp) {
			wantIat = time.Time{}
		}
		if !expOK {
			wantExp, wantIat = time.Time{}, time.Time{}
		}
		if ok != expOK || !expires.Equal(wantExp) || !issued.Equal(wantIat) {
			t.Fatalf("exp %v, iat %v read as (%v, %v, %v), want (%v, %v, %v)", exp, iat, issued, expires, ok, wantIat, wantExp, expOK)
		}
	})
}
