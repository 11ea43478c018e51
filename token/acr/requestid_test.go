package acr

import (
	"net/http"
	"strings"
	"testing"
)

func TestRequestIDInErrors(t *testing.T) {
	fx := newFixtures(t)
	withHeader := func(name, value string, inner func(http.ResponseWriter, *http.Request, int)) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set(name, value)
			inner(w, r, n)
		}
	}
	runExchangeCases(t, fx, []exchangeCase{
		{
			name: "correlation id",
			setup: func(e env, _ *Options) {
				e.f.exchange = withHeader("X-Ms-Correlation-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e", acrError(401, "UNAUTHORIZED", "aad token is invalid"))
			},
			wantKind: KindUnauthorized,
			wantErr:  []string{"(registry request id 0f8fad5b-d9cb-469f-a165-70867728950e)"},
			checkErr: func(t *testing.T, xe *Error) {
				if xe.RequestID != "0f8fad5b-d9cb-469f-a165-70867728950e" {
					t.Fatalf("RequestID = %q", xe.RequestID)
				}
			},
		},
		{
			name: "request id when no correlation id",
			setup: func(e env, _ *Options) {
				e.f.exchange = withHeader("X-Ms-Request-Id", "7c9e6679-7425-40de-944b-e07fc1f90ae7", acrError(403, "DENIED", "denied"))
			},
			wantKind: KindForbidden,
			wantErr:  []string{"registry request id 7c9e6679-7425-40de-944b-e07fc1f90ae7"},
		},
		{
			name: "an id echoing the token is redacted and clipped",
			setup: func(e env, _ *Options) {
				e.f.exchange = withHeader("X-Ms-Correlation-Request-Id", fx.entra+strings.Repeat("x", 200), acrError(401, "UNAUTHORIZED", "no"))
			},
			wantKind: KindUnauthorized,
			wantErr:  []string{"registry request id [redacted"},
			checkErr: func(t *testing.T, xe *Error) {
				if len(xe.RequestID) > maxRequestID {
					t.Fatalf("RequestID is %d bytes", len(xe.RequestID))
				}
			},
		},
	})
}
