package acr

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TestExchangeGrant: what a successful challenge and exchange send and
// report.
func TestExchangeGrant(t *testing.T) {
	fx := newFixtures(t)
	entra, refresh, noExp := fx.entra, fx.refresh, fx.noExp
	runExchangeCases(t, fx, []exchangeCase{
		{
			name: "success with tenant",
			want: minted,
			checkRT: func(t *testing.T, rt token.RefreshToken) {
				claims, err := sims(t)[0].VerifyRefreshToken(registryHost, rt.Token)
				if err != nil {
					t.Fatal(err)
				}
				iat, exp := time.Unix(int64(claims["iat"].(float64)), 0), time.Unix(int64(claims["exp"].(float64)), 0)
				if rt.Tenant != testTenant || claims["tenant"] != testTenant || !rt.IssuedAt.Equal(iat) || !rt.ExpiresAt.Equal(exp) {
					t.Fatalf("RefreshToken tenant %q, iat %v, exp %v; want %s, the token's iat %v and exp %v", rt.Tenant, rt.IssuedAt, rt.ExpiresAt, testTenant, iat, exp)
				}
			},
			check: func(t *testing.T, e env) {
				if n := len(e.f.forms); n != 1 {
					t.Fatalf("%d exchange forms, want 1", n)
				}
				got := e.f.forms[0]
				want := url.Values{"grant_type": {"access_token"}, "service": {registryHost}, "access_token": {entra}, "tenant": {testTenant}}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("form = %v, want %v", got, want)
				}
			},
		},
		{
			// The provider leaves the tenant to the exchanger; see also
			// TestExchangeSendsNoTenantWithoutATid.
			name:     "no tenant given: the Entra token's tid is sent",
			noTenant: true,
			want:     minted,
			check: func(t *testing.T, e env) {
				if got := e.f.forms[0].Get("tenant"); got != testTenant {
					t.Fatalf("tenant sent = %q, want the Entra token's tid %s", got, testTenant)
				}
			},
			checkRT: func(t *testing.T, rt token.RefreshToken) {
				if rt.Tenant != testTenant {
					t.Fatalf("RefreshToken.Tenant = %q, want %s", rt.Tenant, testTenant)
				}
			},
		},
		{
			name: "challenge without service falls back to the login server",
			setup: func(e env, _ *Options) {
				e.f.challenge = challengeWith(fmt.Sprintf(`Bearer realm="https://%s/oauth2/token"`, e.f.host))
				e.f.exchange = answer(refresh) // the simulator wants its own service name
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
			setup: func(e env, _ *Options) {
				e.f.challenge = func(w http.ResponseWriter, _ *http.Request, _ int) {
					w.Header().Add("Www-Authenticate", `Basic realm="x"`)
					w.Header().Add("Www-Authenticate", fmt.Sprintf(`Negotiate abc==, BEARER service=svc.example, Realm="https://%s/oauth2/token"`, strings.ToUpper(e.f.host)))
					w.WriteHeader(http.StatusUnauthorized)
				}
				e.f.exchange = answer(refresh) // the simulator wants its own service name
			},
			want: refresh,
			check: func(t *testing.T, e env) {
				if got := e.f.forms[0].Get("service"); got != "svc.example" {
					t.Fatalf("service = %q, want svc.example", got)
				}
			},
		},
		{
			name:     "token without exp is still returned",
			exchange: func(w http.ResponseWriter, _ *http.Request, _ int) { fmt.Fprintf(w, `{"refresh_token":%q}`, noExp) },
			want:     noExp,
			checkRT: func(t *testing.T, rt token.RefreshToken) {
				if !rt.ExpiresAt.IsZero() || !rt.IssuedAt.IsZero() {
					t.Fatalf("a token without exp reported iat %v, exp %v; want zero (not cacheable)", rt.IssuedAt, rt.ExpiresAt)
				}
			},
		},
	})
}
