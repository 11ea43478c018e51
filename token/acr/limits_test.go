package acr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// TestExchangeLimits: bodies we cannot use, bodies too large, and
// answers that never come.
func TestExchangeLimits(t *testing.T) {
	fx := newFixtures(t)
	refresh := fx.refresh
	runExchangeCases(t, fx, []exchangeCase{
		{
			name:     "malformed JSON",
			exchange: func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprintf(w, `{"refresh_token":%q`, refresh) },
			wantKind: KindBadResponse,
			wantErr:  []string{"registry answered 200 with a body that is not the expected JSON object"},
		},
		{
			name:     "empty refresh_token",
			exchange: func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, `{"refresh_token":""}`) },
			wantKind: KindBadResponse,
			wantErr:  []string{"without a refresh_token"},
		},
		{
			name:     "no refresh_token",
			exchange: func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprint(w, `{"access_token":"x"}`) },
			wantKind: KindBadResponse,
			wantErr:  []string{"without a refresh_token"},
		},
		{
			name: "refresh_token with whitespace",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					fmt.Fprintf(w, `{"refresh_token":%q}`, refresh+"\n")
				}
			},
			wantKind: KindBadResponse,
			wantErr:  []string{"characters no token has"},
		},
		{
			name: "oversized body",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					fmt.Fprintf(w, `{"refresh_token":%q,"pad":"%s"}`, refresh, strings.Repeat("a", maxResponseBytes))
				}
			},
			wantKind: KindBadResponse,
			wantErr:  []string{"larger than 1048576 bytes"},
		},
		{
			name: "oversized error body",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, _ *http.Request, _ int) {
					w.WriteHeader(401)
					fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"%s"}]}`, strings.Repeat("a", maxResponseBytes))
				}
			},
			wantKind: KindUnauthorized,
			wantErr:  []string{"401 Unauthorized (body larger than 1048576 bytes)"},
		},
		{
			name: "server hangs before answering",
			setup: func(e env, o *Options) {
				o.Timeout = 200 * time.Millisecond
				e.f.exchange = func(_ http.ResponseWriter, r *http.Request, _ int) { e.f.hang(r) }
			},
			wantKind: KindNetwork,
			wantIs:   context.DeadlineExceeded,
			wantErr:  []string{"got no answer within 200ms"},
		},
		{
			name: "server hangs mid-body",
			setup: func(e env, o *Options) {
				o.Timeout = 200 * time.Millisecond
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) {
					fmt.Fprint(w, `{"refresh_token":"abc`)
					w.(http.Flusher).Flush()
					e.f.hang(r)
				}
			},
			wantKind: KindNetwork,
			wantIs:   context.DeadlineExceeded,
		},
		{
			// The caller's deadline comes before the per-request timeout:
			// the error says which URL hung and how often it was tried.
			name: "exchange hangs past the caller's deadline",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, n int) {
					if n == 1 {
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					e.f.hang(r)
				}
			},
			ctx: func() (context.Context, context.CancelFunc) {
				// Room for the retry after the 503 even on a slow machine.
				return context.WithTimeout(context.Background(), 3*time.Second)
			},
			waits:    []time.Duration{200 * time.Millisecond},
			wantKind: KindNetwork,
			wantIs:   context.DeadlineExceeded,
			wantErr:  []string{"exchange at 127.0.0.1:", "POST https://127.0.0.1:", "/oauth2/exchange got no answer in ", "when the caller's deadline passed (2 tries)"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.Tries != 2 || xe.Step != "exchange" || !strings.HasPrefix(xe.Endpoint, "https://127.0.0.1:") || !strings.HasSuffix(xe.Endpoint, "/oauth2/exchange") {
					t.Fatalf("facts: Step %q, Tries %d, Endpoint %q", xe.Step, xe.Tries, xe.Endpoint)
				}
			},
		},
		{
			name: "challenge hangs past the caller's deadline",
			setup: func(e env, _ *Options) {
				e.f.challenge = func(_ http.ResponseWriter, r *http.Request, _ int) { e.f.hang(r) }
			},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			wantKind: KindNetwork,
			wantIs:   context.DeadlineExceeded,
			wantErr:  []string{"challenge at 127.0.0.1:", "GET https://127.0.0.1:", "/v2/ got no answer in ", "when the caller's deadline passed (1 try)"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.Tries != 1 || xe.Step != "challenge" || !strings.HasSuffix(xe.Endpoint, "/v2/") {
					t.Fatalf("facts: Step %q, Tries %d, Endpoint %q", xe.Step, xe.Tries, xe.Endpoint)
				}
				// The wait is told as it was, also when the challenge was
				// one Prepare started and Exchange waited for.
				if strings.Contains(xe.Error(), " in 0s,") {
					t.Errorf("the wait is told as 0s: %v", xe)
				}
			},
		},
		{
			name: "caller cancels",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(_ http.ResponseWriter, r *http.Request, _ int) { e.f.hang(r) }
			},
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() { time.Sleep(50 * time.Millisecond); cancel() }()
				return ctx, cancel
			},
			wantKind: KindNetwork,
			wantIs:   context.Canceled,
			wantErr:  []string{"was cancelled"},
		},
	})
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
				f := newFakeACR(t, sims(t)[0], entra)
				f.exchange = tc.answer(strings.Repeat("p", off))
				var logs bytes.Buffer
				x := NewExchanger(Options{HTTPClient: f.srv.Client(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				_, err := x.Exchange(context.Background(), token.ExchangeRequest{LoginServer: f.host, EntraToken: entra, Tenant: testTenant})
				var xe *Error
				if !errors.As(err, &xe) {
					t.Fatalf("err = %v, want an *Error", err)
				}
				for _, text := range []string{err.Error(), fmt.Sprintf("%#v", *xe), logs.String()} {
					leak.AssertNoFragment(t, text, entra, 8)
				}
			}
		})
	}
}
