package token

import (
	"errors"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxJWTLen bounds the tokens whose claims we decode. ACR refresh tokens
// are about 2 KiB and Entra access tokens stay well under 16 KiB even with
// group claims; anything far larger is not a token we want to spend time
// base64- and JSON-decoding.
const maxJWTLen = 64 << 10

// maxNumericDate is 9999-12-31T23:59:59Z. Larger values overflow
// time.Unix's int64 conversion in surprising ways and are never real.
const maxNumericDate = 253402300799

// RefreshTokenTimes reads the lifetime of an ACR refresh token from its
// claims, without verifying its signature (we do not hold ACR's key, and the
// token came to us over TLS from the login server itself).
//
// expiresAt is exp. issuedAt is iat, else nbf, else zero; it is also zero
// when it is not before exp, so callers can treat zero as "unknown".
// ok is false when the token has no usable exp or cannot be decoded at
// all: such a token may still be used once but must not be cached.
// An exp in the past is returned with ok=true: deciding that a token is
// too old is the cache policy's job, not the parser's.
//
// NumericDates must be JSON numbers (integer or fractional), per RFC 7519
// §2; a string exp counts as absent.
func RefreshTokenTimes(tok string) (issuedAt, expiresAt time.Time, ok bool) {
	claims, ok := unverifiedClaims(tok)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	expiresAt, ok = numericDate(claims["exp"])
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	if t, ok := numericDate(claims["iat"]); ok {
		issuedAt = t
	} else if t, ok := numericDate(claims["nbf"]); ok {
		issuedAt = t
	}
	if !issuedAt.Before(expiresAt) {
		issuedAt = time.Time{}
	}
	return issuedAt, expiresAt, true
}

// TenantFromEntraToken returns the tid claim of an Entra access token, or
// "" when it is absent, unparseable or does not look like a tenant ID.
// The value is sent to the exchange and may appear in logs and errors, so
// anything ValidTenantID refuses is dropped.
func TenantFromEntraToken(tok string) string {
	claims, ok := unverifiedClaims(tok)
	if !ok {
		return ""
	}
	tid, _ := claims["tid"].(string)
	if !ValidTenantID(tid) {
		return ""
	}
	return tid
}

// unverifiedClaims decodes the claims of a compact JWS without checking its
// signature. golang-jwt's ParseUnverified fails on an unknown or missing
// alg only after it has decoded the claims; since we never verify, alg
// is irrelevant and such claims are used. Everything else it rejects (not
// three segments, bad base64, claims that are not a JSON object) is a
// token we cannot read.
func unverifiedClaims(tok string) (jwt.MapClaims, bool) {
	if tok == "" || len(tok) > maxJWTLen {
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

// numericDate converts a JSON NumericDate as decoded into a MapClaims
// (float64) to a time, rejecting values no real token carries.
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f <= 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
