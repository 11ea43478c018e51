package acr

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

// TestStepByStep runs the challenge, the exchange and the registry-token
// request one at a time against the simulated registry, as doctor does.
func TestStepByStep(t *testing.T) {
	fx := newFixtures(t)
	f := newFakeACR(t, sims(t)[0], fx.entra)
	x := NewExchanger(Options{HTTPClient: f.srv.Client()})
	ctx := context.Background()
	ch, err := x.Challenge(ctx, f.host)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Service != registryHost || f.sawToken != 0 {
		t.Fatalf("challenge: service %q, token seen %d times", ch.Service, f.sawToken)
	}
	rt, err := x.ExchangeAt(ctx, ch, token.ExchangeRequest{LoginServer: f.host, EntraToken: fx.entra})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Token == "" || !rt.ExpiresAt.After(time.Now()) || rt.Tenant != testTenant {
		t.Fatalf("exchange: %+v", rt)
	}
	facts, err := x.AccessToken(ctx, ch, rt.Token, "repository:hello:pull")
	if err != nil {
		t.Fatal(err)
	}
	if got := facts.Actions("repository", "hello"); !slices.Equal(got, []string{"pull"}) || facts.ExpiresAt.IsZero() {
		t.Fatalf("access token grants %v, expires %v", got, facts.ExpiresAt)
	}
	if _, err := x.AccessToken(ctx, ch, "not-a-refresh-token", "repository:hello:pull"); err == nil {
		t.Fatal("a bad refresh token got an access token")
	} else if xe, ok := err.(*Error); !ok || xe.Kind != KindUnauthorized || xe.Step != "registry-token" || strings.Contains(err.Error(), "not-a-refresh-token") {
		t.Fatalf("bad refresh token: %v", err)
	}
	if _, err := x.ExchangeAt(ctx, Challenge{}, token.ExchangeRequest{EntraToken: fx.entra}); err == nil {
		t.Fatal("an unchecked challenge was used")
	}
}

func TestChallengeRefusals(t *testing.T) {
	fx := newFixtures(t)
	f := newFakeACR(t, sims(t)[0], fx.entra)
	f.challenge = func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Www-Authenticate", `Bearer realm="https://elsewhere.test/oauth2/token",service="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
	x := NewExchanger(Options{HTTPClient: f.srv.Client()})
	_, err := x.Challenge(context.Background(), f.host)
	if xe, ok := err.(*Error); !ok || xe.Kind != KindRefused {
		t.Fatalf("a realm on another host: %v", err)
	}
}

func TestEntraTokenFacts(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tok := testkit.HS256(t, jwt.MapClaims{"tid": testTenant, "oid": "11111111-2222-3333-4444-555555555555", "azp": "app-1",
		"aud": "https://containerregistry.azure.net", "iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix())})
	f, ok := EntraTokenFacts(tok)
	if !ok || f.Tenant != testTenant || f.ObjectID != "11111111-2222-3333-4444-555555555555" || f.AppID != "app-1" ||
		f.Audience != "https://containerregistry.azure.net" || !f.ExpiresAt.Equal(now.Add(time.Hour)) || !f.NotBefore.Equal(now) {
		t.Fatalf("facts %+v", f)
	}
	bad := testkit.HS256(t, jwt.MapClaims{"tid": "not a tenant"})
	if f, ok := EntraTokenFacts(bad); !ok || f.Tenant != "" {
		t.Fatalf("a tid that is not a tenant: %+v", f)
	}
	if _, ok := EntraTokenFacts("not.a.jwt"); ok {
		t.Fatal("garbage read as a token")
	}
}
