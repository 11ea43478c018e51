package azuresim

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// resourceOf turns a scope ("https://x/.default") or resource ("https://x",
// "https://x/") into the audience Entra puts in the token.
func resourceOf(scopeOrResource string) string {
	r := strings.TrimSuffix(scopeOrResource, ".default")
	return strings.TrimSuffix(r, "/")
}

func (s *Sim) sign(k *signingKey, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.key)
}

// mintEntraToken issues an Entra access token (v1 form, as IMDS and the
// ACR resource get) for p and the given resource.
func (s *Sim) mintEntraToken(p Principal, resource string) (tok string, exp time.Time, err error) {
	now := time.Now()
	exp = now.Add(s.opts.EntraTokenLifetime).Truncate(time.Second)
	appid := p.ClientID
	if appid == "" {
		appid = p.ObjectID // a system-assigned identity's app id; unique enough here
	}
	claims := jwt.MapClaims{
		"aud":   resourceOf(resource),
		"iss":   "https://sts.windows.net/" + p.TenantID + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   exp.Unix(),
		"tid":   p.TenantID,
		"oid":   p.ObjectID,
		"sub":   p.ObjectID,
		"appid": appid,
		"azp":   appid,
		"ver":   "1.0",
		"uti":   newGUID(),
	}
	if p.Kind == "cli" {
		claims["upn"] = "developer@azuresim.test"
		claims["idtyp"] = "user"
	} else {
		claims["idtyp"] = "app"
	}
	tok, err = s.sign(s.entraKey, claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign Entra token: %w", err)
	}
	s.mu.Lock()
	s.issued[tok] = true
	s.mu.Unlock()
	return tok, exp, nil
}

// IssueEntraToken is an Entra access token for p and resource, as the
// token endpoint or IMDS would issue it: for fakes of other token
// services (a managed identity endpoint) in unit tests.
func (s *Sim) IssueEntraToken(p Principal, resource string) (string, error) {
	tok, _, err := s.mintEntraToken(p, resource)
	return tok, err
}

// EntraTokenClaims checks that the simulated Entra signed tok and that it
// has not expired, and returns its claims (tid, appid, aud, ...).
func (s *Sim) EntraTokenClaims(tok string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != s.entraKey.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.entraKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// unverifiedClaims decodes a JWT's claims without checking anything, to
// tell a certificate assertion from a federated one.
func unverifiedClaims(tok string) (jwt.MapClaims, bool) {
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		return nil, false
	}
	return c, true
}

// verifyEntraToken checks an Entra token's signature and expiry and finds
// its principal.
func (s *Sim) verifyEntraToken(tok string) (Principal, jwt.MapClaims, error) {
	claims, err := s.EntraTokenClaims(tok)
	if err != nil {
		return Principal{}, nil, err
	}
	oid, _ := claims["oid"].(string)
	s.mu.Lock()
	p, ok := s.principals[oid]
	s.mu.Unlock()
	if !ok {
		return Principal{}, nil, fmt.Errorf("unknown object id %q", oid)
	}
	return p, claims, nil
}

// FederatedToken makes a token from the simulated OIDC issuer for subject,
// with the audience Entra expects: what a Kubernetes service account token
// projected for workload identity is.
func (s *Sim) FederatedToken(subject string, lifetime time.Duration) (string, error) {
	return s.idToken(s.opts.OIDCIssuer, subject, FederatedAudience, lifetime)
}

// idToken makes an ID token of one of the simulated external issuers.
func (s *Sim) idToken(issuer, subject, audience string, lifetime time.Duration) (string, error) {
	now := time.Now()
	return s.sign(s.oidcKey, jwt.MapClaims{
		"iss": issuer,
		"sub": subject,
		"aud": []string{audience},
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(),
		"jti": newGUID(),
	})
}

// verifyCertAssertion checks a client assertion signed with one of the
// app's certificates, as MSAL makes it (PS256 with x5t#S256, or RS256 with
// x5t).
func verifyCertAssertion(assertion, clientID, tokenEndpoint string, certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return errors.New("the application has no certificate credentials")
	}
	var last error
	for _, c := range certs {
		tok, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) { return c.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithExpirationRequired(),
			jwt.WithAudience(tokenEndpoint), jwt.WithIssuer(clientID), jwt.WithSubject(clientID))
		if err == nil {
			err = thumbprintNames(tok.Header, c)
		}
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

// thumbprintNames checks that the assertion's header names the certificate
// it was signed with, as Entra requires: x5t#S256 (SHA-256) or x5t (SHA-1),
// base64 or base64url.
func thumbprintNames(header map[string]any, c *x509.Certificate) error {
	matches := func(got any, sum []byte) bool {
		s, _ := got.(string)
		return s != "" && (s == base64.StdEncoding.EncodeToString(sum) || s == base64.RawURLEncoding.EncodeToString(sum) ||
			s == base64.URLEncoding.EncodeToString(sum))
	}
	s256 := sha256.Sum256(c.Raw)
	s1 := sha1.Sum(c.Raw)
	switch {
	case header["x5t#S256"] != nil:
		if matches(header["x5t#S256"], s256[:]) {
			return nil
		}
		return fmt.Errorf("x5t#S256 %v does not name the registered certificate", header["x5t#S256"])
	case header["x5t"] != nil:
		if matches(header["x5t"], s1[:]) {
			return nil
		}
		return fmt.Errorf("x5t %v does not name the registered certificate", header["x5t"])
	}
	return errors.New("the assertion's header names no certificate (x5t#S256 or x5t)")
}

// mintRefreshToken issues an ACR refresh token with ACR's claims.
func (s *Sim) mintRefreshToken(host string, p Principal, tenant string) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(s.opts.RefreshTokenLifetime).Truncate(time.Second)
	tok, err := s.sign(s.acrKey, jwt.MapClaims{
		"jti":        newGUID(),
		"sub":        p.ObjectID,
		"nbf":        now.Unix(),
		"exp":        exp.Unix(),
		"iat":        now.Unix(),
		"iss":        ACRIssuer,
		"aud":        host,
		"version":    "1.0",
		"rid":        randomHex(16),
		"grant_type": "refresh_token",
		"appid":      p.ClientID,
		"tenant":     tenant,
		"permissions": map[string]any{
			"actions":    []string{"read", "write", "delete", "deleteWrite", "metadata/read", "metadata/write"},
			"notActions": nil,
		},
		"roles": []string{},
	})
	return tok, exp, err
}

// VerifyRefreshToken checks that tok is a refresh token this simulator
// issued for host and that it has not expired, and returns its claims.
func (s *Sim) VerifyRefreshToken(host, tok string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != s.acrKey.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.acrKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience(host), jwt.WithIssuer(ACRIssuer))
	if err != nil {
		return nil, err
	}
	if claims["grant_type"] != "refresh_token" {
		return nil, errors.New("not a refresh token")
	}
	return claims, nil
}

// resourceActions is one entry of a distribution token's `access` claim.
type resourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// parseScope reads a registry scope, "repository:hello:pull,push".
func parseScope(scope string) (resourceActions, bool) {
	first := strings.Index(scope, ":")
	last := strings.LastIndex(scope, ":")
	if first <= 0 || last <= first {
		return resourceActions{}, false
	}
	ra := resourceActions{Type: scope[:first], Name: scope[first+1 : last]}
	for a := range strings.SplitSeq(scope[last+1:], ",") {
		if a != "" {
			ra.Actions = append(ra.Actions, a)
		}
	}
	return ra, true
}

// mintAccessToken issues a registry access token that the distribution
// registry, trusting the ACR key, accepts.
func (s *Sim) mintAccessToken(host, subject string, scopes []string) (string, error) {
	now := time.Now()
	access := []resourceActions{}
	for _, sc := range scopes {
		for one := range strings.FieldsSeq(sc) {
			if ra, ok := parseScope(one); ok {
				access = append(access, ra)
			}
		}
	}
	return s.sign(s.acrKey, jwt.MapClaims{
		"jti":     newGUID(),
		"sub":     subject,
		"nbf":     now.Add(-time.Minute).Unix(),
		"exp":     now.Add(s.opts.AccessTokenLifetime).Unix(),
		"iat":     now.Unix(),
		"iss":     ACRIssuer,
		"aud":     host,
		"version": "1.0",
		"access":  access,
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
