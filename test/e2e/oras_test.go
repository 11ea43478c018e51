//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
)

// TestTokenWithOras is 'docker-credential-acr token' for a tool outside
// the credential-helper protocol: oras logs in with the printed refresh
// token on --password-stdin (its own registry config, no credHelpers),
// then pushes an artifact to the real registry behind the simulated ACR
// and pulls it back.
func TestTokenWithOras(t *testing.T) {
	oras := os.Getenv("E2E_ORAS")
	if oras == "" {
		t.Fatal("E2E_ORAS names no oras binary, so this end-to-end check cannot run (make test-e2e builds oras at its pinned version)")
	}
	u := newUser(t, harness.UserOptions{})
	sim := world.Sim
	before := sim.Stats()

	tok := run(t, u, "docker-credential-acr", "token", harness.Registry1)
	refresh := strings.TrimSpace(tok.Stdout)
	if refresh == "" || strings.ContainsAny(refresh, " \n") {
		t.Fatalf("token printed %q, want one refresh token", harness.Redact(tok.Stdout))
	}
	js := run(t, u, "docker-credential-acr", "token", "--json", harness.Registry1)
	var out map[string]string
	if err := json.Unmarshal([]byte(js.Stdout), &out); err != nil {
		t.Fatalf("token --json: %v\n%s", err, harness.Redact(js.Stdout))
	}
	if out["refreshToken"] != refresh || out["username"] != credhelper.ZeroGUIDUsername || out["loginServer"] != harness.Registry1 || out["expiresOn"] == "" {
		t.Fatalf("token --json has loginServer %q, username %q, expiresOn %q, the same token: %v", out["loginServer"], out["username"], out["expiresOn"], out["refreshToken"] == refresh)
	}
	if n := sim.Stats().Since(before).Count(harness.Registry1, azuresim.EndpointExchange); n != 1 {
		t.Errorf("token twice made %d exchanges, want 1 (the second from the cache)", n)
	}

	regConfig := filepath.Join(u.Dir, "oras-config.json")
	login := u.Run(ctxFor(t), refresh+"\n", oras, "login", "--registry-config", regConfig,
		"--username", credhelper.ZeroGUIDUsername, "--password-stdin", harness.Registry1)
	if login.Err != nil {
		t.Fatalf("%s", login.Failure())
	}
	leak.AssertNoFragment(t, login.Stdout+login.Stderr, refresh, 16)

	art := filepath.Join(u.Dir, "artifact.txt")
	if err := os.WriteFile(art, []byte("pushed by oras with docker-credential-acr token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := harness.Registry1 + "/oras-artifact:v1"
	// From the artifact's directory, so that its name in the manifest is
	// relative and oras pull writes it under -o.
	push := u.Command(ctxFor(t), oras, "push", "--registry-config", regConfig, ref, "artifact.txt:text/plain")
	push.Dir = u.Dir
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("oras push: %v\n%s", err, harness.Redact(string(out)))
	}
	pulled := filepath.Join(u.Dir, "pulled")
	pull := u.Run(ctxFor(t), "", oras, "pull", "--registry-config", regConfig, "-o", pulled, ref)
	if pull.Err != nil {
		t.Fatalf("%s", pull.Failure())
	}
	got, err := os.ReadFile(filepath.Join(pulled, "artifact.txt"))
	if err != nil || string(got) != "pushed by oras with docker-credential-acr token\n" {
		entries, _ := os.ReadDir(pulled)
		t.Fatalf("pulled artifact: %q, %v (directory holds %v)", got, err, entries)
	}
	d := sim.Stats().Since(before)
	if d.Total(azuresim.EndpointACRToken) == 0 {
		t.Errorf("oras fetched no access token from /oauth2/token: did it use the refresh token?\n%s", d.CountSummary())
	}
	if n := d.Count(harness.Registry1, azuresim.EndpointExchange); n != 1 {
		t.Errorf("%d exchanges in all, want 1: oras needs none of its own", n)
	}
}
