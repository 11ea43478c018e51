package acr

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TestExchangeRetries: 429 and 5xx are retried briefly, with the waits
// asked for; nothing else is.
func TestExchangeRetries(t *testing.T) {
	fx := newFixtures(t)
	entra, refresh := fx.entra, fx.refresh
	runExchangeCases(t, fx, []exchangeCase{
		{
			name: "503 then success",
			setup: func(e env, _ *Options) {
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
			exchange: acrError(503, "UNAVAILABLE", "try later"),
			wantKind: KindUnavailable,
			wantErr:  []string{`503 UNAVAILABLE "try later"`, "attempts: 3"},
			waits:    []time.Duration{200 * time.Millisecond, 400 * time.Millisecond},
		},
		{
			name: "backoff is capped at 1s",
			setup: func(e env, o *Options) {
				o.MaxRetries, o.RetryBackoff = 3, 800*time.Millisecond
				e.f.exchange = acrError(502, "", "")
			},
			wantKind: KindUnavailable,
			waits:    []time.Duration{800 * time.Millisecond, time.Second, time.Second},
		},
		{
			name: "retries off",
			setup: func(e env, o *Options) {
				o.MaxRetries = -1
				e.f.exchange = acrError(503, "", "")
			},
			wantKind: KindUnavailable,
			wantErr:  []string{"attempts: 1"},
		},
		{
			name: "429 with Retry-After",
			setup: func(e env, _ *Options) {
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
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
					if n == 1 {
						w.Header().Set("Retry-After", "5")
					} else {
						w.Header().Set("Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))
					}
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			wantKind: KindThrottled,
			wantErr:  []string{"registry answered 429 Too Many Requests", "throttling", "attempts: 3"},
			waits:    []time.Duration{2 * time.Second, 2 * time.Second},
		},
		{
			// The server says when it will answer; retrying sooner is
			// pointless and waiting would pass the deadline (the hang
			// guard's minute here).
			name: "429 Retry-After past the deadline is not waited",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					w.Header().Set("Retry-After", "3600")
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			wantKind: KindThrottled,
			wantErr:  []string{"registry answered 429 Too Many Requests", "attempts: 1; not retried again: the registry asked to retry after 1h0m0s"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.Tries != 1 || !strings.HasSuffix(xe.Endpoint, "/oauth2/exchange") || !strings.HasPrefix(xe.Endpoint, "https://") {
					t.Fatalf("Tries %d, Endpoint %q; want 1 and the exchange URL", xe.Tries, xe.Endpoint)
				}
			},
			check: func(t *testing.T, e env) {
				if n := e.f.count("/oauth2/exchange"); n != 1 {
					t.Fatalf("%d exchanges, want 1", n)
				}
			},
		},
		{
			// Under a second left after the 200 ms backoff: the 503 in
			// hand is the answer, at once.
			name:     "503 near the deadline is not retried",
			exchange: acrError(503, "UNAVAILABLE", "try later"),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 800*time.Millisecond)
			},
			wantKind: KindUnavailable,
			wantErr:  []string{`503 UNAVAILABLE "try later"`, "attempts: 1; not retried again: another try could not finish before the deadline"},
		},
		{
			name: "500 on /v2/ then challenge",
			setup: func(e env, _ *Options) {
				e.f.challenge = func(w http.ResponseWriter, r *http.Request, n int) {
					if n == 1 {
						w.WriteHeader(500)
						return
					}
					e.f.sim.Handler().ServeHTTP(w, r)
				}
			},
			want:  minted,
			waits: []time.Duration{200 * time.Millisecond},
		},
	})
}

// TestExchangeRealSleep runs the retry path with the real timer, briefly.
func TestExchangeRealSleep(t *testing.T) {
	entra := rawJWT(`{"alg":"RS256"}`, `{"tid":"`+testTenant+`"}`, "c2lnbmF0dXJlLXJlYWwtc2xlZXA")
	f := newFakeACR(t, sims(t)[0], entra)
	f.exchange = func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"refresh_token":"rt"}`)
	}
	x := NewExchanger(Options{HTTPClient: f.srv.Client(), RetryBackoff: time.Millisecond})
	got, err := x.Exchange(context.Background(), token.ExchangeRequest{LoginServer: f.host, EntraToken: entra})
	if err != nil || got.Token != "rt" {
		t.Fatalf("Exchange = %q, %v", got, err)
	}
}

// TestRetryPlan: the retries spend the caller's deadline. A wait is taken
// only when a try of at least minTryLeft can follow it; a Retry-After past
// the deadline is not waited at all; without a deadline, only the cap
// applies.
func TestRetryPlan(t *testing.T) {
	const capWait = 2 * time.Second
	for _, tt := range []struct {
		name        string
		asked       time.Duration
		fromHeader  bool
		left        time.Duration
		hasDeadline bool
		wait        time.Duration
		stop        string // part of the reason, "" to retry
	}{
		{"backoff, plenty left", 200 * time.Millisecond, false, 9 * time.Second, true, 200 * time.Millisecond, ""},
		{"backoff, no deadline", time.Second, false, 0, false, time.Second, ""},
		{"backoff leaves exactly a try", 200 * time.Millisecond, false, 1200 * time.Millisecond, true, 200 * time.Millisecond, ""},
		{"backoff leaves less than a try", 200 * time.Millisecond, false, 1199 * time.Millisecond, true, 0, "another try could not finish before the deadline, 1.199s away"},
		{"deadline already passed", 200 * time.Millisecond, false, -time.Second, true, 0, "could not finish"},
		{"Retry-After within the budget", time.Second, true, 9 * time.Second, true, time.Second, ""},
		{"Retry-After capped", 5 * time.Second, true, 9 * time.Second, true, capWait, ""},
		{"Retry-After past the deadline", 9 * time.Second, true, 9500 * time.Millisecond, true, 0, "the registry asked to retry after 9s, and the deadline is 9.5s away"},
		{"Retry-After an hour, no deadline: capped", time.Hour, true, 0, false, capWait, ""},
		{"Retry-After 0", 0, true, 1500 * time.Millisecond, true, 0, ""},
	} {
		wait, stop := retryPlan(tt.asked, tt.fromHeader, capWait, tt.left, tt.hasDeadline)
		if wait != tt.wait || (tt.stop == "") != (stop == "") || !strings.Contains(stop, tt.stop) {
			t.Errorf("%s: retryPlan = %v, %q; want %v, %q", tt.name, wait, stop, tt.wait, tt.stop)
		}
	}
}
