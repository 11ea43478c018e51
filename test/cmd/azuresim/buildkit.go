package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// refBuilt is the image the demo's BuildKit step pushes.
const refBuilt = harness.Registry1 + "/hello:built"

// buildkitStep is the demo's BuildKit build: a standalone buildkitd (its
// own mount namespace, the login server at harness.DaemonAddr) builds a
// Dockerfile FROM the pushed image for buildctl and pushes the result.
// buildctl runs the helper and, asked through its session, fetches the
// registry access tokens itself (buildkitd pulls and pushes with those).
// Where BuildKit could not be built it says so and the demo goes on: the
// step shows a client, it does not test the helper.
func (s *story) buildkitStep(ctx context.Context, w *harness.World, vm *harness.User, buildkitd, buildctl string) {
	s.printf("   $ buildctl build --frontend dockerfile.v0 ... --output type=image,name=%s,push=true\n", refBuilt)
	for _, p := range []string{buildkitd, buildctl} {
		if _, err := os.Stat(p); p == "" || err != nil {
			s.printf("   – skipped: BuildKit is not built here. make buildkit-e2e builds buildkitd and buildctl (make demo tries first, and says above why it could not)\n")
			return
		}
	}
	bk, err := w.StartBuildkitd(ctx, harness.DaemonOptions{Name: "demo", Trusted: []string{harness.Registry1}, Buildkitd: buildkitd, Buildctl: buildctl})
	if err != nil {
		s.fail("start buildkitd", err.Error())
		return
	}
	failed := true
	defer func() { bk.Stop(failed) }()
	dir := filepath.Join(vm.Dir, "build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail("write the build context", err.Error())
		return
	}
	// No `# syntax=` line: BuildKit's built-in Dockerfile frontend, so
	// nothing is fetched from Docker Hub.
	for name, content := range map[string]string{
		"Dockerfile": "FROM " + ref1 + "\nCOPY built.txt /built.txt\n",
		"built.txt":  "built by BuildKit with docker-credential-acr\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			s.fail("write the build context", err.Error())
			return
		}
	}
	sim := w.Sim
	before, conns := sim.Stats(), w.DaemonConnections()
	r := vm.Run(ctx, "", buildctl, "--addr", bk.Host, "build", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir,
		"--output", "type=image,name="+refBuilt+",push=true")
	if r.Err != nil {
		s.fail("buildctl build", r.Failure()+"\nbuildkitd's log ends:\n"+harness.Lines(bk.LogTail(15)))
		return
	}
	d := sim.Stats().Since(before)
	digest := strings.TrimSpace(vm.Run(ctx, "", "crane", "digest", refBuilt).Stdout)
	if n := d.Total(azuresim.EndpointExchange); n != 0 || w.DaemonConnections() == conns {
		s.fail("a BuildKit build from the cache", fmt.Sprintf("%d exchange(s) (want 0), %d connection(s) from buildkitd", n, w.DaemonConnections()-conns))
		return
	}
	failed = false
	s.printf("   ✓ built FROM %s and pushed %s (%s) in %.1fs, 0 exchanges\n", ref1, refBuilt, short(digest), r.Duration.Seconds())
	s.printf("   → buildctl called the helper and, asked through its BuildKit session, got %d registry access\n"+
		"     tokens with the cached refresh token; buildkitd pulled the base and pushed with those alone,\n"+
		"     over TLS it verified.\n",
		d.Count(harness.Registry1, azuresim.EndpointACRToken))
}
