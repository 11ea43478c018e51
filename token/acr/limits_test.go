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
