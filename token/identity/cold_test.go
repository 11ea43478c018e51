package identity

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// requestLog records "who: METHOD path" for each request its handlers
// get, in the order they arrive.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(who string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, who+": "+r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) of(who string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if strings.HasPrefix(r, who+": ") {
			out = append(out, r)
		}
	}
	return out
}

// ciFixture is a source whose assertion comes from a CI token service on
// loopback, with Entra's requests logged and, through hold, held.
type ciFixture struct {
	entra *entraSim
	log   *requestLog
	src   token.Source
	// ciArrived is closed when the CI token service gets its first request.
	ciArrived chan struct{}
}

// newCIFixture builds the named source (github, pipelines or workload)
// against the simulator's Entra, whose handler hold may wrap further.
func newCIFixture(t *testing.T, name string, hold func(http.Handler) http.Handler) *ciFixture {
	t.Helper()
	f := &ciFixture{log: &requestLog{}, ciArrived: make(chan struct{})}
	f.entra = newEntraWrapped(t, func(h http.Handler) http.Handler {
		if hold != nil {
			h = hold(h)
		}
		return f.log.wrap("entra", h)
	})
	fed := &federatedApp{}
	f.entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "ci-app", AcceptAssertion: fed.check})
	var once sync.Once
	arrived := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(f.ciArrived) })
			h.ServeHTTP(w, r)
		})
	}
	env := fakeEnv{}
	s := Settings{ClientID: "ci-app", TenantID: testTenant, AuthorityHost: f.entra.AuthorityHost()}
	switch name {
	case GitHub:
		g := &fakeGitHub{bearer: "gh-bearer", fed: fed, t: t}
		g.Server = httptest.NewTLSServer(f.log.wrap("ci", arrived(http.HandlerFunc(g.serve))))
		t.Cleanup(g.Close)
		env = fakeEnv{envGitHubTokenURL: g.URL + "/idtoken?api-version=2.0", envGitHubTokenToken: "gh-bearer"}
	case Pipelines:
		p := &fakePipelines{bearer: "ado-bearer", connection: "conn-1", fed: fed, t: t}
		p.Server = httptest.NewTLSServer(f.log.wrap("ci", arrived(http.HandlerFunc(p.serve))))
		t.Cleanup(p.Close)
		env = pipelinesEnv(p.URL+"/org/proj/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken", "ado-bearer", "conn-1", "ci-app")
	case Workload:
		jwt := testJWT(t, "https://oidc.aks.example/issuer", "system:serviceaccount:ns:sa", federatedAudience)
		fed.accept(jwt)
		env = fakeEnv{envFederatedToken: jwt}
	}
	srcs, err := New([]string{name}, s, testOptions(env, f.entra.Client(), &logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	f.src = srcs[0]
	return f
}

// TestColdTokenRequests pins down every request a cold Entra token makes,
// per source: instance discovery is disabled, so Entra sees MSAL's tenant
// discovery (the OpenID configuration, which MSAL needs for the token
// endpoint; see confidential.go) and the token request, once each; the CI
// sources add their one ID token request.
func TestColdTokenRequests(t *testing.T) {
	entraWant := []string{
		"entra: GET /" + testTenant + "/v2.0/.well-known/openid-configuration",
		"entra: POST /" + testTenant + "/oauth2/v2.0/token",
	}
	for _, tc := range []struct {
		name   string
		ciWant []string
	}{
		{name: Workload},
		{name: GitHub, ciWant: []string{"ci: GET /idtoken"}},
		{name: Pipelines, ciWant: []string{"ci: POST /org/proj/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCIFixture(t, tc.name, nil)
			tok, err := f.src.EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			if err != nil {
				t.Fatal(err)
			}
			assertIssuedTo(t, f.entra, tok, testTenant, "ci-app", testResource)
			t.Logf("requests: %q", f.log.reqs)
			if got := f.log.of("entra"); fmt.Sprint(got) != fmt.Sprint(entraWant) {
				t.Errorf("Entra saw %q, want %q", got, entraWant)
			}
			if got := f.log.of("ci"); fmt.Sprint(got) != fmt.Sprint(tc.ciWant) {
				t.Errorf("the CI token service saw %q, want %q", got, tc.ciWant)
			}
		})
	}
}

// TestOIDCFetchOverlapsDiscovery: the CI's ID token is requested beside
// MSAL's tenant discovery, not after it. Entra's discovery answer is held
// until the CI token service has the ID token request: were the two in
// sequence, neither would come.
func TestOIDCFetchOverlapsDiscovery(t *testing.T) {
	for _, name := range []string{GitHub, Pipelines} {
		t.Run(name, func(t *testing.T) {
			var f *ciFixture
			ready := make(chan struct{})
			f = newCIFixture(t, name, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-ready
					if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
						select {
						case <-f.ciArrived:
						case <-r.Context().Done():
							return
						}
					}
					h.ServeHTTP(w, r)
				})
			})
			close(ready)
			// A deadlock would end at this deadline, with the test failed.
			ctx, cancel := context.WithTimeout(hangGuard(t), 30*time.Second)
			defer cancel()
			if _, err := f.src.EntraToken(ctx, token.PublicCloud(), token.DefaultScope); err != nil {
				t.Fatalf("EntraToken: %v (the ID token request did not overlap discovery)", err)
			}
		})
	}
}

// TestOIDCFetchErrorsAsBefore: with the ID token fetched early, what fails
// first still decides the error. Discovery failing is Entra's error (the
// early fetch is canceled and its result unused); the fetch failing is the
// fetch's own error, as TestGitHubSource's cases check word for word.
func TestOIDCFetchErrorsAsBefore(t *testing.T) {
	f := newCIFixture(t, GitHub, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant not found.","error_codes":[90002]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := f.src.EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
	assertError(t, err, false, "Entra ID at", "AADSTS90002")
}

// TestEarlyFetchEndsWithCaller: no goroutine of an early fetch outlives
// stop, whether or not its result was taken.
func TestEarlyFetchEndsWithCaller(t *testing.T) {
	for _, take := range []bool{false, true} {
		t.Run(fmt.Sprintf("taken=%v", take), func(t *testing.T) {
			var mu sync.Mutex
			ended := false
			f := startFetch(hangGuard(t), func(ctx context.Context) (string, error) {
				if take {
					return "assertion", nil
				}
				<-ctx.Done()
				mu.Lock()
				ended = true
				mu.Unlock()
				return "", ctx.Err()
			})
			if take {
				if a, err := f.get(hangGuard(t)); a != "assertion" || err != nil {
					t.Errorf("get = %q, %v", a, err)
				}
			}
			f.stop()
			select {
			case <-f.done:
			default:
				t.Error("the fetch still runs after stop")
			}
			mu.Lock()
			defer mu.Unlock()
			if !take && !ended {
				t.Error("the fetch was not canceled")
			}
		})
	}
}

// TestEntraAndCIHangsEndAtDeadline: Entra, or the CI token service,
// accepts the request and never answers. The source gives up at ctx's
// deadline, naming the endpoint and what was tried.
func TestEntraAndCIHangsEndAtDeadline(t *testing.T) {
	// A handler that has not read a POST's body does not notice the
	// client leave, so the hung handlers also end when the test does.
	stop := make(chan struct{})
	hang := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	hangOn := func(suffix string) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, suffix) {
					hang(r)
					return
				}
				h.ServeHTTP(w, r)
			})
		}
	}
	t.Run("Entra's token endpoint", func(t *testing.T) {
		f := newCIFixture(t, Workload, hangOn("/oauth2/v2.0/token"))
		t.Cleanup(func() { close(stop) }) // before the servers close
		ctx, cancel := context.WithTimeout(hangGuard(t), 2*time.Second)
		defer cancel()
		_, err := f.src.EntraToken(ctx, token.PublicCloud(), token.DefaultScope)
		assertDeadlineError(t, err, f.entra.AuthorityHost(), "POST "+f.entra.srv.URL+"/"+testTenant+"/oauth2/v2.0/token: no answer")
	})
	t.Run("GitHub's ID token service", func(t *testing.T) {
		f := newCIFixture(t, GitHub, nil)
		hung := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(hung.Close)
		env := fakeEnv{envGitHubTokenURL: hung.URL + "/idtoken?api-version=2.0", envGitHubTokenToken: "gh-bearer"}
		srcs, _ := New([]string{GitHub}, Settings{ClientID: "ci-app", TenantID: testTenant, AuthorityHost: f.entra.AuthorityHost()}, testOptions(env, f.entra.Client(), &logBuffer{}))
		ctx, cancel := context.WithTimeout(hangGuard(t), 2*time.Second)
		defer cancel()
		_, err := srcs[0].EntraToken(ctx, token.PublicCloud(), token.DefaultScope)
		assertDeadlineError(t, err, hung.URL+"/idtoken", "GET "+hung.URL+"/idtoken: no answer")
	})
}

// TestEntraAnswerCapped: an oversized answer from Entra's token endpoint
// is not read whole, and the error names the endpoint.
func TestEntraAnswerCapped(t *testing.T) {
	f := newCIFixture(t, Workload, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"access_token":"`+strings.Repeat("x", 2*maxAnswer)+`"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := f.src.EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
	assertError(t, err, false, "too large", f.entra.srv.URL+"/"+testTenant+"/oauth2/v2.0/token is larger than 1048576 bytes")
	if got := f.log.of("entra"); len(got) != 2 {
		t.Errorf("Entra saw %q; want discovery and one token request (no retry of an oversized answer)", got)
	}
}
