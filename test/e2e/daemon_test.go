//go:build e2e

package e2e

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
)

// The images of TestDaemonsShareOneExchange.
const (
	daemonBase    = harness.Registry1 + "/daemon/base:1"
	daemonBuildx  = harness.Registry1 + "/daemon/buildx:1"
	daemonBuildkt = harness.Registry1 + "/daemon/buildctl:1"
)

// TestDaemonsShareOneExchange is the story of a build machine whose
// clients do not talk to the registry themselves: the docker daemon
// (Debian's dockerd) pushes and pulls for the docker CLI, the daemon's
// BuildKit builds for buildx, and a standalone buildkitd builds for
// buildctl. Each client asks the helper through credHelpers. The docker
// CLI hands the refresh token to dockerd, which uses ACR's refresh-token
// grant at /oauth2/token itself; buildx and buildctl, asked through the
// BuildKit session, fetch the access tokens themselves and BuildKit pulls
// and pushes with those (buildx's --push, with the docker driver, is
// dockerd's push again). The daemons reach the login server
// at harness.DaemonAddr, not loopback, so that dockerd really verifies
// TLS, against the test CA in its certs.d. One user, one cache: the
// whole sequence makes exactly one exchange.
func TestDaemonsShareOneExchange(t *testing.T) {
	needClient(t, "docker")
	needClient(t, "dockerd")
	u := newUser(t, harness.UserOptions{Name: "daemons"})
	sim := world.Sim
	ctx := ctxFor(t)
	dd, err := world.StartDockerd(ctx, harness.DaemonOptions{Name: "daemons", Trusted: []string{harness.Registry1}})
	if err != nil {
		t.Fatalf("start the docker daemon: %v", err)
	}
	t.Cleanup(func() { stopDaemon(t, dd) })
	docker := func(t *testing.T, args ...string) harness.Result {
		t.Helper()
		r := u.RunEnv(ctxFor(t), []string{"DOCKER_HOST=" + dd.Host}, "", "docker", args...)
		if r.Err != nil {
			t.Fatalf("%s\ndockerd's log ends:\n%s", r.Failure(), harness.Lines(dd.LogTail(15)))
		}
		t.Logf("%s (%v)", r.Cmd, r.Duration.Round(time.Millisecond))
		return r
	}
	start := sim.Stats()

	// step runs one client step; after the first, each must be served
	// from the cache (no exchange). Each must have got registry access
	// tokens, and a daemon must have reached the registry through
	// DaemonAddr.
	step := func(name string, first bool, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			before, conns := sim.Stats(), world.DaemonConnections()
			f(t)
			d := sim.Stats().Since(before)
			if n := d.Total(azuresim.EndpointExchange); !first && n != 0 {
				t.Errorf("%s made %d new exchange(s), want 0 (the cached refresh token should serve): %v", name, n, identities(d.Exchanges))
			}
			if d.Total(azuresim.EndpointACRToken) == 0 {
				t.Errorf("%s fetched no access token from /oauth2/token: did the refresh token reach the daemon?\n%s", name, d.CountSummary())
			}
			if world.DaemonConnections() == conns {
				t.Errorf("%s: no daemon connected to %s:443, so the registry was not reached through TLS the daemon verifies", name, harness.DaemonAddr)
			}
		})
	}

	step("docker import and docker push", true, func(t *testing.T) {
		layer := filepath.Join(u.Dir, "base.tar")
		if err := harness.WriteLayer(layer, "hello from a simulated Azure\n"); err != nil {
			t.Fatal(err)
		}
		// A base made by the daemon has its platform (one made by crane
		// has none, and BuildKit refuses it as a base).
		docker(t, "import", layer, daemonBase)
		docker(t, "push", daemonBase)
		d := sim.Stats().Since(start)
		if n := d.Count(harness.Registry1, azuresim.EndpointExchange); n != 1 {
			t.Errorf("docker push made %d exchanges with %s, want 1: %v", n, harness.Registry1, identities(d.Exchanges))
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	step("docker pull", false, func(t *testing.T) {
		docker(t, "image", "rm", daemonBase)
		docker(t, "pull", daemonBase)
		want := strings.TrimSpace(run(t, u, "crane", "digest", daemonBase).Stdout)
		got := docker(t, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", daemonBase).Stdout
		if !strings.Contains(got, want) {
			t.Errorf("the pulled image has repo digests %q, want %s", strings.TrimSpace(got), want)
		}
	})
	step("docker build (buildx) FROM the registry, --push", false, func(t *testing.T) {
		buildx := os.Getenv("E2E_BUILDX")
		if buildx == "" {
			t.Fatal("E2E_BUILDX names no docker-buildx binary, so docker build with BuildKit cannot be tested (make test-e2e builds it with make buildkit-e2e)")
		}
		if err := u.InstallDockerPlugin(buildx); err != nil {
			t.Fatalf("install the buildx CLI plugin: %v", err)
		}
		dir := buildContext(t, u, "buildx", "built by docker build (buildx)\n")
		// --pull: the base is resolved at the registry even though the
		// daemon has it; --push only exists in buildx, so this cannot
		// have run the legacy builder.
		docker(t, append(buildCommand(t, u), "--pull", "--push", "-t", daemonBuildx, dir)...)
		checkBuilt(t, u, daemonBuildx, "built by docker build (buildx)\n")
	})
	step("buildctl build --output push=true on buildkitd", false, func(t *testing.T) {
		bkd, ctl := os.Getenv("E2E_BUILDKITD"), os.Getenv("E2E_BUILDCTL")
		if bkd == "" || ctl == "" {
			t.Fatal("E2E_BUILDKITD and E2E_BUILDCTL name no BuildKit binaries, so standalone BuildKit cannot be tested (make test-e2e builds them with make buildkit-e2e)")
		}
		bk, err := world.StartBuildkitd(ctxFor(t), harness.DaemonOptions{Name: "daemons", Trusted: []string{harness.Registry1}, Buildkitd: bkd, Buildctl: ctl})
		if err != nil {
			t.Fatalf("start buildkitd: %v", err)
		}
		defer stopDaemon(t, bk)
		dir := buildContext(t, u, "buildctl", "built by buildctl on buildkitd\n")
		r := u.Run(ctxFor(t), "", ctl, "--addr", bk.Host, "build", "--frontend", "dockerfile.v0",
			"--local", "context="+dir, "--local", "dockerfile="+dir,
			"--output", "type=image,name="+daemonBuildkt+",push=true")
		if r.Err != nil {
			t.Fatalf("%s\nbuildkitd's log ends:\n%s", r.Failure(), harness.Lines(bk.LogTail(15)))
		}
		t.Logf("%s (%v)", r.Cmd, r.Duration.Round(time.Millisecond))
		checkBuilt(t, u, daemonBuildkt, "built by buildctl on buildkitd\n")
		checkLogClean(t, u, bk)
	})

	t.Run("one exchange for all", func(t *testing.T) {
		d := sim.Stats().Since(start)
		// The daemons' own refresh-token grants are /oauth2/token
		// requests: many, and fine. An exchange is a new refresh token.
		if n := d.Total(azuresim.EndpointExchange); n != 1 {
			t.Errorf("docker push, pull, build and buildctl made %d exchanges, want exactly 1: %v", n, identities(d.Exchanges))
		}
		if n := d.Total(azuresim.EndpointIMDS); n != 1 {
			t.Errorf("they asked IMDS %d times, want 1", n)
		}
		if n := d.Total(azuresim.EndpointUnknown); n != 0 {
			t.Errorf("%d requests to hosts or paths the simulator does not serve: %v", n, hostsOf(d))
		}
		checkLogClean(t, u, dd)
		t.Logf("simulated Azure saw, for the sequence:\n%s", d.CountSummary())
	})

	t.Run("dockerd verifies TLS", func(t *testing.T) {
		// otherreg's CA is not in this daemon's certs.d: were it treating
		// the registry as insecure, or not checking, the pull would get
		// as far as the registry.
		r := u.RunEnv(ctxFor(t), []string{"DOCKER_HOST=" + dd.Host}, "", "docker", "pull", harness.Registry2+"/hello:1")
		if r.Err == nil || !strings.Contains(r.Stderr, "x509") {
			t.Errorf("docker pull from a registry whose CA the daemon does not trust: want an x509 error, got\n%s", r.Failure())
		}
	})
}

// buildCommand is `docker build`, which is buildx from docker CLI 23 on.
// An older CLI (Debian's 20.10) has its own builder behind `docker build`,
// so there it is `docker buildx build`, the same plugin.
func buildCommand(t *testing.T, u *harness.User) []string {
	t.Helper()
	// "Docker version 28.2.2, build e6534b4": no daemon asked.
	v := strings.TrimSpace(run(t, u, "docker", "--version").Stdout)
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "Docker version "), ".")
	if n, err := strconv.Atoi(major); err == nil && n < 23 {
		t.Logf("%s: its docker build is not buildx; using docker buildx build", v)
		return []string{"buildx", "build"}
	}
	return []string{"build"}
}

// stopDaemon stops d, keeping its files when t failed.
func stopDaemon(t *testing.T, d *harness.Daemon) {
	d.Stop(t.Failed())
	if t.Failed() {
		t.Logf("%s: its files and log are kept in %s", d.Name, d.Dir)
	}
}

// buildContext writes a Dockerfile FROM daemonBase adding built.txt.
func buildContext(t *testing.T, u *harness.User, name, text string) string {
	t.Helper()
	dir := filepath.Join(u.Dir, "build-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		// No `# syntax=` line: the built-in Dockerfile frontend, nothing
		// fetched from Docker Hub.
		"Dockerfile": "FROM " + daemonBase + "\nCOPY built.txt /built.txt\n",
		"built.txt":  text,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkBuilt reads the pushed image back with crane (from the cache) and
// checks that it holds the base's file and the built one.
func checkBuilt(t *testing.T, u *harness.User, ref, text string) {
	t.Helper()
	out := filepath.Join(u.Dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	run(t, u, "crane", "export", ref, out)
	files, err := tarFiles(out)
	if err != nil {
		t.Fatalf("read the exported image %s: %v", ref, err)
	}
	if files["hello.txt"] != "hello from a simulated Azure\n" || files["built.txt"] != text {
		t.Errorf("%s holds hello.txt %q and built.txt %q, want the base's and %q", ref, files["hello.txt"], files["built.txt"], text)
	}
}

// checkLogClean checks that the daemon's log holds neither an Entra token
// nor any piece of the user's refresh token.
func checkLogClean(t *testing.T, u *harness.User, d *harness.Daemon) {
	t.Helper()
	b, err := os.ReadFile(d.Log)
	if err != nil {
		t.Fatal(err)
	}
	if world.Sim.ContainsEntraToken(string(b)) {
		t.Errorf("%s logged an Entra token", d.Name)
	}
	leak.AssertNoFragment(t, string(b), getCreds(t, u, harness.Registry1).Secret, 16)
}

// tarFiles reads the regular files of a tar (names without a leading
// "./" or "/").
func tarFiles(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = string(b)
	}
}
