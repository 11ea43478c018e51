package credhelper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

func privateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTokenCommand(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	var logs bytes.Buffer
	h := credhelper.New(credhelper.Options{
		Getenv: noEnv, Cache: filecache.New(privateDir(t), filecache.Options{}), Credential: cred, CredentialIdentity: "test",
		HTTPClient: acr.client(), Config: &config.Config{},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx := context.Background()

	var plain bytes.Buffer
	if err := h.Token(ctx, credhelper.TokenOptions{Registry: "myreg.azurecr.io"}, &plain); err != nil {
		t.Fatal(err)
	}
	refresh := strings.TrimSuffix(plain.String(), "\n")
	if refresh == "" || strings.ContainsAny(refresh, " \n{") {
		t.Fatalf("token printed %q, want the bare refresh token and one newline", plain.String())
	}

	for _, tt := range []struct{ name, in string }{{"canonical", "myreg.azurecr.io"}, {"URL", "https://MyReg.azurecr.io/"}} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := h.Token(ctx, credhelper.TokenOptions{Registry: tt.in, JSON: true}, &out); err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("--json printed %q: %v", out.String(), err)
			}
			if got["loginServer"] != "myreg.azurecr.io" || got["username"] != credhelper.ZeroGUIDUsername || got["refreshToken"] != refresh || len(got) != 4 {
				t.Fatalf("--json = %v", got)
			}
			exp, err := time.Parse(time.RFC3339, got["expiresOn"])
			if err != nil || !exp.After(time.Now()) {
				t.Fatalf("expiresOn %q: %v", got["expiresOn"], err)
			}
		})
	}
	// get and token share one cache entry: one exchange for all of it.
	if _, secret, err := h.Get("myreg.azurecr.io"); err != nil || secret != refresh {
		t.Fatalf("get after token: %v (same token: %v)", err, secret == refresh)
	}
	if n := acr.exchanges(); n != 1 {
		t.Fatalf("%d exchanges, want 1 (token and get use the cache)", n)
	}
	// Each registry step logs its duration and ACR's correlation id. A
	// standard login server's challenge is not read, and the log says so
	// (a regional one's is logged as a step: TestChallengeByForm).
	if !strings.Contains(logs.String(), "msg=\"acr request\" step=exchange") {
		t.Errorf("no log line for the exchange")
	}
	if strings.Contains(logs.String(), "step=challenge") || !strings.Contains(logs.String(), "acr challenge skipped") {
		t.Errorf("the challenge of a standard login server was read, or its skipping not logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), " ms=") || !strings.Contains(logs.String(), "request_id=") || strings.Contains(logs.String(), `request_id=""`) {
		t.Errorf("the registry requests' log lines lack the duration or the correlation id:\n%s", logs.String())
	}
	leak.AssertNoFragment(t, logs.String(), refresh, 12)
	leak.AssertNoFragment(t, logs.String(), cred.token, 12)
}

func TestTokenCommandRefuses(t *testing.T) {
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}})
	for _, tt := range []struct{ name, in, want, secret string }{
		{"not ACR", "ghcr.io", "not an Azure Container Registry login server", ""},
		{"userinfo", "https://user:hunter2secret@myreg.azurecr.io", "userinfo", "hunter2secret"},
		{"empty", "", "not an Azure Container Registry login server", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := h.Token(context.Background(), credhelper.TokenOptions{Registry: tt.in}, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) || out.Len() != 0 {
				t.Fatalf("Token(%q) = %v, output %q; want an error naming %q and no output", tt.in, err, out.String(), tt.want)
			}
			if tt.secret != "" {
				leak.AssertNoFragment(t, err.Error(), tt.secret, 6)
			}
		})
	}
}
