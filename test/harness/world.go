// Package harness runs docker-credential-acr and real registry clients
// against the simulated Azure of package azuresim, under the real host
// names, inside private network and mount namespaces. The e2e tests and
// `make demo` share it.
//
// The flow is: Reexec (run this program again in new namespaces), then in
// the child SetupNamespace, Start (simulator, TLS on :443, IMDS on
// 169.254.169.254:80, one distribution registry per login server), then
// NewUser for each client environment.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
)

const envInNamespace = "AZURESIM_IN_NAMESPACE"

// InNamespace reports whether this process is the child Reexec started.
func InNamespace() bool { return os.Getenv(envInNamespace) == "1" }

// The simulated registries.
const (
	Registry1 = "myreg.azurecr.io"
	Registry2 = "otherreg.azurecr.io"
	// RegionalRegistry is a geo-replica's login server: the regional
	// form, whose exchange needs the registry's challenge.
	RegionalRegistry = "myreg.westeurope.geo.azurecr.io"
)

// HostileHosts are look-alike names that the namespace's /etc/hosts maps
// to the simulator, and its certificate covers: were the helper to send
// anything there, the simulator would record it.
func HostileHosts() []string {
	return []string{
		"myreg.azurecr.io.evil.test",
		"evilazurecr.io",
		"azurecr.io",
		"myreg.westeurope.data.azurecr.io",
		"myreg.westeurope.geo.azurecr.io.evil.test",
	}
}

// NamespaceHosts are all the names mapped to 127.0.0.1 in the namespace.
func NamespaceHosts(registries []string) []string {
	h := append([]string{}, registries...)
	h = append(h, "login.microsoftonline.com", azuresim.GitHubTokenHost, azuresim.PipelinesHost)
	return append(h, HostileHosts()...)
}

// Options configure Start.
type Options struct {
	// Dir holds everything the world writes.
	Dir string
	// Registries default to Registry1 and Registry2.
	Registries []string
	// Helper is the docker-credential-acr binary under test.
	Helper string
	// Crane is the crane binary (see BuildCrane).
	Crane string
	// FakeAzExe is a program that calls MaybeRunFakeAz first thing; the
	// fake `az` script runs it.
	FakeAzExe string
	// Log receives the registries' and servers' own output (nil: none).
	Log io.Writer
	// Delay is the simulator's D: every TLS handshake and every answer
	// waits this long (azuresim.Sim.SetDelay). Default 0.
	Delay time.Duration
}

// World is a running simulated Azure with real registries behind it.
type World struct {
	Sim *azuresim.Sim
	// CA signs the simulator's certificates; clients trust it through
	// CAFile. Tests use it to issue certificates for the wrong name.
	CA          *azuresim.CA
	Dir         string
	CAFile      string
	ControlAddr string
	opts        Options
	servers     *azuresim.Servers
	regs        []*azuresim.Registry
	// The daemons' way in (daemons.go), started by the first daemon.
	frontMu sync.Mutex
	front   *daemonFront
}

// Start brings the world up. It must run inside the namespace.
func Start(ctx context.Context, opts Options) (*World, error) {
	if !InNamespace() {
		return nil, errors.New("harness.Start outside the test namespace: it listens on 169.254.169.254:80 and :443, which only a private namespace may do")
	}
	if len(opts.Registries) == 0 {
		opts.Registries = []string{Registry1, Registry2}
	}
	sim, err := azuresim.New(azuresim.Options{Registries: opts.Registries, Delay: opts.Delay})
	if err != nil {
		return nil, err
	}
	ca, err := azuresim.NewCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.ServerCert(append(sim.Hosts(), HostileHosts()...)...)
	if err != nil {
		return nil, err
	}
	w := &World{Sim: sim, CA: ca, Dir: opts.Dir, CAFile: filepath.Join(opts.Dir, "ca.pem"), opts: opts}
	if err := os.WriteFile(w.CAFile, ca.CertPEM, 0o644); err != nil {
		return nil, err
	}
	w.servers, err = sim.Serve(azuresim.ServeOptions{
		TLSAddr:     "127.0.0.1:443",
		Cert:        cert,
		IMDSAddr:    azuresim.IMDSHost + ":80",
		ControlAddr: "127.0.0.1:0",
	})
	if err != nil {
		return nil, err
	}
	w.ControlAddr = w.servers.ControlAddr
	var logf *os.File
	if f, ok := opts.Log.(*os.File); ok {
		logf = f
	}
	for _, host := range opts.Registries {
		r, err := sim.StartRegistry(ctx, host, filepath.Join(opts.Dir, "registry", host), logf)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.regs = append(w.regs, r)
	}
	return w, nil
}

// Close stops the registries and the simulator.
func (w *World) Close() {
	w.frontMu.Lock()
	if w.front != nil {
		w.front.close()
	}
	w.frontMu.Unlock()
	for _, r := range w.regs {
		r.Stop()
	}
	if w.servers != nil {
		_ = w.servers.Close()
	}
}

// UserOptions describe one client environment.
type UserOptions struct {
	// Name names the user's directory.
	Name string
	// Sources is DOCKER_CREDENTIAL_ACR_SOURCES; default "managed"; "auto"
	// leaves it unset, for the helper's automatic order.
	Sources string
	// CacheDir is DOCKER_CREDENTIAL_ACR_CACHE_DIR; default a directory of
	// the user's own. Users given the same directory share the cache.
	CacheDir string
	// FakeAz puts a fake `az` first on PATH, logged in as the simulator's
	// CLI user.
	FakeAz bool
	// Env adds or overrides variables, e.g. AZURE_CLIENT_ID.
	Env map[string]string
}

// User is a home, docker and containers configuration, cache directory
// and environment, as one person or CI job would have.
type User struct {
	Dir      string
	CacheDir string
	Env      []string
	world    *World
	runRoot  string
}

// NewUser makes a user whose clients find the helper only through
// credHelpers in $DOCKER_CONFIG/config.json and $REGISTRY_AUTH_FILE.
func (w *World) NewUser(o UserOptions) (*User, error) {
	dir := filepath.Join(w.Dir, "users", o.Name)
	u := &User{Dir: dir, CacheDir: o.CacheDir, world: w}
	if u.CacheDir == "" {
		u.CacheDir = filepath.Join(dir, "cache")
	}
	for _, d := range []string{"home", "docker", "tmp", "fakeaz", "containers"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	// podman refuses a run root path of 50 characters or more.
	rr, err := os.MkdirTemp("/tmp", "azs-rr")
	if err != nil {
		return nil, err
	}
	u.runRoot = rr
	helpers := map[string]string{}
	for _, r := range w.Sim.Registries() {
		helpers[r] = "acr"
	}
	cfg, _ := json.MarshalIndent(map[string]any{"credHelpers": helpers}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "docker", "config.json"), cfg, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.json"), cfg, 0o600); err != nil {
		return nil, err
	}
	policy := `{"default":[{"type":"insecureAcceptAnything"}]}`
	if err := os.WriteFile(filepath.Join(dir, "containers", "policy.json"), []byte(policy), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "containers", "registries.conf"), []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
		return nil, err
	}
	// Signature lookaside under the user's own directory: the default,
	// /var/lib/containers/sigstore, is not ours to touch (and not writable
	// in an unprivileged namespace, where the tools think they are root).
	regd := filepath.Join(dir, "home", ".config", "containers", "registries.d")
	if err := os.MkdirAll(regd, 0o700); err != nil {
		return nil, err
	}
	lookaside := "default-docker:\n  lookaside: file://" + filepath.Join(dir, "containers", "sigstore") + "\n  lookaside-staging: file://" + filepath.Join(dir, "containers", "sigstore") + "\n"
	if err := os.WriteFile(filepath.Join(regd, "default.yaml"), []byte(lookaside), 0o644); err != nil {
		return nil, err
	}
	path := []string{}
	if o.FakeAz {
		if err := w.writeFakeAz(filepath.Join(dir, "fakeaz", "az")); err != nil {
			return nil, err
		}
		path = append(path, filepath.Join(dir, "fakeaz"))
	}
	path = append(path, filepath.Dir(w.opts.Helper))
	if w.opts.Crane != "" {
		path = append(path, filepath.Dir(w.opts.Crane))
	}
	path = append(path, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
	sources := o.Sources
	switch sources {
	case "":
		sources = "managed"
	case "auto":
		sources = ""
	}
	env := map[string]string{
		"PATH":                            strings.Join(path, ":"),
		"HOME":                            filepath.Join(dir, "home"),
		"TMPDIR":                          filepath.Join(dir, "tmp"),
		"LANG":                            "C.UTF-8",
		"DOCKER_CONFIG":                   filepath.Join(dir, "docker"),
		"REGISTRY_AUTH_FILE":              filepath.Join(dir, "auth.json"),
		"CONTAINERS_REGISTRIES_CONF":      filepath.Join(dir, "containers", "registries.conf"),
		"XDG_RUNTIME_DIR":                 rr,
		"SSL_CERT_FILE":                   w.CAFile,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR": u.CacheDir,
		"DOCKER_CREDENTIAL_ACR_SOURCES":   sources,
	}
	for k, v := range o.Env {
		env[k] = v
	}
	for k, v := range env {
		if v != "" {
			u.Env = append(u.Env, k+"="+v)
		}
	}
	return u, nil
}

// Close removes the user's short-path run root.
func (u *User) Close() { _ = os.RemoveAll(u.runRoot) }

// ContainersArgs are the global flags podman and buildah need here: vfs
// storage under the user's directory and a short run root.
func (u *User) ContainersArgs() []string {
	return []string{
		"--storage-driver", "vfs",
		"--root", filepath.Join(u.Dir, "containers", "storage"),
		"--runroot", u.runRoot,
	}
}

// PodmanArgs are ContainersArgs plus what podman alone needs: its own
// lock and temporary directory (the default, /run/libpod, belongs to the
// machine), no event log, and no systemd cgroup manager.
func (u *User) PodmanArgs() []string {
	return append(u.ContainersArgs(),
		"--tmpdir", filepath.Join(u.runRoot, "libpod"),
		"--events-backend", "none",
		"--cgroup-manager", "cgroupfs",
	)
}

// PolicyFile is the user's signature policy (accept anything).
func (u *User) PolicyFile() string { return filepath.Join(u.Dir, "containers", "policy.json") }

// Result is what a command did.
type Result struct {
	Cmd      string
	Stdout   string
	Stderr   string
	Code     int
	Duration time.Duration
	Err      error // set when the command could not start or did not exit 0
}

// Failure describes a failed run for a test message, with any JWT in the
// output redacted: even simulated tokens stay out of logs.
func (r Result) Failure() string {
	return fmt.Sprintf("%s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.Cmd, r.Code, r.Err, Redact(r.Stdout), Redact(r.Stderr))
}

// Redact replaces anything shaped like a JWT with a placeholder.
func Redact(s string) string { return jwtShape.ReplaceAllString(s, "<jwt redacted>") }

// jwtShape matches compact JWS: three base64url segments, the first a
// JSON header ("eyJ").
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// Run runs a program as the user, with stdin.
func (u *User) Run(ctx context.Context, stdin, name string, args ...string) Result {
	return u.RunEnv(ctx, nil, stdin, name, args...)
}

// RunEnv is Run with extra environment variables.
func (u *User) RunEnv(ctx context.Context, extra []string, stdin, name string, args ...string) Result {
	cmd := u.Command(ctx, name, args...)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := Result{Cmd: name + " " + strings.Join(args, " "), Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start), Err: err}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		res.Code = -1
	}
	return res
}

// Command prepares a program run as the user: its environment only, in its
// home directory. name is looked up in the user's PATH.
func (u *User) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := name
	if !strings.Contains(name, "/") {
		for _, kv := range u.Env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				for _, d := range filepath.SplitList(p) {
					if fi, err := os.Stat(filepath.Join(d, name)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
						path = filepath.Join(d, name)
						break
					}
				}
			}
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append([]string{}, u.Env...)
	cmd.Dir = filepath.Join(u.Dir, "home")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Helper runs `docker-credential-acr action` with input on stdin, as a
// client would.
func (u *User) Helper(ctx context.Context, action, input string) Result {
	return u.Run(ctx, input, u.world.opts.Helper, action)
}

// HelperCredentials is the JSON `get` prints.
type HelperCredentials struct {
	ServerURL string
	Username  string
	Secret    string
}

// ParseGet reads the output of a successful `get`.
func ParseGet(stdout string) (HelperCredentials, error) {
	var c HelperCredentials
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		return c, fmt.Errorf("helper output is not the credentials JSON: %w", err)
	}
	return c, nil
}

func (w *World) writeFakeAz(path string) error {
	if w.opts.FakeAzExe == "" {
		return errors.New("no program given to act as the fake az (Options.FakeAzExe)")
	}
	script := fmt.Sprintf("#!/bin/sh\n# A fake Azure CLI: asks the simulated Azure for a token of its logged-in user.\n%s=%s exec %s \"$@\"\n",
		envFakeAz, shellQuote("http://"+w.ControlAddr), shellQuote(w.opts.FakeAzExe))
	return os.WriteFile(path, []byte(script), 0o755)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// RegistryURL is the upstream registry behind host, for diagnostics.
func (w *World) RegistryURL(host string) *url.URL {
	for _, r := range w.regs {
		if r.Host == host {
			return r.URL
		}
	}
	return nil
}

// ConcurrentGets starts n `docker-credential-acr get` processes for input
// at once (all started before any is waited for) and returns how many
// gave each distinct stdout, and the runs that failed.
func (u *User) ConcurrentGets(ctx context.Context, n int, input string) (answers map[string]int, failed []Result) {
	type proc struct {
		cmd         *exec.Cmd
		out, errOut bytes.Buffer
	}
	procs := make([]*proc, n)
	for i := range procs {
		p := &proc{cmd: u.Command(ctx, u.world.opts.Helper, "get")}
		p.cmd.Stdin = strings.NewReader(input + "\n")
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errOut
		procs[i] = p
	}
	answers = map[string]int{}
	started := procs[:0]
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			failed = append(failed, Result{Cmd: "docker-credential-acr get", Err: err, Code: -1})
			continue
		}
		started = append(started, p)
	}
	for _, p := range started {
		if err := p.cmd.Wait(); err != nil {
			r := Result{Cmd: "docker-credential-acr get", Stdout: p.out.String(), Stderr: p.errOut.String(), Err: err, Code: -1}
			if p.cmd.ProcessState != nil {
				r.Code = p.cmd.ProcessState.ExitCode()
			}
			failed = append(failed, r)
			continue
		}
		answers[p.out.String()]++
	}
	return answers, failed
}

// AfterTests is the check every end-to-end TestMain makes once its tests
// have run: whatever they did, no Entra token may have gone anywhere but a
// registry's exchange endpoint. It returns the exit code, and whether the
// run's files should be kept for a look (when it failed), saying so on
// stderr with prefix ("e2e", "kubelet e2e").
func (w *World) AfterTests(code int, prefix, dir string) (int, bool) {
	if leaks := w.Sim.Stats().Leaks(w.Sim.Registries()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "%s: FAIL: an Entra token was sent outside the exchange: %+v\n", prefix, leaks)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "%s: files and registry logs kept in %s\n", prefix, dir)
	}
	return code, code != 0
}
