package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

// TestBuiltBinaryThroughTheClientLibrary drives the real binary the way
// docker/cli does, through docker-credential-helpers/client. Only paths
// that need no network run here: the end-to-end tests in test/e2e cover
// real tokens under real host names.
func TestBuiltBinaryThroughTheClientLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "docker-credential-acr")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A clean environment: only cli, with no az anywhere, so nothing can
	// reach a network; an empty cache directory; no config file.
	env := map[string]string{
		"PATH":                            t.TempDir(),
		"HOME":                            t.TempDir(),
		"DOCKER_CREDENTIAL_ACR_SOURCES":   "cli",
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR": t.TempDir(),
		"DOCKER_CREDENTIAL_ACR_CONFIG":    filepath.Join(t.TempDir(), "none.yaml"),
	}
	program := client.NewShellProgramFuncWithEnv(bin, &env)

	if _, err := client.Get(program, "docker.io"); !credentials.IsErrCredentialsNotFound(err) {
		t.Errorf("get docker.io: %v, want not found", err)
	}
	if _, err := client.Get(program, "myreg.azurecr.io.evil.com"); !credentials.IsErrCredentialsNotFound(err) {
		t.Errorf("get look-alike: %v, want not found", err)
	}
	_, err := client.Get(program, "myreg.azurecr.io")
	if err == nil || !strings.Contains(err.Error(), "no Azure identity available") || !strings.Contains(err.Error(), "DOCKER_CREDENTIAL_ACR_SOURCES") {
		t.Errorf("get with no identity: %v, want a message naming the problem and the setting", err)
	}
	err = client.Store(program, &credentials.Credentials{ServerURL: "myreg.azurecr.io", Username: "u", Secret: "never-stored"})
	if err == nil || !strings.Contains(err.Error(), "does not store credentials") || strings.Contains(err.Error(), "never-stored") {
		t.Errorf("store: %v", err)
	}
	if err := client.Erase(program, "myreg.azurecr.io"); err != nil {
		t.Errorf("erase with nothing cached: %v", err)
	}
	if list, err := client.List(program); err != nil || len(list) != 0 {
		t.Errorf("list: %v, %v; want an empty map", list, err)
	}

	env["DOCKER_CREDENTIAL_ACR_IGNORE_STORE"] = "1"
	if err := client.Store(program, &credentials.Credentials{ServerURL: "myreg.azurecr.io", Username: "u", Secret: "s"}); err != nil {
		t.Errorf("store with DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1: %v", err)
	}
}
