package credhelper_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

func noEnv(string) string { return "" }

func newHelper(t *testing.T, acr *fakeACR, cred *staticCredential, cache token.Cache) *credhelper.Helper {
	t.Helper()
	return credhelper.New(credhelper.Options{
		Getenv:             noEnv,
		Cache:              cache,
		Credential:         cred,
		CredentialIdentity: "test",
		HTTPClient:         acr.client(),
		Config:             &config.Config{},
	})
}

func TestGetThroughTheProtocol(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	cacheDir := t.TempDir()
	if err := os.Chmod(cacheDir, 0o700); err != nil { // filecache refuses a group-writable dir (umask 002)
		t.Fatal(err)
	}
	h := newHelper(t, acr, cred, filecache.New(cacheDir, filecache.Options{}))

	spellings := []string{"myreg.azurecr.io", "https://myreg.azurecr.io", "myreg.azurecr.io/", "MyReg.AzureCR.io", "myreg.azurecr.io:443"}
	var secrets []string
	for _, in := range spellings {
		var out bytes.Buffer
		if err := credentials.HandleCommand(h, credentials.ActionGet, strings.NewReader(in+"\n"), &out); err != nil {
			t.Fatalf("get %q: %v", in, err)
		}
		var c credentials.Credentials
		if err := json.Unmarshal(out.Bytes(), &c); err != nil {
			t.Fatalf("get %q printed %q: %v", in, out.String(), err)
		}
		if c.ServerURL != in || c.Username != credhelper.TokenUsername || c.Secret == "" {
			t.Fatalf("get %q = %+v", in, c)
		}
		secrets = append(secrets, c.Secret)
	}
	for _, s := range secrets[1:] {
		if s != secrets[0] {
			t.Fatal("the spellings of one registry got different tokens: the cache key is not canonical")
		}
	}
	if n := acr.exchanges(); n != 1 {
		t.Fatalf("%d exchanges for one registry, want 1", n)
	}
	if n := cred.calls.Load(); n != 1 {
		t.Fatalf("%d Entra token requests, want 1", n)
	}
	// The simulator answers 200 only to service=<the registry> and an
	// Entra token it issued, here the CLI user's.
	if ex := acr.lastExchange(); ex.Host != "myreg.azurecr.io" || ex.Status != http.StatusOK || ex.Identity != acr.sim.CLIUser().String() {
		t.Fatalf("exchange: %+v", ex)
	}

	// list shows the registry; erase forgets it; the next get exchanges again.
	var out bytes.Buffer
	if err := credentials.HandleCommand(h, credentials.ActionList, nil, &out); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != `{"myreg.azurecr.io":"\u003ctoken\u003e"}` {
		t.Fatalf("list = %s", out.String())
	}
	if err := credentials.HandleCommand(h, credentials.ActionErase, strings.NewReader("https://myreg.azurecr.io"), &out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Get("myreg.azurecr.io"); err != nil {
		t.Fatal(err)
	}
	if n := acr.exchanges(); n != 2 {
		t.Fatalf("after erase: %d exchanges, want 2", n)
	}
}

func TestNotOursMakesNoRequest(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	h := newHelper(t, acr, cred, token.NoCache{})
	for _, in := range []string{"docker.io", "myreg.azurecr.io.evil.com", "evilazurecr.io", "myreg.westus.data.azurecr.io", "myreg.azurecr.io:5000", "user:pw@myreg.azurecr.io", "http://myreg.azurecr.io"} {
		_, _, err := h.Get(in)
		if !credentials.IsErrCredentialsNotFound(err) {
			t.Errorf("Get(%q) = %v, want not found", in, err)
		}
	}
	if cred.calls.Load() != 0 || acr.exchanges() != 0 {
		t.Fatalf("a host that is not ours caused %d token requests and %d exchanges", cred.calls.Load(), acr.exchanges())
	}
}

func TestZeroGUIDUsername(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cfg, err := config.Parse([]byte("registries:\n  - match: kubereg.azurecr.io\n    username: zero-guid\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Credential: acr.credential(azuresim.ACRAudience), CredentialIdentity: "t", HTTPClient: acr.client(), Config: cfg})
	user, _, err := h.Get("kubereg.azurecr.io")
	if err != nil || user != credhelper.ZeroGUIDUsername {
		t.Fatalf("user %q, err %v", user, err)
	}
	user, _, err = h.Get("other.azurecr.io")
	if err != nil || user != credhelper.TokenUsername {
		t.Fatalf("user %q, err %v", user, err)
	}
}

func TestStoreIsRefusedOrIgnored(t *testing.T) {
	creds := `{"ServerURL":"myreg.azurecr.io","Username":"u","Secret":"do-not-store"}`
	h := credhelper.New(credhelper.Options{Getenv: noEnv})
	err := credentials.HandleCommand(h, credentials.ActionStore, strings.NewReader(creds), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1") || strings.Contains(err.Error(), "do-not-store") {
		t.Fatalf("store: %v", err)
	}
	ignoring := credhelper.New(credhelper.Options{Getenv: noEnv, IgnoreStore: true})
	if err := credentials.HandleCommand(ignoring, credentials.ActionStore, strings.NewReader(creds), &bytes.Buffer{}); err != nil {
		t.Fatalf("store with IgnoreStore: %v", err)
	}
}

// configEnv writes content as a config file that passes the trust check,
// and returns an environment that names it and nothing else.
func configEnv(t *testing.T, content string) func(string) string {
	t.Helper()
	dir := t.TempDir()
	// Under umask 002 TempDir is group-writable, and the config's trust
	// check would refuse it for that reason rather than the one tested.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := dir + "/config.yaml"
	if err := writeFile(path, content); err != nil {
		t.Fatal(err)
	}
	return func(k string) string {
		if k == config.EnvConfig {
			return path
		}
		return ""
	}
}

func TestBrokenConfigFailsOnlyOurHosts(t *testing.T) {
	env := configEnv(t, "registries:\n  - match: x.azurecr.io\n    clientId: oops\n")
	h := credhelper.New(credhelper.Options{Getenv: env})
	if _, _, err := h.Get("docker.io"); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("docker.io with a broken config: %v, want not found", err)
	}
	_, _, err := h.Get("myreg.azurecr.io")
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("ACR host with a broken config: %v, want the config error with its line", err)
	}
}

func TestCredentialNeedsAnIdentity(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Credential: acr.credential(azuresim.ACRAudience), HTTPClient: acr.client(), Config: &config.Config{}})
	if _, _, err := h.Get("myreg.azurecr.io"); err == nil || !strings.Contains(err.Error(), "CredentialIdentity") {
		t.Fatalf("a credential without an identity: %v, want an error naming CredentialIdentity", err)
	}
	if acr.exchanges() != 0 {
		t.Fatal("exchanged without an identity for the cache key")
	}
}

func TestBrokenConfigWarnsForHostsItMightDeclare(t *testing.T) {
	env := configEnv(t, "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n    bogus: 1\n")
	var logs bytes.Buffer
	h := credhelper.New(credhelper.Options{
		Getenv: env,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if _, _, err := h.Get("myreg.azurecr.contoso.local"); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("custom-cloud host with a broken config: %v, want not found", err)
	}
	if !strings.Contains(logs.String(), "config file") || !strings.Contains(logs.String(), "bogus") {
		t.Fatalf("no warning naming the config problem:\n%s", logs.String())
	}
}
