package azuresim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// IMDSHandler serves the instance metadata service's managed identity
// endpoint, as reached at http://169.254.169.254.
func (s *Sim) IMDSHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metadata/identity/oauth2/token", s.serveIMDSToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "azuresim serves only /metadata/identity/oauth2/token"})
	})
	classify := func(r *http.Request) string {
		if r.URL.Path == "/metadata/identity/oauth2/token" {
			if r.Header.Get("Metadata") != "true" {
				// What DefaultAzureCredential sends to learn whether IMDS
				// exists: refused, and no token, so counted apart.
				return EndpointIMDSProbe
			}
			return EndpointIMDS
		}
		return EndpointUnknown
	}
	return s.observe(classify, s.misbehave(classify, mux))
}

func (s *Sim) serveIMDSToken(w http.ResponseWriter, r *http.Request) {
	bad := func(desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": desc})
	}
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "GET only"})
		return
	}
	if r.Header.Get("Metadata") != "true" {
		bad("Required metadata header not specified")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" {
		bad("Required query variable 'api-version' is missing")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		bad("Required query variable 'resource' is missing")
		return
	}
	if q.Get("object_id") != "" || q.Get("msi_res_id") != "" || q.Get("mi_res_id") != "" {
		bad("azuresim knows identities by client_id only")
		return
	}
	s.mu.Lock()
	p, ok := s.managed[q.Get("client_id")]
	s.mu.Unlock()
	if !ok {
		bad("Identity not found")
		return
	}
	tok, exp, err := s.mintEntraToken(p, resource)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": err.Error()})
		return
	}
	now := time.Now()
	life := strconv.FormatInt(int64(exp.Sub(now).Seconds()), 10)
	clientID := p.ClientID
	if clientID == "" {
		clientID = p.ObjectID
	}
	// IMDS answers numbers as strings.
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":   tok,
		"client_id":      clientID,
		"expires_in":     life,
		"expires_on":     strconv.FormatInt(exp.Unix(), 10),
		"ext_expires_in": life,
		"not_before":     strconv.FormatInt(now.Unix(), 10),
		"resource":       resource,
		"token_type":     "Bearer",
	})
}

func (s *Sim) isAuthority(host string) bool {
	for _, h := range s.opts.AuthorityHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

func classifyEntra(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/common/discovery/instance":
		return EndpointDiscovery
	case strings.HasSuffix(p, "/.well-known/openid-configuration"):
		return EndpointOpenID
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		return EndpointEntraToken
	}
	return EndpointUnknown
}

// serveEntra answers what azidentity's confidential-client flows need:
// instance discovery, the tenant's OpenID configuration and the v2.0 token
// endpoint (client secret and client assertion).
func (s *Sim) serveEntra(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	base := entraBase(r)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch classifyEntra(r) {
	case EndpointDiscovery:
		tenant := "common"
		if ae, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
			if seg := strings.Split(strings.Trim(ae.Path, "/"), "/"); len(seg) > 0 && seg[0] != "" {
				tenant = seg[0]
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"tenant_discovery_endpoint": base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata": []map[string]any{{
				"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
			}},
		})
	case EndpointOpenID:
		tenant := parts[0]
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        base + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/" + tenant + "/oauth2/v2.0/devicecode",
			"issuer":                                base + "/" + tenant + "/v2.0",
			"jwks_uri":                              base + "/" + tenant + "/discovery/v2.0/keys",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"tenant_region_scope":                   "WW",
			"cloud_instance_name":                   "microsoftonline.com",
		})
	case EndpointEntraToken:
		s.serveEntraToken(w, r, parts[0])
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "azuresim Entra does not serve " + r.URL.Path})
	}
}

// entraBase is the authority's URL as the client reached it: the port
// stays, for a simulator served on a loopback port in unit tests.
func entraBase(r *http.Request) string {
	return "https://" + strings.ToLower(r.Host)
}

// aadError answers as Entra does: the description ends with the trace and
// correlation IDs and a timestamp, on lines of their own.
func aadError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace, correlation := newGUID(), newGUID()
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, trace, correlation, now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          trace,
		"correlation_id":    correlation,
	})
}

func (s *Sim) serveEntraToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body is not a form.")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("azuresim supports grant_type client_credentials only, not %q.", gt))
		return
	}
	clientID := f.Get("client_id")
	req := EntraTokenRequest{Tenant: tenant, ClientID: clientID, Scope: f.Get("scope")}
	switch {
	case f.Get("client_secret") != "":
		req.Auth = "secret"
	case f.Get("client_assertion") != "":
		req.Auth, req.Assertion = "assertion", f.Get("client_assertion")
		if c, ok := unverifiedClaims(req.Assertion); ok && c["iss"] == clientID {
			req.Auth = "certificate"
		}
	}
	s.mu.Lock()
	s.tokenReqs = append(s.tokenReqs, req)
	app, ok := s.apps[clientID]
	p, _ := s.appPrincipal(clientID)
	s.mu.Unlock()
	if !ok {
		aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID))
		return
	}
	if tenant != app.TenantID {
		aadError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	}
	if fail := app.Fail; fail != nil {
		aadError(w, fail.Status, fail.Error, fail.Code, fail.Text)
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if app.Secret == "" || f.Get("client_secret") != app.Secret {
			aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
			return
		}
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			aadError(w, http.StatusBadRequest, "invalid_request", 50027, "Invalid client_assertion_type.")
			return
		}
		assertion := f.Get("client_assertion")
		unverified := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(assertion, unverified); err != nil {
			aadError(w, http.StatusBadRequest, "invalid_client", 700211, "Invalid client assertion: "+err.Error())
			return
		}
		if unverified["iss"] == clientID {
			endpoint := entraBase(r) + "/" + tenant + "/oauth2/v2.0/token"
			if err := verifyCertAssertion(assertion, clientID, endpoint, app.Certificates); err != nil {
				aadError(w, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: "+err.Error())
				return
			}
			break
		}
		var iss, sub string
		var aud []string
		if app.AcceptAssertion != nil {
			// A unit test's own judge, for fakes that sign their own tokens.
			iss, _ = unverified["iss"].(string)
			sub, _ = unverified["sub"].(string)
			if !app.AcceptAssertion(assertion) {
				s.recordAssertion(Assertion{ClientID: clientID, Tenant: tenant, Issuer: iss, Subject: sub, Error: "AADSTS70021"})
				aadError(w, http.StatusBadRequest, "invalid_request", 70021, noFederatedMatch(iss, sub, nil))
				return
			}
		} else {
			var err error
			iss, sub, aud, err = s.federatedAssertion(assertion)
			if err != nil {
				s.recordAssertion(Assertion{ClientID: clientID, Tenant: tenant, Error: "AADSTS700211"})
				aadError(w, http.StatusBadRequest, "invalid_client", 700211, "Invalid client assertion: "+err.Error())
				return
			}
			if !federatedMatch(app, iss, sub, aud) {
				s.recordAssertion(Assertion{ClientID: clientID, Tenant: tenant, Issuer: iss, Subject: sub, Audiences: aud, Error: "AADSTS70021"})
				aadError(w, http.StatusBadRequest, "invalid_request", 70021, noFederatedMatch(iss, sub, aud))
				return
			}
		}
		s.recordAssertion(Assertion{ClientID: clientID, Tenant: tenant, Issuer: iss, Subject: sub, Audiences: aud})
	default:
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	scope := f.Get("scope")
	var resource string
	for sc := range strings.FieldsSeq(scope) {
		if strings.HasSuffix(sc, "/.default") {
			resource = sc
		}
	}
	if resource == "" {
		aadError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", scope))
		return
	}
	tok, exp, err := s.mintEntraToken(p, resource)
	if err != nil {
		aadError(w, http.StatusInternalServerError, "server_error", 500011, err.Error())
		return
	}
	life := int64(time.Until(exp).Seconds())
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     life,
		"ext_expires_in": life,
		"access_token":   tok,
	})
}

// AzCLIToken is what `az account get-access-token -o json` prints.
type AzCLIToken struct {
	AccessToken  string `json:"accessToken"`
	ExpiresOn    string `json:"expiresOn"`
	ExpiresOnInt int64  `json:"expires_on"`
	Subscription string `json:"subscription"`
	Tenant       string `json:"tenant"`
	TokenType    string `json:"tokenType"`
}

// CLIToken gives the fake Azure CLI a token for its logged-in user, for
// resource (or scope), in tenant (empty: the user's home tenant).
func (s *Sim) CLIToken(resource, tenant string) (AzCLIToken, error) {
	s.record(Request{Host: "az", Endpoint: EndpointAz, Status: http.StatusOK})
	if tenant != "" && tenant != s.cliUser.TenantID {
		return AzCLIToken{}, fmt.Errorf("ERROR: AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud", tenant)
	}
	tok, exp, err := s.mintEntraToken(s.cliUser, resource)
	if err != nil {
		return AzCLIToken{}, err
	}
	return AzCLIToken{
		AccessToken:  tok,
		ExpiresOn:    exp.Local().Format("2006-01-02 15:04:05.000000"),
		ExpiresOnInt: exp.Unix(),
		Subscription: "00000000-1111-2222-3333-444444444444",
		Tenant:       s.cliUser.TenantID,
		TokenType:    "Bearer",
	}, nil
}
