package acr

import (
	"context"
	"fmt"
	"net/http"
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
						w.Header().Set("Retry-After", "3600")
					} else {
						w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
					}
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			wantKind: KindThrottled,
			wantErr:  []string{"registry answered 429 Too Many Requests", "throttling"},
			waits:    []time.Duration{2 * time.Second, 2 * time.Second},
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
