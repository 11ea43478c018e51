package credhelper_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TestChallengeByForm: a get reads the registry's challenge only where the
// login server's form does not fix the exchange endpoint and service
// (regional, custom clouds), or where the settings ask for it always; the
// exchange succeeds either way, once.
func TestChallengeByForm(t *testing.T) {
	const (
		standard = "myreg.azurecr.io"
		other    = "otherreg.azurecr.io"
		dnl      = "myreg-e7ggejfuhzhgedc8.azurecr.io"
		regional = "myreg.eastus2.geo.azurecr.io"
		custom   = "myreg.azurecr.contoso.local"
	)
	acr := newFakeACR(standard, other, dnl, regional, custom)
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	const stack = "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n"
	for _, tt := range []struct {
		name, host string
		env        map[string]string
		yaml       string
		challenges int
	}{
		{name: "standard", host: standard},
		{name: "dnl", host: dnl},
		{name: "regional", host: regional, challenges: 1},
		{name: "custom cloud", host: custom, yaml: stack, challenges: 1},
		{name: "regional, auto from the environment", host: regional, env: map[string]string{config.EnvChallenge: "auto"}, challenges: 1},
		{name: "standard, always from the environment", host: standard, env: map[string]string{config.EnvChallenge: "always"}, challenges: 1},
		{name: "dnl, always from the default entry", host: dnl, yaml: "default:\n  challenge: always\n", challenges: 1},
		{name: "standard, always for its entry", host: standard, yaml: "registries:\n  - match: " + standard + "\n    challenge: always\n", challenges: 1},
		{name: "another registry than the entry's", host: other, yaml: "registries:\n  - match: " + standard + "\n    challenge: always\n"},
		{name: "the environment beats the file", host: standard, yaml: "default:\n  challenge: always\n", env: map[string]string{config.EnvChallenge: "auto"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			h := credhelper.New(credhelper.Options{
				Getenv: func(k string) string { return tt.env[k] }, Cache: token.NoCache{},
				Credential: cred, CredentialIdentity: "test", HTTPClient: acr.client(), Config: cfg,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			before := acr.sim.Stats()
			if _, secret, err := h.Get(tt.host); err != nil || secret == "" {
				t.Fatalf("get %s: %v", tt.host, err)
			}
			d := acr.sim.Stats().Since(before)
			if n := d.Count(tt.host, azuresim.EndpointChallenge); n != tt.challenges {
				t.Errorf("%d challenges read, want %d", n, tt.challenges)
			}
			if n := d.Count(tt.host, azuresim.EndpointExchange); n != 1 {
				t.Errorf("%d exchanges, want 1", n)
			}
			// One connection, and nothing else asked of anybody.
			if n := d.Count(tt.host, azuresim.EndpointTLSHello); n != 1 {
				t.Errorf("%d TLS handshakes with the registry, want 1: %s", n, d.CountSummary())
			}
			if n := d.Total(azuresim.EndpointChallenge) + d.Total(azuresim.EndpointExchange) + d.Total(azuresim.EndpointTLSHello); n != len(d.Requests) {
				t.Errorf("other requests than the challenge and the exchange: %s", d.CountSummary())
			}
			if tt.challenges > 0 && !strings.Contains(logs.String(), `msg="acr request" step=challenge`) {
				t.Errorf("the challenge has no log line of its own:\n%s", logs.String())
			}
		})
	}
}
