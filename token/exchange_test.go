package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// fakeACR is an httptest TLS server that answers like ACR's /v2/ and
// /oauth2/exchange, records what it receives, and notices any request that
// carries the Entra token.
type fakeACR struct {
	srv  *httptest.Server
	host string // 127.0.0.1:port, the login server in tests
	done chan struct{}

	secret string // the Entra token to watch for

	// challenge and exchange override the default answers; n counts
	// requests to that path, from 1.
	challenge func(w http.ResponseWriter, r *http.Request, n int)
	exchange  func(w http.ResponseWriter, r *http.Request, n int)

	mu       sync.Mutex
	hits     map[string]int
	forms    []url.Values
	sawToken int
}

func newFakeACR(t *testing.T, secret, refresh string) *fakeACR {
	t.Helper()
	f := &fakeACR{done: make(chan struct{}), secret: secret, hits: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		if strings.Contains(string(body), f.secret) || strings.Contains(r.URL.String(), f.secret) || strings.Contains(fmt.Sprint(r.Header), f.secret) {
			f.sawToken++
		}
		f.hits[r.URL.Path]++
		n := f.hits[r.URL.Path]
		f.mu.Unlock()

		switch r.URL.Path {
		case "/v2/":
			if f.challenge != nil {
				f.challenge(w, r, n)
				return
			}
			f.standardChallenge(w)
		case "/oauth2/exchange":
			if r.Method != http.MethodPost {
				http.NotFound(w, r)
				return
			}
			if err := r.ParseForm(); err == nil {
				f.mu.Lock()
				f.forms = append(f.forms, r.PostForm)
				f.mu.Unlock()
			}
			if f.exchange != nil {
				f.exchange(w, r, n)
				return
			}
			fmt.Fprintf(w, `{"refresh_token":%q}`, refresh)
		default:
			http.NotFound(w, r)
		}
	}))
	// The untrusted-certificate case makes the server log a handshake
	// error; it is expected, not noise worth reading.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	f.host = f.srv.Listener.Addr().String()
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first: unblocks hanging handlers
	return f
}

func (f *fakeACR) standardChallenge(w http.ResponseWriter) {
	w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="myreg.azurecr.io"`, f.host))
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

func (f *fakeACR) challengeWith(header string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Www-Authenticate", header)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// hang blocks until the client goes away or the test ends.
func (f *fakeACR) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.done:
	}
}

func (f *fakeACR) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeACR) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.hits {
		n += v
	}
	return n
}

func (f *fakeACR) tokenSeen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sawToken
}

func acrError(status int, code, msg string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestExchange(t *testing.T) {
	entra := rawJWT(`{"alg":"RS256","typ":"JWT"}`,
		`{"aud":"https://containerregistry.azure.net","tid":"`+testTenant+`","oid":"entra-object-id-4711"}`,
		"ZW50cmEtc2lnbmF0dXJlLXNob3VsZC1uZXZlci1sZWFr")
	refresh := signedJWT(t, jwt.MapClaims{
		"exp": float64(time.Now().Add(3 * time.Hour).Unix()), "iat": float64(time.Now().Unix()),
		"iss": "Azure Container Registry", "aud": "myreg.azurecr.io", "grant_type": "refresh_token",
	})
	noExp := rawJWT(`{"alg":"RS256"}`, `{"iss":"Azure Container Registry","aud":"myreg.azurecr.io"}`, "bm8tZXhwLXNpZ25hdHVyZQ")

	type env struct {
		f, other *fakeACR
	}
	tests := []struct {
		name string
		// setup configures the fakes and may adjust options.
		setup       func(e env, o *ExchangerOptions)
		loginServer func(e env) string // default: e.f.host
		noTenant    bool
		ctx         func() (context.Context, context.CancelFunc)

		want     string // refresh token on success
		wantKind ExchangeErrorKind
		wantErr  []string        // substrings of the error text
		wantIs   error           // errors.Is target
		waits    []time.Duration // retry waits asked for
		check    func(t *testing.T, e env)
	}{
		{
			name: "success with tenant",
			want: refresh,
			check: func(t *testing.T, e env) {
				if n := len(e.f.forms); n != 1 {
					t.Fatalf("%d exchange forms, want 1", n)
				}
				got := e.f.forms[0]
				want := url.Values{"grant_type": {"access_token"}, "service": {"myreg.azurecr.io"}, "access_token": {entra}, "tenant": {testTenant}}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("form = %v, want %v", got, want)
				}
			},
		},
		{
			name:     "success without tenant",
			noTenant: true,
			want:     refresh,
			check: func(t *testing.T, e env) {
				if _, ok := e.f.forms[0]["tenant"]; ok {
					t.Fatalf("tenant sent although empty: %v", e.f.forms[0])
				}
			},
		},
		{
			name: "challenge without service falls back to the login server",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(fmt.Sprintf(`Bearer realm="https://%s/oauth2/token"`, e.f.host))
			},
			want: refresh,
			check: func(t *testing.T, e env) {
				if got := e.f.forms[0].Get("service"); got != e.f.host {
					t.Fatalf("service = %q, want %q", got, e.f.host)
				}
			},
		},
		{
			name: "challenge among others, unquoted and reordered",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, _ *http.Request, _ int) {
					w.Header().Add("Www-Authenticate", `Basic realm="x"`)
					w.Header().Add("Www-Authenticate", fmt.Sprintf(`Negotiate abc==, BEARER service=svc.example, Realm="https://%s/oauth2/token"`, strings.ToUpper(e.f.host)))
					w.WriteHeader(http.StatusUnauthorized)
				}
			},
			want: refresh,
			check: func(t *testing.T, e env) {
				if got := e.f.forms[0].Get("service"); got != "svc.example" {
					t.Fatalf("service = %q, want svc.example", got)
				}
			},
		},
		{
			name: "token without exp is still returned",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprintf(w, `{"refresh_token":%q}`, noExp) }
			},
			want: noExp,
		},
		{
			name: "401 arm aad token disallowed",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = acrError(401, "UNAUTHORIZED", "arm aad token disallowed")
			},
			wantKind: ExchangeARMAudienceDisallowed,
			wantErr:  []string{"exchange at 127.0.0.1:", `registry answered 401 UNAUTHORIZED "arm aad token disallowed"`, "ARM-audience", "DOCKER_CREDENTIAL_ACR_AUDIENCE=acr", "audience: acr in the config file", "unset DOCKER_CREDENTIAL_ACR_SCOPE"},
		},
		{
			name:     "401 with ACR error body",
			setup:    func(e env, _ *ExchangerOptions) { e.f.exchange = acrError(401, "UNAUTHORIZED", "aad token is invalid") },
			wantKind: ExchangeUnauthorized,
			wantErr:  []string{`401 UNAUTHORIZED "aad token is invalid"`, "AcrPull", "tenant sent: " + testTenant, "set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file) to the registry's tenant"},
			check: func(t *testing.T, e env) {
				if n := e.f.count("/oauth2/exchange"); n != 1 {
					t.Fatalf("401 was tried %d times, want 1 (4xx is not retried)", n)
				}
			},
		},
		{
			name: "401 echoing the tokens is redacted",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = acrError(401, "UNAUTHORIZED", "bad token "+entra+" not "+refresh+" nor "+strings.Split(entra, ".")[2])
			},
			wantKind: ExchangeUnauthorized,
			wantErr:  []string{"[redacted]"},
		},
		{
			name: "401 without a body",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(401) }
			},
			wantKind: ExchangeUnauthorized,
			wantErr:  []string{"registry answered 401 Unauthorized: the identity may lack"},
		},
		{
			name: "403 firewall",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = acrError(403, "DENIED", "client with IP 203.0.113.9 is not allowed access. Refer https://aka.ms/acr/firewall to grant access.")
			},
			wantKind: ExchangeForbidden,
			wantErr:  []string{"403 DENIED", "network rules"},
		},
		{
			name: "403 permissions",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = acrError(403, "DENIED", "retrieving permissions failed")
			},
			wantKind: ExchangeForbidden,
			wantErr:  []string{"role assignment"},
		},
		{
			name: "404 on exchange",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) }
			},
			wantKind: ExchangeNotFound,
			wantErr:  []string{"registry answered 404 Not Found (body: \"404 page not found\")", "Microsoft Entra authentication"},
		},
		{
			name: "400 unexpected",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = acrError(400, "UNSUPPORTED", "grant type not supported")
			},
			wantKind: ExchangeUnexpectedStatus,
			wantErr:  []string{`400 UNSUPPORTED "grant type not supported"`},
		},
		{
			name: "503 then success",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
					if n == 1 {
						http.Error(w, "busy", http.StatusServiceUnavailable)
						return
					}
					fmt.Fprintf(w, `{"refresh_token":%q}`, refresh)
				}
			},
			want:  refresh,
			waits: []time.Duration{200 * time.Millisecond},
			check: func(t *testing.T, e env) {
				if n := len(e.f.forms); n != 2 {
					t.Fatalf("%d exchanges, want 2", n)
				}
				if e.f.forms[1].Get("access_token") != entra {
					t.Fatal("the retry did not resend the form")
				}
			},
		},
		{
			name:     "503 always",
			setup:    func(e env, _ *ExchangerOptions) { e.f.exchange = acrError(503, "UNAVAILABLE", "try later") },
			wantKind: ExchangeUnavailable,
			wantErr:  []string{`503 UNAVAILABLE "try later"`, "attempts: 3"},
			waits:    []time.Duration{200 * time.Millisecond, 400 * time.Millisecond},
		},
		{
			name: "backoff is capped at 1s",
			setup: func(e env, o *ExchangerOptions) {
				o.MaxRetries, o.RetryBackoff = 3, 800*time.Millisecond
				e.f.exchange = acrError(502, "", "")
			},
			wantKind: ExchangeUnavailable,
			waits:    []time.Duration{800 * time.Millisecond, time.Second, time.Second},
		},
		{
			name: "retries off",
			setup: func(e env, o *ExchangerOptions) {
				o.MaxRetries = -1
				e.f.exchange = acrError(503, "", "")
			},
			wantKind: ExchangeUnavailable,
			wantErr:  []string{"attempts: 1"},
		},
		{
			name: "429 with Retry-After",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
					if n == 1 {
						w.Header().Set("Retry-After", "1")
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					fmt.Fprintf(w, `{"refresh_token":%q}`, refresh)
				}
			},
			want:  refresh,
			waits: []time.Duration{time.Second},
		},
		{
			name: "429 Retry-After is capped",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
					if n == 1 {
						w.Header().Set("Retry-After", "3600")
					} else {
						w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
					}
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			wantKind: ExchangeThrottled,
			wantErr:  []string{"registry answered 429 Too Many Requests", "throttling"},
			waits:    []time.Duration{2 * time.Second, 2 * time.Second},
		},
		{
			name: "500 on /v2/ then challenge",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, _ *http.Request, n int) {
					if n == 1 {
						w.WriteHeader(500)
						return
					}
					e.f.standardChallenge(w)
				}
			},
			want:  refresh,
			waits: []time.Duration{200 * time.Millisecond},
		},
		{
			name: "malformed JSON",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprintf(w, `{"refresh_token":%q`, refresh) }
			},
			wantKind: ExchangeBadResponse,
			wantErr:  []string{"registry answered 200 with a body that is not the expected JSON object"},
		},
		{
			name: "empty refresh_token",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, `{"refresh_token":""}`) }
			},
			wantKind: ExchangeBadResponse,
			wantErr:  []string{"without a refresh_token"},
		},
		{
			name: "no refresh_token",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, `{"access_token":"x"}`) }
			},
			wantKind: ExchangeBadResponse,
			wantErr:  []string{"without a refresh_token"},
		},
		{
			name: "refresh_token with whitespace",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					fmt.Fprintf(w, `{"refresh_token":%q}`, refresh+"\n")
				}
			},
			wantKind: ExchangeBadResponse,
			wantErr:  []string{"characters no token has"},
		},
		{
			name: "oversized body",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					fmt.Fprintf(w, `{"refresh_token":%q,"pad":"%s"}`, refresh, strings.Repeat("a", MaxResponseBytes))
				}
			},
			wantKind: ExchangeBadResponse,
			wantErr:  []string{"larger than 1048576 bytes"},
		},
		{
			name: "oversized error body",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					w.WriteHeader(401)
					fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"%s"}]}`, strings.Repeat("a", MaxResponseBytes))
				}
			},
			wantKind: ExchangeUnauthorized,
			wantErr:  []string{"401 Unauthorized (body larger than 1048576 bytes)"},
		},
		{
			name: "server hangs before answering",
			setup: func(e env, o *ExchangerOptions) {
				o.Timeout = 200 * time.Millisecond
				e.f.exchange = func(_ http.ResponseWriter, r *http.Request, _ int) { e.f.hang(r) }
			},
			wantKind: ExchangeNetwork,
			wantIs:   context.DeadlineExceeded,
			wantErr:  []string{"got no answer within 200ms"},
		},
		{
			name: "server hangs mid-body",
			setup: func(e env, o *ExchangerOptions) {
				o.Timeout = 200 * time.Millisecond
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) {
					fmt.Fprint(w, `{"refresh_token":"abc`)
					w.(http.Flusher).Flush()
					e.f.hang(r)
				}
			},
			wantKind: ExchangeNetwork,
			wantIs:   context.DeadlineExceeded,
		},
		{
			name: "caller cancels",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(_ http.ResponseWriter, r *http.Request, _ int) { e.f.hang(r) }
			},
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() { time.Sleep(50 * time.Millisecond); cancel() }()
				return ctx, cancel
			},
			wantKind: ExchangeNetwork,
			wantIs:   context.Canceled,
			wantErr:  []string{"was cancelled"},
		},
		{
			name: "realm on another host",
			setup: func(e env, _ *ExchangerOptions) {
				port := e.f.host[strings.LastIndex(e.f.host, ":"):]
				e.f.challenge = e.f.challengeWith(`Bearer realm="https://localhost` + port + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"challenge at 127.0.0.1:", "not on the login server", "refusing to send the Entra token"},
		},
		{
			name: "realm on a look-alike host",
			setup: func(e env, _ *ExchangerOptions) {
				// httptest's client routes example.com and its subdomains to
				// the fake, so a missed check would show without any DNS.
				port := e.f.host[strings.LastIndex(e.f.host, ":"):]
				e.f.challenge = e.f.challengeWith(`Bearer realm="https://127.0.0.1.example.com` + port + `/oauth2/token"`)
			},
			wantKind: ExchangeRefused,
		},
		{
			name: "realm over http",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(`Bearer realm="http://` + e.f.host + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"which is not https"},
		},
		{
			name: "realm on another port",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(`Bearer realm="https://` + e.other.host + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"not on the login server"},
		},
		{
			name: "realm on the default port while the login server has another",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(`Bearer realm="https://127.0.0.1/oauth2/token"`)
			},
			wantKind: ExchangeRefused,
		},
		{
			name: "realm with user info",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(`Bearer realm="https://evil@` + e.f.host + `/oauth2/token"`)
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"user information"},
		},
		{
			name:     "relative realm",
			setup:    func(e env, _ *ExchangerOptions) { e.f.challenge = e.f.challengeWith(`Bearer realm="/oauth2/token"`) },
			wantKind: ExchangeRefused,
			wantErr:  []string{"not an absolute URL"},
		},
		{
			name: "no realm",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(`Bearer service="myreg.azurecr.io"`)
			},
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"has no realm"},
		},
		{
			name: "conflicting Bearer challenges",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = e.f.challengeWith(fmt.Sprintf(`Bearer realm="https://%s/oauth2/token", Bearer realm="https://%s/oauth2/token"`, e.f.host, e.other.host))
			},
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"conflicting"},
		},
		{
			name:     "malformed challenge",
			setup:    func(e env, _ *ExchangerOptions) { e.f.challenge = e.f.challengeWith(`Bearer realm="https://x`) },
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"malformed WWW-Authenticate header: unterminated quoted string"},
		},
		{
			name:     "Basic only",
			setup:    func(e env, _ *ExchangerOptions) { e.f.challenge = e.f.challengeWith(`Basic realm="registry"`) },
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"without a Bearer challenge (schemes offered: basic)"},
		},
		{
			name: "no challenge header",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(401) }
			},
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"schemes offered: none"},
		},
		{
			name: "anonymous registry",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, "{}") }
			},
			wantKind: ExchangeNoChallenge,
			wantErr:  []string{"registry answered 200 to an anonymous GET /v2/", "no token to exchange"},
		},
		{
			name: "404 on /v2/",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, r *http.Request, _ int) { http.NotFound(w, r) }
			},
			wantKind: ExchangeNotFound,
			wantErr:  []string{"challenge at", "no /v2/ endpoint"},
		},
		{
			name: "redirect on /v2/",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.challenge = func(w http.ResponseWriter, r *http.Request, _ int) {
					http.Redirect(w, r, "https://"+e.other.host+"/v2/?sig=secret-ish", http.StatusFound)
				}
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"registry answered 302, a redirect to https://" + "127.0.0.1:", "never sent on after a redirect"},
			check: func(t *testing.T, e env) {
				if n := e.other.total(); n != 0 {
					t.Fatalf("the redirect was followed: %d requests at its target", n)
				}
			},
		},
		{
			name: "redirect on /oauth2/exchange",
			setup: func(e env, _ *ExchangerOptions) {
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) {
					http.Redirect(w, r, "https://"+e.other.host+"/oauth2/exchange", http.StatusTemporaryRedirect)
				}
			},
			wantKind: ExchangeRefused,
			wantErr:  []string{"exchange at", "registry answered 307, a redirect to https://127.0.0.1:"},
			check: func(t *testing.T, e env) {
				if n := e.other.total(); n != 0 {
					t.Fatalf("the redirect was followed: %d requests at its target", n)
				}
			},
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
			wantKind: ExchangeNetwork,
			wantErr:  []string{"challenge at 127.0.0.1:", "GET /v2/ failed", "could not connect"},
		},
		{
			name: "DNS failure",
			setup: func(e env, o *ExchangerOptions) {
				o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
				})}
			},
			loginServer: func(env) string { return "myreg.azurecr.io" },
			wantKind:    ExchangeNetwork,
			wantErr:     []string{"DNS lookup of myreg.azurecr.io failed", "private DNS zone"},
		},
		{
			name:     "untrusted certificate with the default client",
			setup:    func(e env, o *ExchangerOptions) { o.HTTPClient = nil },
			wantKind: ExchangeNetwork,
			wantErr:  []string{"TLS certificate is not trusted", "SSL_CERT_FILE"},
		},
		{
			name:        "login server with a scheme",
			loginServer: func(e env) string { return "https://" + e.f.host },
			wantKind:    ExchangeInvalidInput,
			wantErr:     []string{"is not a host or host:port"},
		},
		{
			name:        "login server with user info",
			loginServer: func(e env) string { return "u@" + e.f.host },
			wantKind:    ExchangeInvalidInput,
		},
		{
			name:        "login server with a path",
			loginServer: func(e env) string { return e.f.host + "/v2" },
			wantKind:    ExchangeInvalidInput,
		},
		{
			name:        "empty login server",
			loginServer: func(env) string { return "" },
			wantKind:    ExchangeInvalidInput,
		},
		{
			name:        "login server with a bad port",
			loginServer: func(env) string { return "myreg.azurecr.io:https" },
			wantKind:    ExchangeInvalidInput,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{f: newFakeACR(t, entra, refresh), other: newFakeACR(t, entra, refresh)}
			var logs bytes.Buffer
			o := ExchangerOptions{
				HTTPClient: e.f.srv.Client(),
				Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}
			if tt.setup != nil {
				tt.setup(e, &o)
			}
			x := NewExchanger(o)
			var waits []time.Duration
			x.sleep = func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return ctx.Err()
			}
			ls := e.f.host
			if tt.loginServer != nil {
				ls = tt.loginServer(e)
			}
			tenant := testTenant
			if tt.noTenant {
				tenant = ""
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()

			got, err := x.Exchange(ctx, ls, entra, tenant)

			assertNoTokenLeak(t, err, logs.String(), entra, refresh, noExp)
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("Exchange error: %v", err)
				}
				if got != tt.want {
					t.Fatalf("Exchange = %q, want %q", got, tt.want)
				}
			} else {
				if err == nil {
					t.Fatalf("Exchange = %q, want an error of kind %d", got, tt.wantKind)
				}
				if got != "" {
					t.Errorf("Exchange returned a token with an error")
				}
				var xe *ExchangeError
				if !errors.As(err, &xe) {
					t.Fatalf("error %T %v is not an *ExchangeError", err, err)
				}
				if xe.Kind != tt.wantKind {
					t.Fatalf("kind = %d, want %d; error: %v", xe.Kind, tt.wantKind, err)
				}
				// The provider relies on this to name the registry once.
				if xe.Step != "challenge" && xe.Step != "exchange" {
					t.Errorf("Step = %q, want challenge or exchange", xe.Step)
				}
				if xe.Kind != ExchangeInvalidInput && xe.LoginServer != ls {
					t.Errorf("LoginServer = %q, want %q as passed", xe.LoginServer, ls)
				}
				if prefix := xe.Step + " at " + xe.LoginServer + ": "; !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error %q does not start with %q", err, prefix)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
				}
				if xe.Hint == "" {
					t.Errorf("error %q has no hint", err)
				}
				if IsARMAudienceDisallowed(err) != (tt.wantKind == ExchangeARMAudienceDisallowed) {
					t.Errorf("IsARMAudienceDisallowed = %v for %v", !(tt.wantKind == ExchangeARMAudienceDisallowed), err)
				}
			}
			if tt.wantKind == ExchangeRefused || tt.wantKind == ExchangeNoChallenge || tt.wantKind == ExchangeInvalidInput {
				if n := e.f.count("/oauth2/exchange"); n != 0 && !strings.Contains(tt.name, "oauth2/exchange") {
					t.Errorf("the Entra token was posted %d times although the exchange was refused", n)
				}
			}
			if n := e.other.tokenSeen(); n != 0 {
				t.Errorf("the Entra token reached a server other than the login server %d times", n)
			}
			if fmt.Sprint(waits) != fmt.Sprint(tt.waits) {
				t.Errorf("retry waits = %v, want %v", waits, tt.waits)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

// assertNoTokenLeak fails if any token, or a distinctive part of one,
// appears in the error (text or fields) or the logs.
func assertNoTokenLeak(t *testing.T, err error, logs string, tokens ...string) {
	t.Helper()
	var texts []string
	texts = append(texts, logs)
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var xe *ExchangeError
		if errors.As(err, &xe) {
			texts = append(texts, fmt.Sprintf("%#v", *xe))
		}
	}
	for _, tok := range tokens {
		needles := append([]string{tok}, strings.Split(tok, ".")...)
		for _, n := range needles {
			if len(n) < 12 { // too short to be distinctive
				continue
			}
			for _, s := range texts {
				if strings.Contains(s, n) {
					t.Fatalf("token material %.12q… leaked into %q", n, s)
				}
			}
		}
	}
}

// TestExchangeRealSleep runs the retry path with the real timer, briefly.
func TestExchangeRealSleep(t *testing.T) {
	entra := rawJWT(`{"alg":"RS256"}`, `{"tid":"`+testTenant+`"}`, "c2lnbmF0dXJlLXJlYWwtc2xlZXA")
	f := newFakeACR(t, entra, "rt")
	f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"refresh_token":"rt"}`)
	}
	x := NewExchanger(ExchangerOptions{HTTPClient: f.srv.Client(), RetryBackoff: time.Millisecond})
	got, err := x.Exchange(context.Background(), f.host, entra, "")
	if err != nil || got != "rt" {
		t.Fatalf("Exchange = %q, %v", got, err)
	}
}

func TestNewExchangerDoesNotChangeCallersClient(t *testing.T) {
	c := &http.Client{}
	NewExchanger(ExchangerOptions{HTTPClient: c})
	if c.CheckRedirect != nil {
		t.Fatal("NewExchanger set CheckRedirect on the caller's client")
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		login, realm string
		want         bool
	}{
		{"myreg.azurecr.io", "https://myreg.azurecr.io/oauth2/token", true},
		{"myreg.azurecr.io", "https://MyReg.AzureCR.io/oauth2/token", true},
		{"myreg.azurecr.io", "https://myreg.azurecr.io:443/oauth2/token", true},
		{"myreg.azurecr.io:443", "https://myreg.azurecr.io/oauth2/token", true},
		{"myreg.azurecr.io", "https://myreg.azurecr.io:8443/oauth2/token", false},
		{"myreg.azurecr.io:8443", "https://myreg.azurecr.io/oauth2/token", false},
		{"myreg.azurecr.io", "https://myreg.azurecr.io./oauth2/token", false},
		{"myreg.azurecr.io", "https://myreg.azurecr.io.evil.com/oauth2/token", false},
		{"myreg.azurecr.io", "https://evilmyreg.azurecr.io/oauth2/token", false},
		{"myreg.azurecr.io", "https://other.azurecr.io/oauth2/token", false},
		{"[::1]:8443", "https://[::1]:8443/oauth2/token", true},
		{"[::1]:8443", "https://[::2]:8443/oauth2/token", false},
	}
	for _, tt := range tests {
		login, err := parseLoginServer(tt.login)
		if err != nil {
			t.Fatalf("parseLoginServer(%q): %v", tt.login, err)
		}
		realm, err := url.Parse(tt.realm)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameOrigin(realm, login); got != tt.want {
			t.Errorf("sameOrigin(%q, %q) = %v, want %v", tt.realm, tt.login, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSanitize(t *testing.T) {
	jwtish := "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln"
	tests := []struct {
		in, secret, want string
	}{
		{"plain message", "", "plain message"},
		{"token s3cr3t-value here", "s3cr3t-value", "token [redacted] here"},
		{"jwt " + jwtish + ", done", "", "jwt [redacted JWT], done"},
		{"short eyJ ok", "", "short eyJ ok"},
		{"line\nbreak\x1b[31m", "", "line break [31m"},
		{"bad \xff utf8", "", "bad ? utf8"},
		{strings.Repeat("x", 300), "", strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		if got := safetext.ServerText(tt.in, tt.secret); got != tt.want {
			t.Errorf("safetext.ServerText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSanitizeRedactsBeforeClipping puts the secret across sanitize's
// 200-character limit at every offset: redacting after the cut would let its
// first part through.
func TestSanitizeRedactsBeforeClipping(t *testing.T) {
	for _, secret := range []string{
		"opaque-entra-token-0123456789abcdefghijklmnop",
		rawJWT(`{"alg":"RS256"}`, `{"tid":"`+testTenant+`"}`, "c2lnbmF0dXJlLWNsaXAtdGVzdA"),
	} {
		clipped := 0
		for off := safetext.MaxShown - len(secret) - 2; off <= safetext.MaxShown+2; off++ {
			got := safetext.ServerText(strings.Repeat("p", off)+secret+" trailing text", secret)
			if strings.HasSuffix(got, "…") {
				clipped++
			}
			leak.AssertNoFragment(t, got, secret, 8)
		}
		if clipped == 0 {
			t.Fatal("nothing was clipped: the test does not reach the limit")
		}
	}
}

// TestExchangeTokenEchoedAtTheClip has the registry echo the Entra token
// across the limit of what is shown of its message, or of a body that is
// not ACR's JSON.
func TestExchangeTokenEchoedAtTheClip(t *testing.T) {
	entra := rawJWT(`{"alg":"RS256"}`, `{"tid":"`+testTenant+`"}`, "c2lnbmF0dXJlLWVjaG8tYXQtdGhlLWNsaXA")
	for _, tc := range []struct {
		name   string
		answer func(pad string) func(http.ResponseWriter, *http.Request, int)
	}{
		{name: "ACR error message", answer: func(pad string) func(http.ResponseWriter, *http.Request, int) {
			return acrError(http.StatusUnauthorized, "UNAUTHORIZED", pad+entra)
		}},
		{name: "body that is not JSON", answer: func(pad string) func(http.ResponseWriter, *http.Request, int) {
			return func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, pad+entra)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, off := range []int{safetext.MaxShown - len(entra) + 8, safetext.MaxShown - 20, safetext.MaxShown - 8} {
				f := newFakeACR(t, entra, "rt")
				f.exchange = tc.answer(strings.Repeat("p", off))
				var logs bytes.Buffer
				x := NewExchanger(ExchangerOptions{HTTPClient: f.srv.Client(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				_, err := x.Exchange(context.Background(), f.host, entra, testTenant)
				var xe *ExchangeError
				if !errors.As(err, &xe) {
					t.Fatalf("err = %v, want an *ExchangeError", err)
				}
				for _, text := range []string{err.Error(), fmt.Sprintf("%#v", *xe), logs.String()} {
					leak.AssertNoFragment(t, text, entra, 8)
				}
			}
		})
	}
}

func TestIsARMAudienceDisallowed(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("401 arm aad token disallowed"), false}, // only a classified ExchangeError counts
		{&ExchangeError{Kind: ExchangeUnauthorized}, false},
		{&ExchangeError{Kind: ExchangeARMAudienceDisallowed}, true},
		{fmt.Errorf("wrapped: %w", &ExchangeError{Kind: ExchangeARMAudienceDisallowed}), true},
	}
	for _, tt := range tests {
		if got := IsARMAudienceDisallowed(tt.err); got != tt.want {
			t.Errorf("IsARMAudienceDisallowed(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
