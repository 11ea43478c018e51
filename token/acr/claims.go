package acr

import (
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/jwtclaims"
)

// refreshTokenTimes reads the lifetime of an ACR refresh token from its
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
func refreshTokenTimes(tok string) (issuedAt, expiresAt time.Time, ok bool) {
	claims, ok := jwtclaims.Unverified(tok)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	expiresAt, ok = jwtclaims.NumericDate(claims["exp"])
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	if t, ok := jwtclaims.NumericDate(claims["iat"]); ok {
		issuedAt = t
	} else if t, ok := jwtclaims.NumericDate(claims["nbf"]); ok {
		issuedAt = t
	}
	if !issuedAt.Before(expiresAt) {
		issuedAt = time.Time{}
	}
	return issuedAt, expiresAt, true
}

// tenantFromEntraToken returns the tid claim of an Entra access token, or
// "" when it is absent, unparseable or does not look like a tenant ID.
// The value is sent to the exchange and may appear in logs and errors, so
// anything token.ValidTenantID refuses is dropped.
func tenantFromEntraToken(tok string) string {
	claims, ok := jwtclaims.Unverified(tok)
	if !ok {
		return ""
	}
	tid, _ := claims["tid"].(string)
	if !token.ValidTenantID(tid) {
		return ""
	}
	return tid
}
