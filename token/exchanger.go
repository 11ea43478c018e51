package token

import (
	"context"
	"errors"
	"time"
)

// Exchanger trades an Entra access token for an ACR refresh token at the
// registry. token/acr's Exchanger implements it; tests pass fakes.
type Exchanger interface {
	Exchange(ctx context.Context, r ExchangeRequest) (RefreshToken, error)
}

// ExchangeRequest is what the Provider asks an Exchanger for.
type ExchangeRequest struct {
	// LoginServer is the registry's host or host:port.
	LoginServer string
	// EntraToken is the access token to trade. It is a secret.
	EntraToken string
	// Tenant is sent to the exchange; "" means the Entra token's tid.
	Tenant string
	// SkipChallenge is Target.SkipChallenge: the exchange goes straight to
	// https://<LoginServer>/oauth2/exchange with the login server as the
	// service, without reading the registry's challenge.
	SkipChallenge bool
}

// Preparer is implemented by an Exchanger that can start work before the
// Entra token exists: warm its connection to the login server, or read the
// registry's challenge while the identity source is still busy. The
// Provider calls Prepare once per fetch, after the cache miss and the lock
// and before asking the first source, with EntraToken empty; Exchange then
// collects what Prepare started. Prepare must not block, and whatever it
// starts ends when ctx does, whether or not Exchange is ever called.
type Preparer interface {
	Prepare(ctx context.Context, r ExchangeRequest)
}

// RefreshToken is an Exchanger's answer.
type RefreshToken struct {
	// Token is the ACR refresh token. It is a secret.
	Token string
	// IssuedAt is its iat (else nbf); zero when unknown.
	IssuedAt time.Time
	// ExpiresAt is its exp; zero when the token has no usable exp: such a
	// token is used once and not cached.
	ExpiresAt time.Time
	// Tenant is the tenant that was sent, "" when none was.
	Tenant string
}

// exchangeFailure is implemented by an Exchanger's errors that name the
// login server themselves (token/acr's *Error does). The provider then does
// not prefix the login server again, and IsAudienceUnavailable knows the
// text is the registry's, not Entra's.
type exchangeFailure interface {
	ExchangeLoginServer() string
}

// errNoExchanger is what a Provider made without an Exchanger fails with
// when it has to fetch.
var errNoExchanger = errors.New("token: ProviderOptions.Exchanger is nil; pass an Exchanger (such as token/acr's) to NewProvider")
