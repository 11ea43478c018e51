package acr

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestExchangeErrors: each failing answer gets its Kind, the facts, and a
// hint.
func TestExchangeErrors(t *testing.T) {
	fx := newFixtures(t)
	entra, refresh := fx.entra, fx.refresh
	runExchangeCases(t, fx, []exchangeCase{
		{
			name:     "401 arm aad token disallowed",
			exchange: acrError(401, "UNAUTHORIZED", "arm aad token disallowed"),
			wantKind: KindARMAudienceDisallowed,
			wantErr:  []string{"exchange at 127.0.0.1:", `registry answered 401 UNAUTHORIZED "arm aad token disallowed"`, "ARM-audience", "use the ACR audience"},
			// The settings to change are the front end's to name: see
			// credhelper's TestExchangeAdvice.
		},
		{
			name:     "401 with ACR error body",
			exchange: acrError(401, "UNAUTHORIZED", "aad token is invalid"),
			wantKind: KindUnauthorized,
			wantErr:  []string{`401 UNAUTHORIZED "aad token is invalid"`, "AcrPull", "tenant sent: " + testTenant},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.Tenant != testTenant || xe.Code != "UNAUTHORIZED" || xe.Message != "aad token is invalid" || xe.StatusCode != 401 || xe.Step != "exchange" {
					t.Fatalf("error facts = %+v", xe)
				}
			},
			check: func(t *testing.T, e env) {
				if n := e.f.count("/oauth2/exchange"); n != 1 {
					t.Fatalf("401 was tried %d times, want 1 (4xx is not retried)", n)
				}
			},
		},
		{
			name:     "401 echoing the tokens is redacted",
			exchange: acrError(401, "UNAUTHORIZED", "bad token "+entra+" not "+refresh+" nor "+strings.Split(entra, ".")[2]),
			wantKind: KindUnauthorized,
			wantErr:  []string{"[redacted]"},
		},
		{
			name:     "401 without a body",
			exchange: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(401) },
			wantKind: KindUnauthorized,
			wantErr:  []string{"registry answered 401 Unauthorized: the identity may lack"},
		},
		{
			name:     "403 firewall",
			exchange: acrError(403, "DENIED", "client with IP 203.0.113.9 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."),
			wantKind: KindFirewall,
			wantErr:  []string{"403 DENIED", "network rules"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.ClientIP != "203.0.113.9" {
					t.Fatalf("ClientIP = %q, want 203.0.113.9", xe.ClientIP)
				}
			},
		},
		{
			name:     "403 permissions",
			exchange: acrError(403, "DENIED", "retrieving permissions failed"),
			wantKind: KindForbidden,
			wantErr:  []string{"role assignment"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.ClientIP != "" {
					t.Fatalf("ClientIP = %q, want none", xe.ClientIP)
				}
			},
		},
		{
			name:     "404 on exchange",
			exchange: func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) },
			wantKind: KindNotFound,
			wantErr:  []string{"registry answered 404 Not Found (body: \"404 page not found\")", "Microsoft Entra authentication"},
		},
		{
			name:     "400 unexpected",
			exchange: acrError(400, "UNSUPPORTED", "grant type not supported"),
			wantKind: KindUnexpectedStatus,
			wantErr:  []string{`400 UNSUPPORTED "grant type not supported"`},
		},
		{
			name:      "no realm",
			challenge: challengeWith(`Bearer service="myreg.azurecr.io"`),
			wantKind:  KindNoChallenge,
			wantErr:   []string{"has no realm"},
		},
		{
			name: "conflicting Bearer challenges",
			setup: func(e env, _ *Options) {
				e.f.challenge = challengeWith(fmt.Sprintf(`Bearer realm="https://%s/oauth2/token", Bearer realm="https://%s/oauth2/token"`, e.f.host, e.other.host))
			},
			wantKind: KindNoChallenge,
			wantErr:  []string{"conflicting"},
		},
		{
			name:      "malformed challenge",
			challenge: challengeWith(`Bearer realm="https://x`),
			wantKind:  KindNoChallenge,
			wantErr:   []string{"malformed WWW-Authenticate header: unterminated quoted string"},
		},
		{
			name:      "Basic only",
			challenge: challengeWith(`Basic realm="registry"`),
			wantKind:  KindNoChallenge,
			wantErr:   []string{"without a Bearer challenge (schemes offered: basic)"},
		},
		{
			name:      "no challenge header",
			challenge: func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(401) },
			wantKind:  KindNoChallenge,
			wantErr:   []string{"schemes offered: none"},
		},
		{
			name:      "anonymous registry",
			challenge: func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, "{}") },
			wantKind:  KindNoChallenge,
			wantErr:   []string{"registry answered 200 to an anonymous GET /v2/", "no token to exchange"},
		},
		{
			name:      "404 on /v2/",
			challenge: func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) },
			wantKind:  KindNotFound,
			wantErr:   []string{"challenge at", "no /v2/ endpoint"},
		},
		{
			name: "connection refused",
			loginServer: func(env) string {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					panic(err)
				}
				addr := l.Addr().String()
				l.Close()
				return addr
			},
			wantKind: KindNetwork,
			wantErr:  []string{"challenge at 127.0.0.1:", "GET /v2/ failed", "could not connect"},
		},
		{
			name: "DNS failure",
			setup: func(e env, o *Options) {
				o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
				})}
			},
			loginServer: func(env) string { return "myreg.azurecr.io" },
			wantKind:    KindNetwork,
			wantErr:     []string{"DNS lookup of myreg.azurecr.io failed", "private DNS zone"},
		},
		{
			name:     "untrusted certificate with the default client",
			setup:    func(e env, o *Options) { o.HTTPClient = nil },
			wantKind: KindNetwork,
			wantErr:  []string{"TLS certificate is not trusted", "SSL_CERT_FILE"},
		},
		{
			name:        "login server with a scheme",
			loginServer: func(e env) string { return "https://" + e.f.host },
			wantKind:    KindInvalidInput,
			wantErr:     []string{"is not a host or host:port"},
		},
		{
			name:        "login server with user info",
			loginServer: func(e env) string { return "u@" + e.f.host },
			wantKind:    KindInvalidInput,
		},
		{
			name:        "login server with a path",
			loginServer: func(e env) string { return e.f.host + "/v2" },
			wantKind:    KindInvalidInput,
		},
		{
			name:        "empty login server",
			loginServer: func(env) string { return "" },
			wantKind:    KindInvalidInput,
		},
		{
			name:        "login server with a bad port",
			loginServer: func(env) string { return "myreg.azurecr.io:https" },
			wantKind:    KindInvalidInput,
		}})
}

// TestErrorThroughWrapping: embedders find the Kind with errors.As, through
// any wrapping; text that merely looks like a refusal is not an *Error.
func TestErrorThroughWrapping(t *testing.T) {
	tests := []struct {
		err  error
		want Kind // 0: not an *Error
	}{
		{nil, 0},
		{errors.New("401 arm aad token disallowed"), 0},
		{&Error{Kind: KindUnauthorized}, KindUnauthorized},
		{&Error{Kind: KindARMAudienceDisallowed}, KindARMAudienceDisallowed},
		{fmt.Errorf("wrapped: %w", &Error{Kind: KindARMAudienceDisallowed}), KindARMAudienceDisallowed},
	}
	for _, tt := range tests {
		var xe *Error
		got := Kind(0)
		if errors.As(tt.err, &xe) {
			got = xe.Kind
		}
		if got != tt.want {
			t.Errorf("errors.As(%v) kind = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := KindInvalidInput; k <= KindNetwork; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Errorf("Kind %d has no name", int(k))
		}
	}
	if s := Kind(99).String(); s != "Kind(99)" {
		t.Errorf("Kind(99).String() = %q", s)
	}
}

func TestFirewallClientIP(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{"client with IP 203.0.113.9 is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", "203.0.113.9"},
		// ACR quotes the address (FIELD-NOTES §9).
		{"client with IP '2001:db8::1' is not allowed access", "2001:db8::1"},
		{"client with IP '203.0.113.9' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", "203.0.113.9"},
		{"client with IP 2001:db8::1 is not allowed access", "2001:db8::1"},
		{"not allowed access", ""},
		{"client with IP 999.1.1.1 is not allowed access", ""},
	} {
		if got := firewallClientIP(tt.msg); got != tt.want {
			t.Errorf("firewallClientIP(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}
