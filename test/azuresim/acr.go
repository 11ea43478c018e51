package azuresim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// zeroGUID is the user name ACR expects with a refresh token as password.
const zeroGUID = "00000000-0000-0000-0000-000000000000"

// Handler serves everything reached over TLS: Entra on its authority
// hosts, the ACR front on each registry host. Any other host is recorded
// as "unknown" and refused, so a request to a look-alike host is seen.
func (s *Sim) Handler() http.Handler {
	return s.observe(s.classify, s.misbehave(s.classify, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		switch {
		case s.isAuthority(host):
			w.Header().Set(HeaderEntraRequestID, newGUID())
			s.serveEntra(w, r)
		case host == GitHubTokenHost || host == PipelinesHost:
			s.serveCI(w, r, host)
		case s.registry(host) != nil:
			w.Header().Set(HeaderACRCorrelationID, newGUID())
			s.serveACR(w, r, host)
		default:
			http.Error(w, "azuresim: no such host "+host, http.StatusMisdirectedRequest)
		}
	})))
}

func (s *Sim) registry(host string) *registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registries[host]
}

func (s *Sim) classify(r *http.Request) string {
	host := hostOnly(r.Host)
	switch {
	case s.isAuthority(host):
		return classifyEntra(r)
	case host == GitHubTokenHost:
		return EndpointGitHubOIDC
	case host == PipelinesHost:
		return EndpointPipelines
	case s.registry(host) != nil:
		switch r.URL.Path {
		case "/oauth2/exchange":
			return EndpointExchange
		case "/oauth2/token":
			return EndpointACRToken
		case "/v2/", "/v2":
			if r.Header.Get("Authorization") == "" {
				return EndpointChallenge
			}
		}
		return EndpointProxy
	}
	return EndpointUnknown
}

// acrError writes ACR's error body.
func acrError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "detail": nil}}})
}

// challenge names the realm on the host and port the client reached, so
// that a registry served on a test port (127.0.0.1:port in unit tests) names
// itself; service is the registry's host name, as ACR's is.
func (s *Sim) challenge(w http.ResponseWriter, r *http.Request, host string) {
	realm := host
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "443" {
		realm = net.JoinHostPort(host, port)
	}
	w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, realm, host))
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
}

func (s *Sim) serveACR(w http.ResponseWriter, r *http.Request, host string) {
	switch s.classify(r) {
	case EndpointChallenge:
		s.challenge(w, r, host)
	case EndpointExchange:
		s.serveExchange(w, r, host)
	case EndpointACRToken:
		s.serveACRToken(w, r, host)
	default:
		reg := s.registry(host)
		s.mu.Lock()
		proxy := reg.proxy
		s.mu.Unlock()
		if proxy != nil {
			proxy.ServeHTTP(w, r)
			return
		}
		s.serveStandalone(w, r, host)
	}
}

// serveStandalone stands in for the registry when none is attached: /v2/
// with a valid access token answers 200, everything else is unknown.
func (s *Sim) serveStandalone(w http.ResponseWriter, r *http.Request, host string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || s.verifyAccessToken(host, tok) != nil {
		s.challenge(w, r, host)
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no registry attached to azuresim for "+host)
}

func (s *Sim) verifyAccessToken(host, tok string) error {
	_, err := jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != s.acrKey.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.acrKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience(host), jwt.WithIssuer(ACRIssuer))
	return err
}

func (s *Sim) serveExchange(w http.ResponseWriter, r *http.Request, host string) {
	ex := Exchange{Host: host}
	fail := func(status int, code, msg string) {
		ex.Status, ex.Error = status, msg
		s.recordExchange(ex)
		acrError(w, status, code, msg)
	}
	if r.Method != http.MethodPost {
		// ACR answers a GET of the exchange with 404.
		fail(http.StatusNotFound, "NOT_FOUND", "404 page not found")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "BAD_REQUEST", "the request body is not a form")
		return
	}
	f := r.PostForm
	ex.Tenant = f.Get("tenant")
	if gt := f.Get("grant_type"); gt != "access_token" {
		fail(http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("grant_type %q is not supported; use access_token", gt))
		return
	}
	if svc := f.Get("service"); svc != host {
		fail(http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q does not match the registry %s", svc, host))
		return
	}
	p, claims, err := s.verifyEntraToken(f.Get("access_token"))
	if err != nil {
		fail(http.StatusUnauthorized, "UNAUTHORIZED", "invalid AAD access token: "+err.Error())
		return
	}
	ex.Identity = p.String()
	aud, _ := claims["aud"].(string)
	ex.Audience = aud
	reg := s.registry(host)
	s.mu.Lock()
	allowARM := reg.allowARM
	s.mu.Unlock()
	switch resourceOf(aud) {
	case ACRAudience:
	case ARMAudience:
		if !allowARM {
			fail(http.StatusUnauthorized, "UNAUTHORIZED", "arm aad token disallowed")
			return
		}
	default:
		fail(http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("the access token's audience %q is not valid for this registry", aud))
		return
	}
	tid, _ := claims["tid"].(string)
	if ex.Tenant != "" && ex.Tenant != tid {
		fail(http.StatusUnauthorized, "UNAUTHORIZED", fmt.Sprintf("the access token's tenant %s does not match the tenant %s", tid, ex.Tenant))
		return
	}
	rt, exp, err := s.mintRefreshToken(host, p, tid)
	if err != nil {
		fail(http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	ex.Status, ex.RefreshExpires = http.StatusOK, exp
	s.recordExchange(ex)
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": rt})
}

// serveACRToken issues access tokens from a refresh token: by POST
// grant_type=refresh_token (docker, crane, skopeo, podman, buildah with an
// identity token) or by GET with Basic zero-GUID:<refresh token>.
func (s *Sim) serveACRToken(w http.ResponseWriter, r *http.Request, host string) {
	var refresh, service string
	var scopes []string
	switch r.Method {
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			acrError(w, http.StatusBadRequest, "BAD_REQUEST", "the request body is not a form")
			return
		}
		f := r.PostForm
		if gt := f.Get("grant_type"); gt != "refresh_token" {
			acrError(w, http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("grant_type %q is not supported by azuresim", gt))
			return
		}
		refresh, service, scopes = f.Get("refresh_token"), f.Get("service"), f["scope"]
	case http.MethodGet:
		user, pass, ok := basicAuth(r)
		if !ok {
			s.challenge(w, r, host)
			return
		}
		if user != zeroGUID {
			acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "azuresim accepts only the zero GUID user with a refresh token")
			return
		}
		q := r.URL.Query()
		refresh, service, scopes = pass, q.Get("service"), q["scope"]
	default:
		acrError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "GET or POST")
		return
	}
	if service != host {
		acrError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("service %q does not match the registry %s", service, host))
		return
	}
	claims, err := s.VerifyRefreshToken(host, refresh)
	if err != nil {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid refresh token: "+err.Error())
		return
	}
	sub, _ := claims["sub"].(string)
	at, err := s.mintAccessToken(host, sub, scopes)
	if err != nil {
		acrError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": at})
}

func basicAuth(r *http.Request) (user, pass string, ok bool) {
	v, found := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	if !found {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}

// newProxy passes requests to the registry keeping the public Host, so
// that the registry's own challenges and redirects name the login server.
func newProxy(u *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
		},
		FlushInterval: -1,
	}
}
