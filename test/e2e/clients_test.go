//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// TestRealClients is the story of one machine with a managed identity:
// crane pushes, then crane, skopeo, the docker CLI, podman and buildah
// read the image, all through credHelpers, sharing one cache: one exchange
// per registry for the whole run.
func TestRealClients(t *testing.T) {
	u := newUser(t, harness.UserOptions{Name: "vm"})
	sim := world.Sim
	start := sim.Stats()
	var digest string

	// step runs one client step and checks that it took no new exchange
	// (the cache served it) but did fetch registry access tokens with it.
	step := func(name string, client string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			if client != "" {
				needClient(t, client)
			}
			before := sim.Stats()
			f(t)
			d := sim.Stats().Since(before)
			if n := d.Total(azuresim.EndpointExchange); n != 0 {
				t.Errorf("%s made %d new exchange(s), want 0 (the cached refresh token should serve): %v", name, n, identities(d.Exchanges))
			}
			if n := d.Total(azuresim.EndpointIMDS); n != 0 {
				t.Errorf("%s asked IMDS %d time(s), want 0", name, n)
			}
			if d.Total(azuresim.EndpointACRToken) == 0 {
				t.Errorf("%s fetched no access token from /oauth2/token: did it use the helper's credentials?\n%s", name, d.CountSummary())
			}
		})
	}

	t.Run("crane push", func(t *testing.T) {
		pushImage(t, u)
		d := sim.Stats().Since(start)
		if n := d.Count(harness.Registry1, azuresim.EndpointExchange); n != 1 {
			t.Fatalf("push made %d exchanges with %s, want exactly 1: %v\n%s", n, harness.Registry1, identities(d.Exchanges), d.CountSummary())
		}
		if n := d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS); n != 1 {
			t.Errorf("push asked IMDS %d times, want 1", n)
		}
		if got := d.Exchanges[0].Identity; got != "managed:system" {
			t.Errorf("exchange for identity %s, want managed:system", got)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	step("crane digest and pull", "", func(t *testing.T) {
		digest = strings.TrimSpace(run(t, u, "crane", "digest", ref1).Stdout)
		run(t, u, "crane", "pull", ref1, filepath.Join(u.Dir, "pulled.tar"))
	})
	step("skopeo inspect", "skopeo", func(t *testing.T) {
		out := run(t, u, "skopeo", "inspect", "docker://"+ref1).Stdout
		var inspect struct{ Digest, Architecture, Os string }
		if err := json.Unmarshal([]byte(out), &inspect); err != nil {
			t.Fatalf("skopeo inspect output: %v\n%s", err, out)
		}
		if inspect.Digest != digest || inspect.Architecture != "amd64" || inspect.Os != "linux" {
			t.Errorf("skopeo saw %+v, want digest %s linux/amd64", inspect, digest)
		}
	})
	step("docker manifest inspect", "docker", func(t *testing.T) {
		out := run(t, u, "docker", "manifest", "inspect", ref1).Stdout
		if !strings.Contains(out, "layers") {
			t.Errorf("docker manifest inspect printed no manifest:\n%s", out)
		}
	})
	step("podman pull", "podman", func(t *testing.T) {
		run(t, u, "podman", append(u.PodmanArgs(), "pull", "--signature-policy", u.PolicyFile(), ref1)...)
		out := run(t, u, "podman", append(u.PodmanArgs(), "image", "inspect", "--format", "{{.Digest}}", ref1)...).Stdout
		if strings.TrimSpace(out) != digest {
			t.Errorf("podman has digest %q, want %s", strings.TrimSpace(out), digest)
		}
	})
	step("buildah pull and from", "buildah", func(t *testing.T) {
		run(t, u, "buildah", append(u.ContainersArgs(), "pull", "--signature-policy", u.PolicyFile(), ref1)...)
		// --pull-always so that `from` goes to the registry again rather
		// than using the image just pulled.
		run(t, u, "buildah", append(u.ContainersArgs(), "from", "--pull-always", "--signature-policy", u.PolicyFile(), "--name", "hello-work", ref1)...)
	})

	t.Run("crane copy to a second registry", func(t *testing.T) {
		before := sim.Stats()
		run(t, u, "crane", "copy", ref1, ref2)
		d := sim.Stats().Since(before)
		if n := d.Count(harness.Registry2, azuresim.EndpointExchange); n != 1 {
			t.Errorf("%d exchanges with %s, want 1: %v", n, harness.Registry2, identities(d.Exchanges))
		}
		if n := d.Count(harness.Registry1, azuresim.EndpointExchange); n != 0 {
			t.Errorf("%d new exchanges with %s, want 0 (cached)", n, harness.Registry1)
		}
		if got := strings.TrimSpace(run(t, u, "crane", "digest", ref2).Stdout); got != digest {
			t.Errorf("copy has digest %s, want %s", got, digest)
		}
	})
	step("skopeo inspect on the second registry", "skopeo", func(t *testing.T) {
		run(t, u, "skopeo", "inspect", "docker://"+ref2)
	})

	total := sim.Stats().Since(start)
	for _, reg := range []string{harness.Registry1, harness.Registry2} {
		if n := total.Count(reg, azuresim.EndpointExchange); n != 1 {
			t.Errorf("the whole run made %d exchanges with %s, want exactly 1", n, reg)
		}
	}
	t.Logf("simulated Azure saw, for the whole run:\n%s", total.CountSummary())
}
