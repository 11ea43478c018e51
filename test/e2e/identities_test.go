//go:build e2e

package e2e

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// TestHostileHosts: for anything that is not an ACR login server the
// helper answers "not found" and sends nothing anywhere — not to IMDS, not
// to Entra, not to the look-alike host (which the namespace maps to the
// simulator, so a request would be seen).
func TestHostileHosts(t *testing.T) {
	u := newUser(t, harness.UserOptions{Sources: "auto", FakeAz: true, Env: map[string]string{"DOCKER_CREDENTIAL_ACR_LOG": "debug"}})
	inputs := []string{
		"myreg.azurecr.io.evil.test",
		"https://myreg.azurecr.io.evil.test",
		"myreg.azurecr.io.evil.test:443",
		"evilazurecr.io",
		"azurecr.io",
		"myreg.westeurope.data.azurecr.io",
		"https://user@myreg.azurecr.io",
		"myreg.azurecr.io:8443",
		"myreg.azurecr.io/v2/evil",
		"docker.io",
		"localhost:5000",
		"127.0.0.1",
		"169.254.169.254",
		"login.microsoftonline.com",
	}
	before := world.Sim.Stats()
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			r := get(t, u, in)
			if r.Code != 1 || !strings.Contains(r.Stdout, "credentials not found in native keychain") {
				t.Errorf("get %q: exit %d, stdout %q; want exit 1 and the not-found text", in, r.Code, r.Stdout)
			}
		})
	}
	d := world.Sim.Stats().Since(before)
	if len(d.Requests) != 0 {
		t.Errorf("the helper sent %d request(s) for hosts that are not login servers, to %v:\n%s", len(d.Requests), hostsOf(d), d.CountSummary())
	}
}

// TestIdentitySources: each identity source alone gives a refresh token
// for exactly its identity, which a real client then uses, and a second
// `get` is served from the cache.
func TestIdentitySources(t *testing.T) {
	ensureImage(t)
	sim := world.Sim
	const (
		uaClient = "11111111-1111-4111-8111-111111111111"
		wiClient = "22222222-2222-4222-8222-222222222222"
		subject  = "system:serviceaccount:default:builder"
	)
	sim.AddUserAssignedIdentity(uaClient)
	sim.AddApp(azuresim.App{ClientID: wiClient, Federated: []azuresim.FederatedCredential{{Issuer: sim.OIDCIssuer(), Subject: subject}}})
	tokenFile := filepath.Join(world.Dir, "federated-token")
	tok, err := sim.FederatedToken(subject, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		spSecretClient = "33333333-3333-4333-8333-333333333333"
		spCertClient   = "44444444-4444-4444-8444-444444444444"
		ghClient       = "55555555-5555-4555-8555-555555555555"
		adoClient      = "66666666-6666-4666-8666-666666666666"
		ghSubject      = "repo:octo/app:ref:refs/heads/main"
		adoSubject     = "sc://octo/app/acr-push"
		adoConnection  = "77777777-7777-4777-8777-777777777777"
	)
	sim.AddApp(azuresim.App{ClientID: spSecretClient, Secret: "e2e-client-secret"})
	cc, err := azuresim.NewClientCertificate("e2e service principal")
	if err != nil {
		t.Fatal(err)
	}
	sim.AddApp(azuresim.App{ClientID: spCertClient, Certificates: []*x509.Certificate{cc.Cert}})
	certFile := filepath.Join(world.Dir, "sp-cert.pem")
	if err := os.WriteFile(certFile, append(append([]byte{}, cc.CertPEM...), cc.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	sim.AddApp(azuresim.App{ClientID: ghClient, Kind: "github", Federated: []azuresim.FederatedCredential{{Issuer: azuresim.GitHubIssuer, Subject: ghSubject}}})
	ghURL := sim.AddGitHubJob("e2e-github-request-token", ghSubject)
	sim.AddApp(azuresim.App{ClientID: adoClient, Kind: "pipelines", Federated: []azuresim.FederatedCredential{{Issuer: azuresim.PipelinesIssuer, Subject: adoSubject}}})
	adoURL := sim.AddPipelinesJob("e2e-system-access-token", adoConnection, adoSubject)

	workloadEnv := map[string]string{
		"AZURE_CLIENT_ID":            wiClient,
		"AZURE_TENANT_ID":            sim.TenantID(),
		"AZURE_FEDERATED_TOKEN_FILE": tokenFile,
		"AZURE_AUTHORITY_HOST":       "https://login.microsoftonline.com/",
	}

	tests := []struct {
		name     string
		opts     harness.UserOptions
		identity string
		entra    string // endpoint that must have given the Entra token
	}{
		{"managed system-assigned", harness.UserOptions{Sources: "managed"}, "managed:system", azuresim.EndpointIMDS},
		{"managed user-assigned", harness.UserOptions{Sources: "managed", Env: map[string]string{"AZURE_CLIENT_ID": uaClient}}, "managed:" + uaClient, azuresim.EndpointIMDS},
		{"workload identity", harness.UserOptions{Sources: "workload", Env: workloadEnv}, "workload:" + wiClient, azuresim.EndpointEntraToken},
		{"workload identity, automatic order", harness.UserOptions{Sources: "auto", Env: workloadEnv}, "workload:" + wiClient, azuresim.EndpointEntraToken},
		{"workload identity, token in AZURE_FEDERATED_TOKEN", harness.UserOptions{Sources: "workload", Env: map[string]string{
			"AZURE_CLIENT_ID": wiClient, "AZURE_TENANT_ID": sim.TenantID(), "AZURE_FEDERATED_TOKEN": tok}}, "workload:" + wiClient, azuresim.EndpointEntraToken},
		{"service principal, secret", harness.UserOptions{Sources: "env", Env: map[string]string{
			"AZURE_CLIENT_ID": spSecretClient, "AZURE_TENANT_ID": sim.TenantID(), "AZURE_CLIENT_SECRET": "e2e-client-secret"}}, "app:" + spSecretClient, azuresim.EndpointEntraToken},
		{"service principal, certificate", harness.UserOptions{Sources: "env", Env: map[string]string{
			"AZURE_CLIENT_ID": spCertClient, "AZURE_TENANT_ID": sim.TenantID(), "AZURE_CLIENT_CERTIFICATE_PATH": certFile}}, "app:" + spCertClient, azuresim.EndpointEntraToken},
		{"github actions", harness.UserOptions{Sources: "github", Env: map[string]string{
			"AZURE_CLIENT_ID": ghClient, "AZURE_TENANT_ID": sim.TenantID(),
			"ACTIONS_ID_TOKEN_REQUEST_URL": ghURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "e2e-github-request-token"}}, "github:" + ghClient, azuresim.EndpointEntraToken},
		{"azure pipelines", harness.UserOptions{Sources: "pipelines", Env: map[string]string{
			"AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": adoConnection, "AZURESUBSCRIPTION_CLIENT_ID": adoClient,
			"AZURESUBSCRIPTION_TENANT_ID": sim.TenantID(), "SYSTEM_ACCESSTOKEN": "e2e-system-access-token", "SYSTEM_OIDCREQUESTURI": adoURL}}, "pipelines:" + adoClient, azuresim.EndpointEntraToken},
		{"azure cli", harness.UserOptions{Sources: "cli", FakeAz: true}, "cli:" + sim.CLIUser().ObjectID, azuresim.EndpointAz},
		{"azure cli with tenant", harness.UserOptions{Sources: "cli", FakeAz: true, Env: map[string]string{"AZURE_TENANT_ID": sim.TenantID()}}, "cli:" + sim.CLIUser().ObjectID, azuresim.EndpointAz},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Env = merge(tt.opts.Env, map[string]string{"DOCKER_CREDENTIAL_ACR_LOG": "debug"})
			u := newUser(t, tt.opts)
			before := sim.Stats()
			creds := getCreds(t, u, harness.Registry1)
			if creds.Username != "<token>" || creds.ServerURL != harness.Registry1 {
				t.Errorf("get answered %q / %q, want <token> / %s", creds.Username, creds.ServerURL, harness.Registry1)
			}
			if _, err := sim.VerifyRefreshToken(harness.Registry1, creds.Secret); err != nil {
				t.Errorf("the secret is not a valid refresh token of %s: %v", harness.Registry1, err)
			}
			d := sim.Stats().Since(before)
			if len(d.Exchanges) != 1 || d.Exchanges[0].Identity != tt.identity || d.Exchanges[0].Status != 200 {
				t.Fatalf("exchanges %v, want one for %s", identities(d.Exchanges), tt.identity)
			}
			if got := d.Exchanges[0].Tenant; got != sim.TenantID() {
				t.Errorf("exchange sent tenant %q, want %s (AZURE_TENANT_ID, else the token's tid)", got, sim.TenantID())
			}
			if strings.HasPrefix(tt.identity, "github:") && d.Total(azuresim.EndpointGitHubOIDC) != 1 ||
				strings.HasPrefix(tt.identity, "pipelines:") && d.Total(azuresim.EndpointPipelines) != 1 {
				t.Errorf("the CI's ID token service should be asked once:\n%s", d.CountSummary())
			}
			if d.Total(tt.entra) != 1 {
				t.Errorf("the Entra token should come from %s once:\n%s", tt.entra, d.CountSummary())
			}

			// A real client uses it, through credHelpers and the cache.
			before = sim.Stats()
			run(t, u, "crane", "digest", ref1)
			d = sim.Stats().Since(before)
			if n := d.Total(azuresim.EndpointExchange); n != 0 {
				t.Errorf("crane after get made %d exchange(s), want 0 (cached)", n)
			}
			if d.Total(azuresim.EndpointACRToken) == 0 {
				t.Errorf("crane did not use the refresh token at /oauth2/token")
			}
		})
	}
}

// TestARMAudience: with an ARM scope the exchange refuses while the
// registry's ARM policy is off, and the helper says so; with the policy on
// the token works.
func TestARMAudience(t *testing.T) {
	if err := world.Sim.AllowARMAudience(harness.Registry2, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = world.Sim.AllowARMAudience(harness.Registry2, false) })
	u := newUser(t, harness.UserOptions{Env: map[string]string{"DOCKER_CREDENTIAL_ACR_SCOPE": "https://management.azure.com/.default", "DOCKER_CREDENTIAL_ACR_LOG": "debug"}})

	r := get(t, u, harness.Registry1)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "arm aad token disallowed") {
		t.Errorf("ARM token at a registry that refuses it: exit %d, want a failure quoting ACR's %q:\n%s", r.Code, "arm aad token disallowed", r.Failure())
	}
	r = get(t, u, harness.Registry2)
	if r.Code != 0 {
		t.Fatalf("ARM token at a registry that allows it: %s", r.Failure())
	}
	ex := world.Sim.Stats().Exchanges
	if last := ex[len(ex)-1]; strings.TrimSuffix(last.Audience, "/") != azuresim.ARMAudience {
		t.Errorf("last exchange had audience %q, want the ARM audience", last.Audience)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestUnknownIdentity: a user-assigned identity the VM does not have fails
// with a message and sends no token to any registry.
func TestUnknownIdentity(t *testing.T) {
	u := newUser(t, harness.UserOptions{Sources: "managed", Env: map[string]string{"AZURE_CLIENT_ID": "99999999-9999-4999-8999-999999999999"}})
	before := world.Sim.Stats()
	r := get(t, u, harness.Registry1)
	if r.Code != 1 || strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("get with an identity the VM lacks: exit %d, stdout %q; want exit 1 and a message", r.Code, r.Stdout)
	}
	if strings.Contains(r.Stdout, "credentials not found in native keychain") {
		t.Errorf("the failure reads as 'not found', which makes docker go anonymous in silence: %q", r.Stdout)
	}
	t.Logf("helper said: %s", strings.TrimSpace(r.Stdout))
	if d := world.Sim.Stats().Since(before); d.Total(azuresim.EndpointExchange) != 0 {
		t.Errorf("an exchange was attempted without a token: %v", identities(d.Exchanges))
	}
}

// TestCacheCommands: list shows the cached registry, erase drops it, and
// the next get exchanges again; store stores nothing.
func TestCacheCommands(t *testing.T) {
	u := newUser(t, harness.UserOptions{Sources: "managed"})
	ctx := ctxFor(t)
	before := world.Sim.Stats()
	if r := get(t, u, harness.Registry1); r.Code != 0 {
		t.Fatalf("%s", r.Failure())
	}
	if r := u.Helper(ctx, "list", ""); r.Code != 0 || !strings.Contains(r.Stdout, harness.Registry1) {
		t.Errorf("list after get: %s", r.Failure())
	}
	if r := u.Helper(ctx, "erase", harness.Registry1); r.Code != 0 {
		t.Errorf("erase: %s", r.Failure())
	}
	if r := u.Helper(ctx, "list", ""); r.Code != 0 || strings.Contains(r.Stdout, harness.Registry1) {
		t.Errorf("list after erase still shows %s: %s", harness.Registry1, r.Failure())
	}
	if r := get(t, u, harness.Registry1); r.Code != 0 {
		t.Fatalf("%s", r.Failure())
	}
	if n := world.Sim.Stats().Since(before).Count(harness.Registry1, azuresim.EndpointExchange); n != 2 {
		t.Errorf("get, erase, get made %d exchanges, want 2", n)
	}
	store := `{"ServerURL":"myreg.azurecr.io","Username":"user","Secret":"hunter2"}`
	r := u.Helper(ctx, "store", store)
	if r.Code == 0 {
		t.Errorf("store succeeded; it must refuse (this helper stores nothing): %s", r.Failure())
	}
	if strings.Contains(r.Stdout+r.Stderr, "hunter2") {
		t.Errorf("store echoed the secret it was given")
	}
}

// TestConfigFile: a config file gives two registries two identities in one
// cache; the zero-GUID username form makes clients use ACR's Basic GET,
// which works too.
func TestConfigFile(t *testing.T) {
	ensureImage(t)
	sim := world.Sim
	const (
		idA = "a1a1a1a1-1111-4111-8111-111111111111"
		idB = "b2b2b2b2-2222-4222-8222-222222222222"
	)
	sim.AddUserAssignedIdentity(idA)
	sim.AddUserAssignedIdentity(idB)
	cfg := filepath.Join(world.Dir, "two-identities.yaml")
	yaml := "default:\n  sources: [managed]\nregistries:\n" +
		"  - match: " + harness.Registry1 + "\n    clientID: " + idA + "\n" +
		"  - match: " + harness.Registry2 + "\n    clientID: " + idB + "\n    username: zero-guid\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, harness.UserOptions{Sources: "auto", Env: map[string]string{"DOCKER_CREDENTIAL_ACR_CONFIG": cfg}})

	before := sim.Stats()
	for _, tc := range []struct{ host, identity, username string }{
		{harness.Registry1, "managed:" + idA, "<token>"},
		{harness.Registry2, "managed:" + idB, "00000000-0000-0000-0000-000000000000"},
	} {
		c := getCreds(t, u, tc.host)
		if c.Username != tc.username {
			t.Errorf("%s: username %q, want %q", tc.host, c.Username, tc.username)
		}
		ex := sim.Stats().Since(before).Exchanges
		if len(ex) == 0 || ex[len(ex)-1].Host != tc.host || ex[len(ex)-1].Identity != tc.identity {
			t.Errorf("%s: exchanges %v, want the last for %s", tc.host, identities(ex), tc.identity)
		}
	}
	mid := sim.Stats()
	run(t, u, "crane", "digest", ref1)
	run(t, u, "crane", "catalog", harness.Registry2)
	d := sim.Stats().Since(mid)
	if n := d.Total(azuresim.EndpointExchange); n != 0 {
		t.Errorf("clients after get made %d exchanges, want 0: the two entries should both be cached", n)
	}
	basic := 0
	for _, r := range d.Requests {
		if r.Host == harness.Registry2 && r.Endpoint == azuresim.EndpointACRToken && r.Method == "GET" && r.Status == 200 {
			basic++
		}
	}
	if basic == 0 {
		t.Errorf("with the zero-GUID username crane should GET /oauth2/token with Basic auth; saw:\n%s", d.CountSummary())
	}
	if n := sim.Stats().Since(before).Total(azuresim.EndpointExchange); n != 2 {
		t.Errorf("%d exchanges in all, want 2 (one per registry and identity)", n)
	}
}
