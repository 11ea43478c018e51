// Package fakeentra is a TLS fake of Microsoft Entra ID for tests: the
// OpenID configuration and token endpoints that azidentity's
// client-credential flows use (secret, certificate assertion, federated
// assertion), with Entra's error shapes (AADSTS codes). Tokens it issues are
// RS256 JWTs naming the application they were issued to, so tests can
// assert which identity the code under test authenticated as.
package fakeentra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// App is an application registration (or a managed identity used with
// federation) in a tenant, and the credentials it accepts.
type App struct {
	Tenant   string
	ClientID string
	// Secret, when set, is accepted as client_secret.
	Secret string
	// Cert, when set, is the certificate whose key must sign a client
	// assertion (PS256, x5t#S256 header, aud the token endpoint).
	Cert *x509.Certificate
	// Federated, when set, decides whether a client assertion that is not a
	// certificate assertion matches one of the app's federated credentials.
	Federated func(assertion string) bool
	// Fail, when set, is the error every token request for this app gets.
	Fail *Failure
}

// Failure is an Entra error answer.
type Failure struct {
	Status int    // e.g. 400
	Error  string // e.g. "invalid_resource"
	Code   int    // e.g. 500011 (AADSTS500011)
	Text   string // the description after "AADSTSnnn: "
}

// Request is one token request the server received.
type Request struct {
	Tenant, ClientID, Scope string
	// Auth is "secret", "certificate" or "assertion".
	Auth string
	// Assertion is the client assertion, for tests that check what was
	// presented.
	Assertion string
}

// Claims are what a test reads back from an issued token.
type Claims struct {
	Tenant, ClientID, Audience, Issuer string
	ExpiresAt                          time.Time
}

// Server is the fake.
type Server struct {
	srv *httptest.Server
	key *rsa.PrivateKey

	mu       sync.Mutex
	apps     map[string]App // tenant + "/" + client ID
	tenants  map[string]bool
	requests []Request
}

// New starts a fake on loopback; it stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{key: key, apps: map[string]App{}, tenants: map[string]bool{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// AuthorityHost is the fake's authority, to use as AZURE_AUTHORITY_HOST.
func (s *Server) AuthorityHost() string { return s.srv.URL + "/" }

// Client trusts the fake's certificate. httptest TLS servers share one
// certificate, so it also trusts other httptest TLS servers.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AddApp registers an application; its tenant becomes known.
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.Tenant+"/"+a.ClientID] = a
	s.tenants[a.Tenant] = true
}

// Requests returns the token requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Issue makes a token as the fake would issue it, e.g. for a fake IMDS.
func (s *Server) Issue(tenant, clientID, resource string, lifetime time.Duration) string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud":   resource,
		"iss":   "https://sts.windows.net/" + tenant + "/",
		"tid":   tenant,
		"appid": clientID,
		"azp":   clientID,
		"oid":   "oid-" + clientID,
		"sub":   "oid-" + clientID,
		"idtyp": "app",
		"ver":   "1.0",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(lifetime).Unix(),
	})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		panic(err)
	}
	return signed
}

// Parse verifies a token the fake issued and returns its claims.
func (s *Server) Parse(token string) (Claims, error) {
	var mc jwt.MapClaims
	_, err := jwt.ParseWithClaims(token, &mc, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		return Claims{}, err
	}
	str := func(k string) string { v, _ := mc[k].(string); return v }
	exp, _ := mc.GetExpirationTime()
	c := Claims{Tenant: str("tid"), ClientID: str("appid"), Audience: str("aud"), Issuer: str("iss")}
	if exp != nil {
		c.ExpiresAt = exp.Time
	}
	return c, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant, rest := parts[0], strings.Join(parts[1:], "/")
	switch {
	case r.Method == http.MethodGet && rest == "v2.0/.well-known/openid-configuration":
		s.openIDConfig(w, tenant)
	case r.Method == http.MethodPost && rest == "oauth2/v2.0/token":
		s.token(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) knownTenant(t string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[t]
}

func (s *Server) openIDConfig(w http.ResponseWriter, tenant string) {
	if !s.knownTenant(tenant) {
		writeError(w, Failure{Status: 400, Error: "invalid_tenant", Code: 90002,
			Text: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)})
		return
	}
	base := s.srv.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, Failure{Status: 400, Error: "invalid_request", Code: 900144, Text: "The request body must contain the following parameter: 'grant_type'."})
		return
	}
	f := r.PostForm
	req := Request{Tenant: tenant, ClientID: f.Get("client_id"), Scope: f.Get("scope")}
	switch {
	case f.Get("client_secret") != "":
		req.Auth = "secret"
	case f.Get("client_assertion") != "":
		req.Auth, req.Assertion = "assertion", f.Get("client_assertion")
	}
	s.mu.Lock()
	app, appOK := s.apps[tenant+"/"+req.ClientID]
	tenantOK := s.tenants[tenant]
	s.mu.Unlock()
	if app.Cert != nil && req.Auth == "assertion" {
		req.Auth = "certificate"
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	switch {
	case !tenantOK:
		writeError(w, Failure{Status: 400, Error: "invalid_tenant", Code: 90002, Text: fmt.Sprintf("Tenant '%s' not found.", tenant)})
		return
	case f.Get("grant_type") != "client_credentials":
		writeError(w, Failure{Status: 400, Error: "unsupported_grant_type", Code: 70003, Text: "The app requested an unsupported grant type."})
		return
	case !appOK:
		writeError(w, Failure{Status: 400, Error: "unauthorized_client", Code: 700016,
			Text: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", req.ClientID, tenant)})
		return
	case app.Fail != nil:
		writeError(w, *app.Fail)
		return
	}
	switch req.Auth {
	case "secret":
		if app.Secret == "" || f.Get("client_secret") != app.Secret {
			writeError(w, Failure{Status: 401, Error: "invalid_client", Code: 7000215, Text: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + app.ClientID + "'."})
			return
		}
	case "certificate":
		if err := s.checkCertAssertion(app, req.Assertion, s.srv.URL+"/"+tenant+"/oauth2/v2.0/token"); err != nil {
			writeError(w, Failure{Status: 401, Error: "invalid_client", Code: 700027, Text: "Client assertion failed signature validation: " + err.Error()})
			return
		}
	case "assertion":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			writeError(w, Failure{Status: 400, Error: "invalid_request", Code: 50027, Text: "Invalid client_assertion_type."})
			return
		}
		if app.Federated == nil || !app.Federated(req.Assertion) {
			writeError(w, Failure{Status: 400, Error: "invalid_client", Code: 70021, Text: "No matching federated identity record found for presented assertion."})
			return
		}
	default:
		writeError(w, Failure{Status: 401, Error: "invalid_client", Code: 7000218, Text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."})
		return
	}
	resource := strings.TrimSuffix(strings.Fields(req.Scope + " x")[0], "/.default")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   s.Issue(tenant, app.ClientID, resource, time.Hour),
	})
}

func (s *Server) checkCertAssertion(app App, assertion, tokenEndpoint string) error {
	var mc jwt.MapClaims
	tok, err := jwt.ParseWithClaims(assertion, &mc, func(*jwt.Token) (any, error) { return app.Cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithAudience(tokenEndpoint), jwt.WithIssuer(app.ClientID), jwt.WithExpirationRequired())
	if err != nil {
		return err
	}
	if sub, _ := mc.GetSubject(); sub != app.ClientID {
		return fmt.Errorf("sub %q is not the client ID", sub)
	}
	sum := sha256.Sum256(app.Cert.Raw)
	if got, _ := tok.Header["x5t#S256"].(string); got != base64.StdEncoding.EncodeToString(sum[:]) && got != base64.RawURLEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("x5t#S256 %q does not name the registered certificate", got)
	}
	return nil
}

func writeError(w http.ResponseWriter, f Failure) {
	writeJSON(w, f.Status, map[string]any{
		"error": f.Error,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: 0000aaaa-11bb-cccc-dd22-eeeeee444444\r\nTimestamp: %s",
			f.Code, f.Text, time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{f.Code},
		"timestamp":      time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":       "0000aaaa-11bb-cccc-dd22-eeeeee333333",
		"correlation_id": "0000aaaa-11bb-cccc-dd22-eeeeee444444",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
