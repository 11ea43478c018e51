package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
)

// The script runs only inside a daemon's namespace: check here, where
// nothing can be mounted, that sh at least parses it.
func TestPrivateMountsParses(t *testing.T) {
	if out, err := exec.Command("sh", "-n", "-c", privateMounts).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v: %s", err, out)
	}
}

// The daemons' hosts file maps every registry and look-alike to
// DaemonAddr, and names neither Entra nor IMDS: a daemon must never
// reach them.
func TestDaemonHosts(t *testing.T) {
	sim, err := azuresim.New(azuresim.Options{Registries: []string{Registry1, Registry2}})
	if err != nil {
		t.Fatal(err)
	}
	w := &World{Sim: sim}
	path := filepath.Join(t.TempDir(), "hosts")
	if err := w.writeDaemonHosts(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		for _, name := range f[1:] {
			got[name] = f[0]
		}
	}
	for _, h := range append([]string{Registry1, Registry2}, HostileHosts()...) {
		if got[h] != DaemonAddr {
			t.Errorf("%s maps to %q, want %s", h, got[h], DaemonAddr)
		}
	}
	for _, h := range []string{"login.microsoftonline.com", azuresim.IMDSHost, azuresim.GitHubTokenHost} {
		if a, ok := got[h]; ok {
			t.Errorf("%s is in the daemons' hosts file (at %s): a daemon could reach it", h, a)
		}
	}
}
