package acr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/jwtclaims"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// This file is the step-by-step form of Exchange, for a front end that
// diagnoses (the CLI's doctor): the challenge, the exchange and the
// registry's own token endpoint one at a time, and the facts of the tokens
// involved. Nothing here returns a token's text but the refresh token that
// the caller asked for; the facts are claims that identify, never secrets.

// EntraFacts are the claims of an Entra access token that say whose it is
// and for what. They are read without verifying the signature: they
// explain, they authorise nothing.
type EntraFacts struct {
	// Tenant is tid, ObjectID oid, AppID appid (v1) or azp (v2).
	Tenant, ObjectID, AppID string
	// Audience is aud.
	Audience string
	// IssuedAt, NotBefore and ExpiresAt are iat, nbf and exp; zero when
	// absent.
	IssuedAt, NotBefore, ExpiresAt time.Time
}

// EntraTokenFacts reads the facts of an Entra access token. ok is false
// when tok is not a readable JWT. Values that do not look like what they
// should be (a tenant that is not a tenant ID) are left empty, and the
// rest are made printable.
func EntraTokenFacts(tok string) (EntraFacts, bool) {
	claims, ok := jwtclaims.Unverified(tok)
	if !ok {
		return EntraFacts{}, false
	}
	str := func(k string) string {
		s, _ := claims[k].(string)
		return safetext.Printable(safetext.RedactClip(s, 200, tok))
	}
	f := EntraFacts{ObjectID: str("oid"), AppID: str("appid"), Audience: str("aud")}
	if f.AppID == "" {
		f.AppID = str("azp")
	}
	if tid, _ := claims["tid"].(string); token.ValidTenantID(tid) {
		f.Tenant = tid
	}
	f.IssuedAt, _ = jwtclaims.NumericDate(claims["iat"])
	f.NotBefore, _ = jwtclaims.NumericDate(claims["nbf"])
	f.ExpiresAt, _ = jwtclaims.NumericDate(claims["exp"])
	return f, true
}

// Challenge is a registry's Bearer challenge, checked as Exchange checks
// it: its realm is on the login server itself, over https.
type Challenge struct {
	// LoginServer is the login server as passed to Challenge.
	LoginServer string
	// Service is the challenge's service.
	Service string
	// realmHost is the checked realm's host and port.
	realmHost string
}

// Challenge reads loginServer's challenge (an anonymous GET /v2/). It
// sends no token. Errors are *Error.
func (x *Exchanger) Challenge(ctx context.Context, loginServer string) (Challenge, error) {
	origin, err := parseLoginServer(loginServer)
	if err != nil {
		return Challenge{}, &Error{Kind: KindInvalidInput, LoginServer: safetext.ServerText(loginServer, ""), Step: "challenge",
			detail: err.Error(), Hint: "pass a login server such as myreg.azurecr.io", Err: err}
	}
	exchangeURL, service, err := x.challenge(ctx, loginServer, origin, "")
	if err != nil {
		return Challenge{}, err
	}
	return Challenge{LoginServer: loginServer, Service: service, realmHost: exchangeURL.Host}, nil
}

// ExchangeAt is Exchange's second half: it trades r.EntraToken at the
// exchange endpoint of a challenge Challenge returned.
func (x *Exchanger) ExchangeAt(ctx context.Context, c Challenge, r token.ExchangeRequest) (token.RefreshToken, error) {
	if c.realmHost == "" || r.EntraToken == "" {
		return token.RefreshToken{}, &Error{Kind: KindInvalidInput, LoginServer: c.LoginServer, Step: "exchange",
			detail: "no checked challenge or no Entra token", Hint: "this is a bug in the caller"}
	}
	return x.trade(ctx, c.LoginServer, exchangeEndpoint(c.realmHost), c.Service, r)
}

// Grant is one entry of a registry access token's access claim: what it
// allows on one resource.
type Grant struct {
	Type, Name string
	Actions    []string
}

// AccessFacts are the facts of a registry access token: what it grants and
// when it is valid. The token itself is not kept.
type AccessFacts struct {
	Access                         []Grant
	IssuedAt, NotBefore, ExpiresAt time.Time
}

// Actions returns the actions granted on resource typ:name.
func (a AccessFacts) Actions(typ, name string) []string {
	var out []string
	for _, g := range a.Access {
		if g.Type == typ && g.Name == name {
			out = append(out, g.Actions...)
		}
	}
	return out
}

// AccessToken asks the registry's token endpoint (POST /oauth2/token,
// grant_type=refresh_token) for an access token for scope, e.g.
// "repository:hello:pull", as docker does, and returns what it grants.
// Errors are *Error with Step "registry-token".
func (x *Exchanger) AccessToken(ctx context.Context, c Challenge, refreshToken, scope string) (AccessFacts, error) {
	const step = "registry-token"
	if c.realmHost == "" || refreshToken == "" {
		return AccessFacts{}, &Error{Kind: KindInvalidInput, LoginServer: c.LoginServer, Step: step,
			detail: "no checked challenge or no refresh token", Hint: "this is a bug in the caller"}
	}
	form := url.Values{"grant_type": {"refresh_token"}, "service": {c.Service}, "scope": {scope}, "refresh_token": {refreshToken}}
	u := &url.URL{Scheme: "https", Host: c.realmHost, Path: "/oauth2/token"}
	resp, err := x.do(ctx, step, c.LoginServer, refreshToken, postForm(u, form))
	if err != nil {
		return AccessFacts{}, err
	}
	if resp.status < 200 || resp.status >= 300 {
		return AccessFacts{}, x.statusError(step, c.LoginServer, "", resp, refreshToken)
	}
	bad := func(detail string) (AccessFacts, error) {
		return AccessFacts{}, &Error{Kind: KindBadResponse, LoginServer: c.LoginServer, Step: step, StatusCode: resp.status,
			detail: detail, Hint: "the registry's answer is not what Azure Container Registry sends; is a proxy answering?"}
	}
	var ans struct {
		AccessToken string `json:"access_token"`
	}
	if resp.tooLarge || json.Unmarshal(resp.body, &ans) != nil || ans.AccessToken == "" {
		return bad(fmt.Sprintf("registry answered %d without a readable access_token", resp.status))
	}
	claims, ok := jwtclaims.Unverified(ans.AccessToken)
	if !ok {
		return bad(fmt.Sprintf("registry answered %d with an access token that is not a readable JWT", resp.status))
	}
	var f AccessFacts
	f.IssuedAt, _ = jwtclaims.NumericDate(claims["iat"])
	f.NotBefore, _ = jwtclaims.NumericDate(claims["nbf"])
	f.ExpiresAt, _ = jwtclaims.NumericDate(claims["exp"])
	list, _ := claims["access"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		typ, _ := m["type"].(string)
		name, _ := m["name"].(string)
		g := Grant{Type: safetext.ServerText(typ, ans.AccessToken), Name: safetext.ServerText(name, ans.AccessToken)}
		acts, _ := m["actions"].([]any)
		for _, a := range acts {
			if s, ok := a.(string); ok {
				g.Actions = append(g.Actions, safetext.ServerText(s, ans.AccessToken))
			}
		}
		f.Access = append(f.Access, g)
	}
	return f, nil
}
