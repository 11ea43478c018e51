// Package jwtclaims is the one place that decodes JWT claims, without
// verifying signatures: the refresh tokens ACR sends (for exp and iat), the
// Entra tokens (for tid) and federated assertions (for hints). Nothing
// decoded here authorises anything.
package jwtclaims

import (
	"errors"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxLen bounds the tokens whose claims are decoded. ACR refresh tokens
// are about 2 KiB and Entra access tokens stay well under 16 KiB even with
// group claims; anything far larger is not a token worth base64- and
// JSON-decoding.
const MaxLen = 64 << 10

// maxNumericDate is 9999-12-31T23:59:59Z. Larger values overflow
// time.Unix's int64 conversion in surprising ways and are never real.
const maxNumericDate = 253402300799

// Unverified decodes the claims of a compact JWS without checking its
// signature. golang-jwt's ParseUnverified fails on an unknown or missing
// alg only after it has decoded the claims; since nothing is verified, alg
// is irrelevant and such claims are used. Everything else it rejects (not
// three segments, bad base64, claims that are not a JSON object) is a
// token that cannot be read.
func Unverified(tok string) (jwt.MapClaims, bool) {
	if tok == "" || len(tok) > MaxLen {
		return nil, false
	}
	// The map must be non-nil: ParseUnverified unmarshals into a copy of
	// the map header, so a nil map would be filled and then lost.
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser(jwt.WithPaddingAllowed()).ParseUnverified(tok, claims)
	if err != nil && !errors.Is(err, jwt.ErrTokenUnverifiable) {
		return nil, false
	}
	return claims, true
}

// NumericDate converts a JSON NumericDate as decoded into a MapClaims
// (float64) to a time, rejecting values no real token carries. A string
// counts as absent (RFC 7519 §2 wants numbers).
func NumericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f <= 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
