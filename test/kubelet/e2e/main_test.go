//go:build e2e

// Package e2e drives the built docker-credential-acr as a kubelet image
// credential provider with the kubelet's own plugin code
// (k8s.io/kubernetes/pkg/credentialprovider/plugin), against the simulated
// Azure and real distribution registries, under the real host names,
// inside private network and mount namespaces (test/harness).
//
// Run with `make test-kubelet`, or, from test/kubelet:
// E2E_HELPER=$PWD/../../bin/docker-credential-acr go test -tags e2e ./e2e/
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
	"github.com/docker-credential-acr/docker-credential-acr/test/kubelet"
)

// The registries: the standard, DNL and regional forms of a login server.
const (
	regStd      = harness.Registry1 // myreg.azurecr.io
	regOther    = harness.Registry2 // otherreg.azurecr.io
	regDNL      = "dnlreg-abcd1234efgh5678.azurecr.io"
	regRegional = "myreg.westeurope.geo.azurecr.io"
	dataHost    = "myreg.westeurope.data.azurecr.io"
	issuer      = "https://oidc.cluster.test"
)

var registries = []string{regStd, regOther, regDNL, regRegional}

// Set once by TestMain, inside the namespace.
var (
	world   *harness.World
	helper  string
	cluster *azuresim.Cluster
	digest  string // of hello:1, the same in every registry
	// helperProblem is set when the helper has no working `kubelet`
	// command: every case that needs it fails with this text first.
	helperProblem string
)

func TestMain(m *testing.M) {
	kubelet.MaybeRunScenario()
	if !harness.InNamespace() {
		os.Exit(outside())
	}
	os.Exit(inside(m))
}

// repoRoot is the product's module root: this module's go.mod is not it.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/docker-credential-acr/docker-credential-acr\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no docker-credential-acr go.mod above %s", dir)
		}
		dir = parent
	}
}

func outside() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "kubelet e2e: FAIL:", err); return 1 }
	root, err := repoRoot()
	if err != nil {
		return fail(err)
	}
	if os.Getenv("E2E_HELPER") == "" {
		p := filepath.Join(root, "bin", "docker-credential-acr")
		if _, err := os.Stat(p); err != nil {
			return fail(fmt.Errorf("the helper is not built at %s: run `make build` first (make test-kubelet does), or set E2E_HELPER", p))
		}
		os.Setenv("E2E_HELPER", p)
	}
	if os.Getenv("E2E_CRANE") == "" {
		dir, err := os.MkdirTemp("", "kubelet-e2e-tools-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "crane")
		cmd := exec.Command("go", "build", "-C", root, "-o", out, "github.com/google/go-containerregistry/cmd/crane")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fail(fmt.Errorf("build crane (the go tool in the product's go.mod): %v: %s", err, b))
		}
		os.Setenv("E2E_CRANE", out)
	}
	code, err := harness.Reexec()
	if err != nil {
		return fail(err)
	}
	return code
}

func inside(m *testing.M) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "kubelet e2e: FAIL: "+format+"\n", args...)
		return 1
	}
	var err error
	if helper, err = harness.FindHelper(); err != nil {
		return fail("%v", err)
	}
	dir, err := os.MkdirTemp("", "kubelet-e2e-")
	if err != nil {
		return fail("%v", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	if err := harness.SetupNamespace(dir, harness.NamespaceHosts(registries)); err != nil {
		return fail("%v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "world.log"))
	if err != nil {
		return fail("%v", err)
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := harness.Start(ctx, harness.Options{Dir: dir, Registries: registries, Helper: helper, Crane: os.Getenv("E2E_CRANE"), Log: logf})
	if err != nil {
		return fail("start the simulated Azure and registries: %v", err)
	}
	defer w.Close()
	world = w
	if cluster, err = azuresim.NewCluster(issuer); err != nil {
		return fail("%v", err)
	}
	w.Sim.TrustCluster(cluster)
	if err := pushImages(ctx); err != nil {
		return fail("push the test image: %v", err)
	}
	helperProblem = probeKubeletCommand(ctx)
	fmt.Fprintf(os.Stderr, "kubelet e2e: helper %s; simulated Azure up (%s); files in %s\n", helper, strings.Join(registries, ", "), dir)
	if helperProblem != "" {
		fmt.Fprintf(os.Stderr, "kubelet e2e: %s\n", helperProblem)
	}

	code := m.Run()
	code, keep = w.AfterTests(code, "kubelet e2e", dir)
	return code
}

// pushImages puts hello:1 (one layer, linux/amd64) in every registry, with
// crane through the helper's `get` as a VM user with the managed identity.
func pushImages(ctx context.Context) error {
	u, err := world.NewUser(harness.UserOptions{Name: "image-setup"})
	if err != nil {
		return err
	}
	defer u.Close()
	layer := filepath.Join(u.Dir, "layer.tar")
	if err := harness.WriteLayer(layer, "hello from a simulated Azure, pulled by the kubelet's credentials\n"); err != nil {
		return err
	}
	steps := [][]string{
		{"append", "-f", layer, "-t", regStd + "/hello:base"},
		{"mutate", regStd + "/hello:base", "--set-platform", "linux/amd64", "-t", regStd + "/hello:1"},
	}
	for _, r := range registries[1:] {
		steps = append(steps, []string{"copy", regStd + "/hello:1", r + "/hello:1"})
	}
	for _, s := range steps {
		if r := u.Run(ctx, "", "crane", s...); r.Err != nil {
			return fmt.Errorf("%s", r.Failure())
		}
	}
	r := u.Run(ctx, "", "crane", "digest", regStd+"/hello:1")
	if r.Err != nil {
		return fmt.Errorf("%s", r.Failure())
	}
	digest = strings.TrimSpace(r.Stdout)
	return nil
}

// probeKubeletCommand asks `docker-credential-acr kubelet` about an image
// that is not ACR's: the answer needs no identity and no network. Any
// failure there means the command itself is missing or broken.
func probeKubeletCommand(ctx context.Context) string {
	req, err := kubelet.EncodeRequest("docker.io/library/busybox", "", nil)
	if err != nil {
		return err.Error()
	}
	r := runHelper(ctx, kubeletEnv(filepath.Join(world.Dir, "probe-cache"), nil), req)
	if r.Code == 0 {
		if _, err := kubelet.DecodeResponse([]byte(r.Stdout)); err == nil {
			return ""
		}
	}
	return fmt.Sprintf("the helper under test (%s) has no working `docker-credential-acr kubelet` command (issue 9): a CredentialProviderRequest for docker.io/library/busybox gave exit %d, stdout %q, stderr %q; every case that runs it fails until the command lands",
		helper, r.Code, harness.Redact(firstLine(r.Stdout)), harness.Redact(firstLine(r.Stderr)))
}

// needKubeletCommand fails the test at once when the product command is
// missing, naming it, instead of failing later on a symptom.
func needKubeletCommand(t *testing.T) {
	t.Helper()
	if helperProblem != "" {
		t.Fatal(helperProblem)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// kubeletEnv is the environment the plugin runs with: a systemd kubelet's
// (no HOME, a plain PATH) plus the config's env entries, as the kubelet
// merges them. The cache directory is always given: without HOME the
// product's default is under /var/cache, which is this machine's.
func kubeletEnv(cacheDir string, extra map[string]string) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	for k, v := range configEnv(cacheDir, extra) {
		env = append(env, k+"="+v)
	}
	return env
}

// configEnv is the CredentialProviderConfig's env entries.
func configEnv(cacheDir string, extra map[string]string) map[string]string {
	m := map[string]string{
		"SSL_CERT_FILE":                   world.CAFile,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR": cacheDir,
		"DOCKER_CREDENTIAL_ACR_SOURCES":   "managed",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// runHelper runs `docker-credential-acr kubelet` directly, as the kubelet
// execs it, with stdin.
func runHelper(ctx context.Context, env []string, stdin []byte) harness.Result {
	cmd := exec.CommandContext(ctx, helper, "kubelet")
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	res := harness.Result{Cmd: helper + " kubelet", Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start), Err: err}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		res.Code = -1
	}
	return res
}

// binDir makes the kubelet's --image-credential-provider-bin-dir holding a
// copy of the helper under each name.
func binDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		names = []string{kubelet.ProviderName}
	}
	for _, n := range names {
		if err := copyFile(helper, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// settled is the simulator's record once it has stopped growing: a
// request is recorded after its handler returns, which can be after the
// client has its answer, so a snapshot taken at once could count the last
// request of one case in the next.
func settled() azuresim.Stats {
	st := world.Sim.Stats()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		next := world.Sim.Stats()
		if len(next.Requests) == len(st.Requests) {
			return next
		}
		st = next
	}
	return st
}
