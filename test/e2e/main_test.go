//go:build e2e

// Package e2e drives the built docker-credential-acr and real registry
// clients (crane, skopeo, the docker CLI, podman, buildah) against a
// simulated Azure and real distribution registries, under the real host
// names, inside private network and mount namespaces.
//
// Run with `make test-e2e` (it builds the helper and installs the clients
// first), or: go test -tags e2e ./test/e2e/
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// world is set once by TestMain, inside the namespace, before any test.
var world *harness.World

func TestMain(m *testing.M) {
	harness.MaybeRunFakeAz()
	if !harness.InNamespace() {
		os.Exit(outside(m))
	}
	os.Exit(inside(m))
}

// outside prepares what needs the machine's network or the go command
// (building crane), then runs the tests again inside fresh namespaces.
func outside(m *testing.M) int {
	if os.Getenv("E2E_CRANE") == "" {
		dir, err := os.MkdirTemp("", "e2e-tools-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		crane, err := harness.BuildCrane(ctx, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		os.Setenv("E2E_CRANE", crane)
	}
	code, err := harness.Reexec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	return code
}

func inside(m *testing.M) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: "+format+"\n", args...)
		return 1
	}
	helper, err := harness.FindHelper()
	if err != nil {
		return fail("%v", err)
	}
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		return fail("%v", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	regs := []string{harness.Registry1, harness.Registry2, harness.RegionalRegistry}
	if err := harness.SetupNamespace(dir, harness.NamespaceHosts(regs)); err != nil {
		return fail("%v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail("%v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "world.log"))
	if err != nil {
		return fail("%v", err)
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := harness.Start(ctx, harness.Options{
		Dir: dir, Registries: regs, Helper: helper, Crane: os.Getenv("E2E_CRANE"), FakeAzExe: self, Log: logf,
	})
	if err != nil {
		return fail("start the simulated Azure and registries: %v", err)
	}
	defer w.Close()
	world = w
	fmt.Fprintf(os.Stderr, "e2e: helper %s; simulated Azure up (%s, %s); files in %s\n", helper, strings.Join(regs, ", "), azuresim.IMDSHost, dir)

	code := m.Run()
	code, keep = w.AfterTests(code, "e2e", dir)
	return code
}

// newUser makes a client environment for t and removes it after.
func newUser(t *testing.T, o harness.UserOptions) *harness.User {
	t.Helper()
	if o.Name == "" {
		o.Name = strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	}
	u, err := world.NewUser(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// needClient fails (never skips) when a client is not installed.
func needClient(t *testing.T, name string) {
	t.Helper()
	for _, c := range harness.Clients() {
		if c.Name == name {
			if _, err := exec.LookPath(name); err != nil {
				t.Fatalf("%s is not installed, so this end-to-end check cannot run: %s (make deps-e2e does this)", name, c.Install)
			}
		}
	}
}

// run runs a command as u and fails the test if it does not exit 0.
func run(t *testing.T, u *harness.User, name string, args ...string) harness.Result {
	t.Helper()
	r := u.Run(ctxFor(t), "", name, args...)
	if r.Err != nil {
		t.Fatalf("%s", r.Failure())
	}
	t.Logf("%s (%v)", r.Cmd, r.Duration.Round(time.Millisecond))
	return r
}

// get runs the helper's get for input and checks that its stderr holds no
// token.
func get(t *testing.T, u *harness.User, input string) harness.Result {
	t.Helper()
	r := u.Helper(ctxFor(t), "get", input)
	if world.Sim.ContainsEntraToken(r.Stdout + r.Stderr) {
		t.Errorf("helper output for %q contains an Entra token", input)
	}
	if c, err := harness.ParseGet(r.Stdout); err == nil && c.Secret != "" && strings.Contains(r.Stderr, c.Secret) {
		t.Errorf("helper stderr for %q contains the refresh token", input)
	}
	return r
}

// getCreds is a get that must succeed: it returns the credentials.
func getCreds(t *testing.T, u *harness.User, input string) harness.HelperCredentials {
	t.Helper()
	r := get(t, u, input)
	if r.Code != 0 {
		t.Fatalf("%s", r.Failure())
	}
	c, err := harness.ParseGet(r.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var imageMu sync.Mutex

// ensureImage pushes myreg.azurecr.io/hello:1 if no test has yet, so that
// each test can run alone.
func ensureImage(t *testing.T) {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	u := newUser(t, harness.UserOptions{Name: "image-setup"})
	if r := u.Run(ctxFor(t), "", "crane", "digest", ref1); r.Err == nil {
		return
	}
	pushImage(t, u)
}

const (
	ref1 = harness.Registry1 + "/hello:1"
	ref2 = harness.Registry2 + "/hello:1"
)

// pushImage makes a one-layer linux/amd64 image and pushes it with crane.
func pushImage(t *testing.T, u *harness.User) {
	t.Helper()
	layer := filepath.Join(u.Dir, "layer.tar")
	if err := harness.WriteLayer(layer, "hello from a simulated Azure\n"); err != nil {
		t.Fatal(err)
	}
	run(t, u, "crane", "append", "-f", layer, "-t", harness.Registry1+"/hello:base")
	run(t, u, "crane", "mutate", harness.Registry1+"/hello:base", "--set-platform", "linux/amd64", "-t", ref1)
}

func identities(ex []azuresim.Exchange) []string {
	var out []string
	for _, e := range ex {
		out = append(out, fmt.Sprintf("%s %s (%d %s)", e.Host, e.Identity, e.Status, e.Error))
	}
	return out
}

func hostsOf(st azuresim.Stats) []string {
	var out []string
	for _, r := range st.Requests {
		if !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}
