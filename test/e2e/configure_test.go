//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// TestConfigureForRealClients: configure, not a hand-written file, sets the
// clients up. A docker config with a stored password for another registry,
// a credsStore and an unknown key, and no containers auth.json at all, are
// configured for both registries; the files keep everything else; then the
// docker CLI, skopeo and podman read the image through them.
func TestConfigureForRealClients(t *testing.T) {
	ensureImage(t)
	u := newUser(t, harness.UserOptions{})
	const storedAuth = "c2VjcmV0LXVzZXI6c2VjcmV0LXBhc3N3b3JkLTQy" // a stored password for another registry
	docker := filepath.Join(u.Dir, "docker", "config.json")
	auth := filepath.Join(u.Dir, "auth.json")
	in := "{\n    \"auths\": {\n        \"ghcr.io\": {\n            \"auth\": \"" + storedAuth + "\"\n        }\n    },\n    \"credsStore\": \"pass\",\n    \"x-unknown\": {\"kept\": [1, 2.50, true]}\n}\n"
	if err := os.WriteFile(docker, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(auth); err != nil {
		t.Fatal(err)
	}
	helper := os.Getenv("E2E_HELPER")
	r := run(t, u, helper, "configure", "myreg", harness.Registry2)
	if strings.Contains(r.Stdout+r.Stderr, storedAuth) {
		t.Errorf("configure printed the stored password")
	}
	wantDocker := "{\n    \"auths\": {\n        \"ghcr.io\": {\n            \"auth\": \"" + storedAuth + "\"\n        }\n    },\n    \"credsStore\": \"pass\",\n    \"x-unknown\": {\"kept\": [1, 2.50, true]},\n" +
		"    \"credHelpers\": {\n        \"" + harness.Registry1 + "\": \"acr\",\n        \"" + harness.Registry2 + "\": \"acr\"\n    }\n}\n"
	wantAuth := "{\n\t\"credHelpers\": {\n\t\t\"" + harness.Registry1 + "\": \"acr\",\n\t\t\"" + harness.Registry2 + "\": \"acr\"\n\t}\n}\n"
	for path, want := range map[string]string{docker: wantDocker, auth: wantAuth} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s after configure:\n%s\nwant:\n%s", path, got, want)
		}
	}
	if _, err := os.Stat(docker + ".bak"); err != nil {
		t.Errorf("no backup of the docker config: %v", err)
	}
	// Twice: nothing changes.
	before, _ := os.ReadFile(docker)
	run(t, u, helper, "configure", "myreg", harness.Registry2)
	if after, _ := os.ReadFile(docker); string(after) != string(before) {
		t.Errorf("a second configure changed the file")
	}

	// The clients find the helper through the files configure wrote. The
	// credsStore names a helper that is not installed: only credHelpers
	// can be answering for our registries.
	for _, c := range []struct {
		client string
		args   []string
	}{
		{"docker", []string{"manifest", "inspect", ref1}},
		{"skopeo", []string{"inspect", "docker://" + ref1}},
		{"podman", append(u.PodmanArgs(), "pull", "--signature-policy", u.PolicyFile(), ref1)},
	} {
		t.Run(c.client, func(t *testing.T) {
			needClient(t, c.client)
			before := world.Sim.Stats()
			run(t, u, c.client, c.args...)
			if world.Sim.Stats().Since(before).Total(azuresim.EndpointACRToken) == 0 {
				t.Errorf("%s fetched no registry token: did it use the helper?", c.client)
			}
		})
	}
}
