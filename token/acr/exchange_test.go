package acr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

const testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// registryHost is the simulated registry: the login server in tests is
// 127.0.0.1:port, one port per fakeACR.
const registryHost = "127.0.0.1"

// minted stands for "a refresh token the simulator issued" in
// exchangeCase.want: it is checked with the simulator's key, not compared.
const minted = "<minted by azuresim>"

// testSims are the simulated Azure of these tests: sims[0] answers the
// login server, sims[1] the other server that must never see the token.
// They are made once per test binary: each makes RSA keys, and they hold
// no state the cases change.
var testSims = sync.OnceValues(func() ([2]*azuresim.Sim, error) {
	var sims [2]*azuresim.Sim
	for i := range sims {
		s, err := azuresim.New(azuresim.Options{Registries: []string{registryHost}, TenantID: testTenant})
		if err != nil {
			return sims, err
		}
		sims[i] = s
	}
	return sims, nil
})

func sims(t *testing.T) [2]*azuresim.Sim {
	t.Helper()
	s, err := testSims()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeACR puts test/azuresim's ACR front (the end-to-end simulator) on an
// httptest TLS listener, records what it receives, and notices any
// request that carries the Entra token. A case may replace the answer of
// /v2/ or /oauth2/exchange; otherwise the simulator answers, as ACR would.
type fakeACR struct {
	srv  *httptest.Server
	host string // 127.0.0.1:port, the login server in tests
	done chan struct{}
	sim  *azuresim.Sim

	secret string // the Entra token to watch for

	// challenge and exchange override the simulator's answers; n counts
	// requests to that path, from 1.
	challenge func(w http.ResponseWriter, r *http.Request, n int)
	exchange  func(w http.ResponseWriter, r *http.Request, n int)

	mu       sync.Mutex
	hits     map[string]int
	order    []string // "METHOD /path HTTP/x.y", in the order received
	forms    []url.Values
	sawToken int
	conns    int // connections accepted

	// accepted and closed receive each connection the server accepts and
	// sees closed, for tests that wait for either (buffered; never
	// blocks the server).
	accepted, closed chan net.Conn
}

func newFakeACR(t *testing.T, sim *azuresim.Sim, secret string) *fakeACR {
	t.Helper()
	return newFakeACRWith(t, sim, secret, nil)
}

// newFakeACRWith is newFakeACR with configure run on the server before it
// starts (to enable HTTP/2, say).
func newFakeACRWith(t *testing.T, sim *azuresim.Sim, secret string, configure func(*httptest.Server)) *fakeACR {
	t.Helper()
	f := &fakeACR{done: make(chan struct{}), sim: sim, secret: secret, hits: map[string]int{},
		accepted: make(chan net.Conn, 64), closed: make(chan net.Conn, 64)}
	simulated := sim.Handler()
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		if strings.Contains(string(body), f.secret) || strings.Contains(r.URL.String(), f.secret) || strings.Contains(fmt.Sprint(r.Header), f.secret) {
			f.sawToken++
		}
		f.hits[r.URL.Path]++
		f.order = append(f.order, r.Method+" "+r.URL.Path+" "+r.Proto)
		n := f.hits[r.URL.Path]
		f.mu.Unlock()

		switch {
		case r.URL.Path == "/v2/" && f.challenge != nil:
			f.challenge(w, r, n)
			return
		case r.URL.Path == "/oauth2/exchange" && r.Method == http.MethodPost:
			if err := r.ParseForm(); err == nil {
				f.mu.Lock()
				f.forms = append(f.forms, r.PostForm)
				f.mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if f.exchange != nil {
				f.exchange(w, r, n)
				return
			}
		}
		simulated.ServeHTTP(w, r)
	}))
	// The untrusted-certificate case makes the server log a handshake
	// error; it is expected, not noise worth reading.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			offer(f.accepted, c)
		case http.StateClosed:
			offer(f.closed, c)
		}
	}
	if configure != nil {
		configure(f.srv)
	}
	f.srv.StartTLS()
	f.host = f.srv.Listener.Addr().String()
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first: unblocks hanging handlers
	return f
}

// offer sends c unless ch is full: a test that does not read ch must not
// stall the server.
func offer(ch chan net.Conn, c net.Conn) {
	select {
	case ch <- c:
	default:
	}
}

// answer is an exchange override that hands out refresh.
func answer(refresh string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprintf(w, `{"refresh_token":%q}`, refresh) }
}

// challengeWith is a challenge override: a 401 with header as its
// WWW-Authenticate.
func challengeWith(header string) func(http.ResponseWriter, *http.Request, int) {
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

// requests returns the requests received so far, in order, and the
// number of connections accepted.
func (f *fakeACR) requests() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.order), f.conns
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

// fixtures are the tokens every exchange case uses: an Entra token the
// simulator issued (tid testTenant), a refresh token issued at now for 3 h
// for the cases' own answers, and one without exp.
type fixtures struct {
	entra, refresh, noExp string
}

func newFixtures(t *testing.T) fixtures {
	now := time.Now()
	// The simulator's CLI user's token: the simulated registry takes only
	// Entra tokens the simulator issued, with the ACR audience.
	entra, err := sims(t)[0].CLIToken(azuresim.ACRAudience, "")
	if err != nil {
		t.Fatal(err)
	}
	return fixtures{
		entra: entra.AccessToken,
		refresh: testkit.HS256(t, jwt.MapClaims{
			"exp": float64(now.Add(3 * time.Hour).Unix()), "iat": float64(now.Unix()),
			"iss": "Azure Container Registry", "aud": "myreg.azurecr.io", "grant_type": "refresh_token",
		}),
		noExp: rawJWT(`{"alg":"RS256"}`, `{"iss":"Azure Container Registry","aud":"myreg.azurecr.io"}`, "bm8tZXhwLXNpZ25hdHVyZQ"),
	}
}

type env struct {
	f, other *fakeACR
}

// exchangeCase is one row of the exchange tables (grant, errors, limits,
// retries, redirects), all run by runExchangeCases.
type exchangeCase struct {
	name string
	// exchange and challenge, when set, are the registry's answers to
	// the exchange and to GET /v2/: the overrides most cases need. setup
	// runs after them.
	exchange, challenge func(http.ResponseWriter, *http.Request, int)
	// setup configures the fakes and may adjust options.
	setup       func(e env, o *Options)
	loginServer func(e env) string // default: e.f.host
	noTenant    bool
	ctx         func() (context.Context, context.CancelFunc)

	want     string // refresh token on success, or minted
	wantKind Kind
	wantErr  []string        // substrings of the error text
	wantIs   error           // errors.Is target
	waits    []time.Duration // retry waits asked for
	check    func(t *testing.T, e env)
	checkRT  func(t *testing.T, rt token.RefreshToken) // on success
	checkErr func(t *testing.T, xe *Error)             // on failure
}

// Every case runs twice: with the challenge read by Exchange itself, and
// read ahead by Prepare (as the Provider does for regional login servers
// and custom clouds) and collected by Exchange. Both must give the same
// answer, the same refusals and the same requests.
func runExchangeCases(t *testing.T, fx fixtures, tests []exchangeCase) {
	t.Helper()
	entra, refresh, noExp := fx.entra, fx.refresh, fx.noExp
	for _, tt := range tests {
		for _, prepared := range []bool{false, true} {
			name := tt.name + "/inline"
			if prepared {
				name = tt.name + "/prepared"
			}
			t.Run(name, func(t *testing.T) {
				sim := sims(t)
				e := env{f: newFakeACR(t, sim[0], entra), other: newFakeACR(t, sim[1], entra)}
				var logs bytes.Buffer
				o := Options{
					HTTPClient: e.f.srv.Client(),
					Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				}
				if tt.exchange != nil {
					e.f.exchange = tt.exchange
				}
				if tt.challenge != nil {
					e.f.challenge = tt.challenge
				}
				if tt.setup != nil {
					tt.setup(e, &o)
				}
				x := NewExchanger(o)
				var waitsMu sync.Mutex // the challenge read ahead retries on its own goroutine
				var waits []time.Duration
				x.sleep = func(ctx context.Context, d time.Duration) error {
					waitsMu.Lock()
					defer waitsMu.Unlock()
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

				if prepared {
					x.Prepare(ctx, token.ExchangeRequest{LoginServer: ls, Tenant: tenant})
				}
				got, err := x.Exchange(ctx, token.ExchangeRequest{LoginServer: ls, EntraToken: entra, Tenant: tenant})
				// What Prepare started ends with its context.
				cancel()
				x.work.Wait()

				assertNoTokenLeak(t, err, logs.String(), entra, refresh, noExp)
				if tt.wantKind == 0 {
					if err != nil {
						t.Fatalf("Exchange error: %v", err)
					}
					if tt.want == minted {
						if _, err := e.f.sim.VerifyRefreshToken(registryHost, got.Token); err != nil {
							t.Fatalf("Exchange = %q, not the simulator's refresh token: %v", got.Token, err)
						}
					} else if got.Token != tt.want {
						t.Fatalf("Exchange = %q, want %q", got.Token, tt.want)
					}
					if tt.checkRT != nil {
						tt.checkRT(t, got)
					}
				} else {
					if err == nil {
						t.Fatalf("Exchange = %q, want an error of kind %v", got.Token, tt.wantKind)
					}
					if got != (token.RefreshToken{}) {
						t.Errorf("Exchange returned a token with an error")
					}
					var xe *Error
					if !errors.As(err, &xe) {
						t.Fatalf("error %T %v is not an *Error", err, err)
					}
					if xe.Kind != tt.wantKind {
						t.Fatalf("kind = %v, want %v; error: %v", xe.Kind, tt.wantKind, err)
					}
					// The provider relies on this to name the registry once.
					if xe.Step != "challenge" && xe.Step != "exchange" {
						t.Errorf("Step = %q, want challenge or exchange", xe.Step)
					}
					if xe.Kind != KindInvalidInput && xe.LoginServer != ls {
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
					// An embedder calling this package gets no front end's
					// advice: no variable or config-file names.
					for _, cli := range []string{"DOCKER_CREDENTIAL_ACR_", "config file", "docker-credential-acr help"} {
						if strings.Contains(err.Error(), cli) || strings.Contains(xe.Hint, cli) {
							t.Errorf("error %q names %q", err, cli)
						}
					}
					// The registry's text is never taken for Entra's.
					if token.IsAudienceUnavailable(err) {
						t.Errorf("IsAudienceUnavailable(%v) = true for an exchange error", err)
					}
					if tt.checkErr != nil {
						tt.checkErr(t, xe)
					}
				}
				if tt.wantKind == KindRefused || tt.wantKind == KindNoChallenge || tt.wantKind == KindInvalidInput {
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
}

// assertNoTokenLeak fails if any token, or a distinctive part of one,
// appears in the error (text or fields) or the logs.
func assertNoTokenLeak(t *testing.T, err error, logs string, tokens ...string) {
	t.Helper()
	var texts []string
	texts = append(texts, logs)
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		var xe *Error
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

// TestExchangeSendsNoTenantWithoutATid: with no tenant given and none in
// the Entra token, the form has no tenant field at all.
func TestExchangeSendsNoTenantWithoutATid(t *testing.T) {
	entra := rawJWT(`{"alg":"RS256"}`, `{"aud":"https://containerregistry.azure.net","oid":"no-tid-object-4711"}`, "bm8tdGlkLXNpZ25hdHVyZQ")
	f := newFakeACR(t, sims(t)[0], entra)
	f.exchange = answer("rt") // the simulator takes only the tokens it issued, all with a tid
	x := NewExchanger(Options{HTTPClient: f.srv.Client()})
	got, err := x.Exchange(context.Background(), token.ExchangeRequest{LoginServer: f.host, EntraToken: entra})
	if err != nil || got.Token != "rt" || got.Tenant != "" {
		t.Fatalf("Exchange = %+v, %v; want rt and no tenant", got, err)
	}
	if _, ok := f.forms[0]["tenant"]; ok {
		t.Fatalf("tenant sent although empty: %v", f.forms[0])
	}
}

func TestNewExchangerDoesNotChangeCallersClient(t *testing.T) {
	c := &http.Client{}
	NewExchanger(Options{HTTPClient: c})
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
