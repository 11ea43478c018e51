package acr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// hangGuard is a context that only stops a broken test from hanging; no
// assertion depends on its deadline.
func hangGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// await receives from ch, or fails the test if the guard ends first.
func await[T any](t *testing.T, guard context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-guard.Done():
		t.Fatalf("gave up waiting for %s", what)
		var zero T
		return zero
	}
}

// neverAsked is a /v2/ answer for the paths that must not ask for it: a
// hostile one (a realm elsewhere), which also fails the test.
func neverAsked(t *testing.T, other string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		t.Errorf("GET /v2/ was asked although the challenge is skipped")
		w.Header().Set("Www-Authenticate", `Bearer realm="https://`+other+`/oauth2/token",service="evil"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// TestPrepareThenExchange: the requests one exchange makes, on each path.
// Skipping the challenge posts once and never asks /v2/ (whose answer here
// is hostile); reading it asks /v2/ once, then posts. Every path uses one
// connection; a prepared one is open before the exchange is asked for, as
// it is while the Entra token is on its way. HTTP/2 is negotiated on a
// connection dialled ahead as on any other.
func TestPrepareThenExchange(t *testing.T) {
	fx := newFixtures(t)
	const (
		v2   = "GET /v2/ "
		post = "POST /oauth2/exchange "
	)
	for _, tt := range []struct {
		name           string
		skip, prepare  bool
		http2          bool
		want           []string
		wantServiceLog string
	}{
		{name: "skip, prepared", skip: true, prepare: true, want: []string{post + "HTTP/1.1"}},
		{name: "skip", skip: true, want: []string{post + "HTTP/1.1"}},
		{name: "challenge, prepared", prepare: true, want: []string{v2 + "HTTP/1.1", post + "HTTP/1.1"}},
		{name: "challenge", want: []string{v2 + "HTTP/1.1", post + "HTTP/1.1"}},
		{name: "skip, prepared, HTTP/2", skip: true, prepare: true, http2: true, want: []string{post + "HTTP/2.0"}},
		{name: "challenge, prepared, HTTP/2", prepare: true, http2: true, want: []string{v2 + "HTTP/2.0", post + "HTTP/2.0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			guard := hangGuard(t)
			other := newFakeACR(t, sims(t)[1], fx.entra)
			f := newFakeACRWith(t, sims(t)[0], fx.entra, func(s *httptest.Server) { s.EnableHTTP2 = tt.http2 })
			if tt.skip {
				f.challenge = neverAsked(t, other.host)
			}
			x := NewExchanger(Options{HTTPClient: f.srv.Client()})
			ctx, cancel := context.WithCancel(guard)
			defer cancel()
			r := token.ExchangeRequest{LoginServer: f.host, Tenant: testTenant, SkipChallenge: tt.skip}
			if tt.prepare {
				x.Prepare(ctx, r)
				await(t, guard, f.accepted, "the connection Prepare makes")
			}
			r.EntraToken = fx.entra
			got, err := x.Exchange(ctx, r)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			// The simulator issues a refresh token only for
			// service=<its registry's host name>.
			if _, err := f.sim.VerifyRefreshToken(registryHost, got.Token); err != nil {
				t.Fatalf("not the simulator's refresh token: %v", err)
			}
			reqs, conns := f.requests()
			if !slices.Equal(reqs, tt.want) {
				t.Errorf("requests %q, want %q", reqs, tt.want)
			}
			if conns != 1 {
				t.Errorf("%d connections to the login server, want 1", conns)
			}
			if n := other.total(); n != 0 {
				t.Errorf("%d requests elsewhere", n)
			}
			cancel()
			x.work.Wait()
		})
	}
}

// TestDialAheadNegotiatesAsTheTransport: the connection dialled ahead
// speaks the protocol the caller's transport would have negotiated alone,
// HTTP/2 where it would, HTTP/1.1 where it would not.
func TestDialAheadNegotiatesAsTheTransport(t *testing.T) {
	fx := newFixtures(t)
	for _, tt := range []struct {
		name         string
		serverHTTP2  bool
		forceHTTP2   bool
		disableHTTP2 bool
	}{
		{name: "HTTP/2 server, forced", serverHTTP2: true, forceHTTP2: true},
		{name: "HTTP/2 server, TLS config and not forced", serverHTTP2: true},
		{name: "HTTP/2 server, HTTP/2 turned off", serverHTTP2: true, forceHTTP2: true, disableHTTP2: true},
		{name: "HTTP/1.1 server, forced", forceHTTP2: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			guard := hangGuard(t)
			f := newFakeACRWith(t, sims(t)[0], fx.entra, func(s *httptest.Server) { s.EnableHTTP2 = tt.serverHTTP2 })
			f.exchange = answer(fx.refresh)
			roots := x509.NewCertPool()
			roots.AddCert(f.srv.Certificate())
			// A new transport each time: a used one has set up its
			// protocols already.
			tr := func() *http.Transport {
				t := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: tt.forceHTTP2}
				if tt.disableHTTP2 {
					t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				}
				return t
			}
			resp, err := (&http.Client{Transport: tr()}).Get("https://" + f.host + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			alone := resp.Proto

			x := NewExchanger(Options{HTTPClient: &http.Client{Transport: tr()}})
			ctx, cancel := context.WithCancel(guard)
			defer cancel()
			r := token.ExchangeRequest{LoginServer: f.host, Tenant: testTenant, SkipChallenge: true}
			x.Prepare(ctx, r)
			r.EntraToken = fx.entra
			if _, err := x.Exchange(ctx, r); err != nil {
				t.Fatal(err)
			}
			reqs, conns := f.requests()
			if want := []string{"GET /v2/ " + alone, "POST /oauth2/exchange " + alone}; !slices.Equal(reqs, want) || conns != 2 {
				t.Errorf("requests %q on %d connections, want %q on 2 (one each)", reqs, conns, want)
			}
			cancel()
			x.work.Wait()
		})
	}
}

// TestPreparedChallengeOverlapsTheEntraToken: Prepare's challenge is on
// its way before any Entra token exists; an Exchange asked for while it is
// still unanswered waits for it instead of asking again; and the exchange
// follows its answer on the same connection.
func TestPreparedChallengeOverlapsTheEntraToken(t *testing.T) {
	fx := newFixtures(t)
	guard := hangGuard(t)
	f := newFakeACR(t, sims(t)[0], fx.entra)
	reached, release := make(chan struct{}), make(chan struct{})
	var answered atomic.Bool
	f.challenge = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(reached)
			select {
			case <-release:
			case <-f.done:
				return
			}
		}
		answered.Store(true)
		challengeWith(`Bearer realm="https://`+f.host+`/oauth2/token",service="`+registryHost+`"`)(w, r, n)
	}
	exchange := f.sim.Handler()
	f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) {
		if !answered.Load() {
			t.Errorf("the exchange was posted before the challenge was answered")
		}
		exchange.ServeHTTP(w, r)
	}
	x := NewExchanger(Options{HTTPClient: f.srv.Client()})
	ctx, cancel := context.WithCancel(guard)
	defer cancel()
	r := token.ExchangeRequest{LoginServer: f.host, Tenant: testTenant}
	x.Prepare(ctx, r)
	// No Exchange has been called, so no Entra token exists: the
	// challenge runs beside whatever fetches it.
	await(t, guard, reached, "the challenge")

	type result struct {
		rt  token.RefreshToken
		err error
	}
	done := make(chan result, 1)
	r.EntraToken = fx.entra
	go func() {
		rt, err := x.Exchange(ctx, r)
		done <- result{rt, err}
	}()
	// The Entra token came first: Exchange has collected the challenge
	// Prepare started, which is still unanswered.
	for x.earlyFor(f.host) > 0 {
		runtime.Gosched()
	}
	close(release)
	res := await(t, guard, done, "Exchange")
	if res.err != nil {
		t.Fatalf("Exchange: %v", res.err)
	}
	if _, err := f.sim.VerifyRefreshToken(registryHost, res.rt.Token); err != nil {
		t.Fatalf("not the simulator's refresh token: %v", err)
	}
	reqs, conns := f.requests()
	if want := []string{"GET /v2/ HTTP/1.1", "POST /oauth2/exchange HTTP/1.1"}; !slices.Equal(reqs, want) || conns != 1 {
		t.Errorf("requests %q on %d connections, want %q on 1", reqs, conns, want)
	}
	cancel()
	x.work.Wait()
}

// earlyFor counts the challenges Prepare started for loginServer that no
// Exchange has collected.
func (x *Exchanger) earlyFor(loginServer string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.early[loginServer])
}

func (w *warmDialer) waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ahead)
}

// TestPrepareWithoutExchangeEndsWithItsContext: what Prepare starts and no
// Exchange collects ends with Prepare's context: its goroutines return,
// a connection dialled ahead is closed, an early answer is dropped; and a
// later Exchange, under a live context, still succeeds.
func TestPrepareWithoutExchangeEndsWithItsContext(t *testing.T) {
	fx := newFixtures(t)
	for _, skip := range []bool{true, false} {
		t.Run(map[bool]string{true: "skip", false: "challenge"}[skip], func(t *testing.T) {
			guard := hangGuard(t)
			f := newFakeACR(t, sims(t)[0], fx.entra)
			x := NewExchanger(Options{HTTPClient: f.srv.Client()})
			ctx, cancel := context.WithCancel(guard)
			r := token.ExchangeRequest{LoginServer: f.host, Tenant: testTenant, SkipChallenge: skip}
			x.Prepare(ctx, r)
			c := await(t, guard, f.accepted, "the connection Prepare makes")
			if skip {
				// The handshake is done before the context ends: the close
				// below is of a connection that was ready and unused.
				w := x.conn().warm
				w.mu.Lock()
				a, n := w.ahead[f.host], len(w.ahead) // f.host is host:port, as the transport names it
				w.mu.Unlock()
				if a == nil || n != 1 {
					t.Fatalf("%d connections offered, none under the login server's address %s", n, f.host)
				}
				await(t, guard, a.ready, "the dial ahead")
				if a.err != nil {
					t.Fatalf("dial ahead: %v", a.err)
				}
			}
			cancel()
			x.work.Wait()
			if n := x.earlyFor(f.host); n != 0 {
				t.Errorf("%d early challenges kept after their context ended", n)
			}
			if skip {
				if n := x.conn().warm.waiting(); n != 0 {
					t.Errorf("%d connections still offered after their context ended", n)
				}
				for closed := await(t, guard, f.closed, "the close"); closed.RemoteAddr().String() != c.RemoteAddr().String(); {
					closed = await(t, guard, f.closed, "the close")
				}
			}
			r.EntraToken = fx.entra
			if _, err := x.Exchange(guard, r); err != nil {
				t.Fatalf("Exchange after Prepare's context ended: %v", err)
			}
			x.work.Wait()
		})
	}
}

// TestDialAheadFailure: a connection dialled ahead that fails is the
// exchange's failure, reported as the exchange's, without dialling again;
// a dial ahead is not made through a proxy or with a RoundTripper that is
// not an *http.Transport.
func TestDialAheadFailure(t *testing.T) {
	fx := newFixtures(t)
	t.Run("untrusted certificate", func(t *testing.T) {
		guard := hangGuard(t)
		f := newFakeACR(t, sims(t)[0], fx.entra)
		// The system's roots do not trust httptest's certificate.
		x := NewExchanger(Options{HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}})
		r := token.ExchangeRequest{LoginServer: f.host, Tenant: testTenant, SkipChallenge: true}
		x.Prepare(guard, r)
		await(t, guard, f.accepted, "the connection Prepare makes")
		r.EntraToken = fx.entra
		_, err := x.Exchange(guard, r)
		var xe *Error
		if !errors.As(err, &xe) || xe.Kind != KindNetwork || xe.Step != "exchange" {
			t.Fatalf("error %v, want a network error of the exchange", err)
		}
		if _, conns := f.requests(); conns != 1 {
			t.Errorf("%d connections, want 1: the failed dial ahead was the exchange's", conns)
		}
	})
	proxyTo := func(u *url.URL, err error) func(*http.Request) (*url.URL, error) {
		return func(*http.Request) (*url.URL, error) { return u, err }
	}
	for _, tt := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		dials bool
	}{
		{name: "no proxy", proxy: nil, dials: true},
		{name: "a proxy excluded for the login server", proxy: proxyTo(nil, nil), dials: true},
		{name: "a proxy", proxy: proxyTo(&url.URL{Scheme: "http", Host: "127.0.0.1:9"}, nil)},
		{name: "a proxy setting in error", proxy: proxyTo(nil, errors.New("bad proxy"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			guard := hangGuard(t)
			f := newFakeACR(t, sims(t)[0], fx.entra)
			tr := f.srv.Client().Transport.(*http.Transport).Clone()
			tr.Proxy = tt.proxy
			x := NewExchanger(Options{HTTPClient: &http.Client{Transport: tr}})
			ctx, cancel := context.WithCancel(guard)
			x.Prepare(ctx, token.ExchangeRequest{LoginServer: f.host, SkipChallenge: true})
			if n := x.conn().warm.waiting(); (n == 1) != tt.dials {
				t.Errorf("%d connections dialled ahead, want dialled: %v", n, tt.dials)
			}
			cancel()
			x.work.Wait()
		})
	}
	t.Run("not an *http.Transport", func(t *testing.T) {
		var calls atomic.Int32
		x := NewExchanger(Options{HTTPClient: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			calls.Add(1)
			return nil, errors.New("no")
		})}})
		ctx, cancel := context.WithCancel(context.Background())
		x.Prepare(ctx, token.ExchangeRequest{LoginServer: "myreg.azurecr.io", SkipChallenge: true})
		cancel()
		x.work.Wait()
		if x.conn().warm != nil || calls.Load() != 0 {
			t.Errorf("a RoundTripper that is not an *http.Transport was warmed, or asked %d times", calls.Load())
		}
	})
}

// TestWarmDialerKeepsHTTP2On: a bare transport, which net/http would have
// let negotiate HTTP/2 by itself, still offers it with the warm dialler
// installed (a custom TLS dial would otherwise turn it off), and offers it
// before its first request, when Prepare dials.
func TestWarmDialerKeepsHTTP2On(t *testing.T) {
	for _, tt := range []struct {
		name string
		t    *http.Transport
		h2   bool
	}{
		{"bare", &http.Transport{}, true},
		{"forced", &http.Transport{TLSClientConfig: &tls.Config{}, ForceAttemptHTTP2: true}, true},
		{"TLS config, not forced", &http.Transport{TLSClientConfig: &tls.Config{}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			newWarmDialer(tt.t)
			var protos []string
			if c := tt.t.TLSClientConfig; c != nil {
				protos = c.NextProtos
			}
			if slices.Contains(protos, "h2") != tt.h2 {
				t.Errorf("NextProtos %q, want h2 offered: %v", protos, tt.h2)
			}
		})
	}
}
