//go:build linux

// Command acrbench measures docker-credential-acr as docker runs it, one
// process per lookup, against a simulated Azure, and prints ratios of
// programs measured side by side in one run. `make bench` runs it.
//
// It runs itself again inside private network and mount namespaces (see
// package harness), where 169.254.169.254, login.microsoftonline.com and
// myreg.azurecr.io are the simulator's. The helper never reaches the
// machine's own network: the scenarios without an identity run in yet
// another, empty, network namespace each.
//
// Nothing is asserted about time. It exits 1 only when the helper
// misbehaves: a cached get that touches the network or builds a
// credential, concurrent gets that exchange more than once or disagree,
// a get that fails where it should succeed, an Entra token sent anywhere
// but the exchange. The issues' targets (ratios, and the cold path in
// round trips of a simulated delay D) are printed PASS or MISS; -strict
// makes a miss fail the run too.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

type config struct {
	helper, nothing, hello string
	runs, warmup, cold     int
	concurrency            []int
	following              int
	keep, profile, strict  bool
	// delay is D, by which the simulator delays every TLS handshake and
	// every answer for the cold path in round trips; delayRuns the cold
	// gets per source at that delay. 0 skips that section.
	delay     time.Duration
	delayRuns int
	// compare are other builds of the helper, measured alongside in the
	// cached-get comparison (e.g. a CGO_ENABLED=0 build).
	compare []namedPath
}

type namedPath struct{ name, path string }

func main() {
	var c config
	var conc, compare string
	var noidChild string
	flag.StringVar(&c.helper, "helper", "bin/docker-credential-acr", "the docker-credential-acr binary to measure")
	flag.StringVar(&c.nothing, "nothing", "bin/bench/nothing", "a do-nothing binary linking the helper's packages (test/bench/nothing)")
	flag.StringVar(&c.hello, "hello", "bin/bench/hello", "a hello-world binary (test/bench/hello)")
	flag.IntVar(&c.runs, "runs", 300, "runs of each program in the cached-get comparison (at least 200 for the README figures)")
	flag.IntVar(&c.warmup, "warmup", 10, "uncounted rounds before the cached-get comparison")
	flag.IntVar(&c.cold, "cold", 20, "cold gets (empty cache) to time")
	flag.StringVar(&conc, "concurrency", "32,128", "comma-separated numbers of concurrent cold gets")
	flag.IntVar(&c.following, "following", 10, "gets timed after the first failing one, without an identity")
	flag.StringVar(&compare, "compare", "", "other builds of the helper to time alongside in the cached-get comparison: name=path[,name=path] (names without commas)")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory")
	flag.BoolVar(&c.profile, "profile", false, "instead of the benchmarks, trace one cached get (strace) and its start-up (inittrace), and draw the cold path's timeline for each source at D = -delay")
	flag.DurationVar(&c.delay, "delay", 200*time.Millisecond, "D: the simulator delays every TLS handshake and every answer by this much for the cold path in round trips (0 skips it)")
	flag.IntVar(&c.delayRuns, "delay-runs", 5, "cold gets per source at D (the median is reported)")
	flag.BoolVar(&c.strict, "strict", false, "a missed target (PASS/MISS lines) fails the run, as misbehaviour does")
	flag.StringVar(&noidChild, "noid-child", "", "internal: run a no-identity scenario in this process's network namespace")
	flag.Parse()

	if c.delay < 0 || c.delayRuns < 1 {
		fatalf("-delay must not be negative and -delay-runs must be at least 1")
	}
	if noidChild != "" {
		os.Exit(runNoIdentityChild(noidChild, os.Stdout))
	}
	for _, f := range strings.Split(conc, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fatalf("-concurrency: %q is not a positive number", f)
		}
		c.concurrency = append(c.concurrency, n)
	}
	for _, f := range strings.Split(compare, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		// The last "=" separates: a name may say "CGO_ENABLED=0".
		i := strings.LastIndex(f, "=")
		name, path := f[:max(i, 0)], f[i+1:]
		if i < 0 || name == "" || path == "" {
			fatalf("-compare: %q is not name=path", f)
		}
		c.compare = append(c.compare, namedPath{name, path})
	}
	if !harness.InNamespace() {
		for _, p := range c.programs() {
			abs := absOrExit(*p)
			if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
				fatalf("%s is missing: build it first (make bench builds all three)", abs)
			}
		}
		code, err := harness.Reexec()
		if err != nil {
			fatalf("%v", err)
		}
		os.Exit(code)
	}
	os.Exit(inside(c))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "acrbench: "+format+"\n", args...)
	os.Exit(1)
}

// programs points at the paths of every binary acrbench runs, so that the
// check before re-executing and the rewrite inside agree on the list.
func (c *config) programs() []*string {
	paths := []*string{&c.helper, &c.nothing, &c.hello}
	for i := range c.compare {
		paths = append(paths, &c.compare[i].path)
	}
	return paths
}

func absOrExit(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		fatalf("%v", err)
	}
	return abs
}

// inside runs in the namespaces Reexec made.
func inside(c config) int {
	for _, p := range c.programs() {
		*p = absOrExit(*p)
	}
	dir, err := os.MkdirTemp("", "acrbench-")
	if err != nil {
		fatalf("%v", err)
	}
	if c.keep {
		fmt.Fprintf(os.Stderr, "acrbench: files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	w, err := startWorld(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acrbench: %v\n", err)
		return 1
	}
	defer w.close()

	r := &report{out: os.Stdout, strict: c.strict}
	r.header(c)
	r.linking(c)
	r.printf("\n")
	if c.profile {
		r.profile(c, w)
		if c.delay > 0 {
			r.coldDelayed(c, w, "Profile: a cold get,", true)
		}
		r.startup(c, w)
		r.leaks(w)
		return r.finish()
	}
	cached := r.cachedGet(c, w)
	cold := r.coldGet(c, w, cached)
	var delayed coldResult
	if c.delay > 0 {
		delayed = r.coldDelayed(c, w, "3. Cold get,", false)
	}
	for _, n := range c.concurrency {
		r.concurrentGets(c, w, "4.", n, cold)
	}
	// Once more with every round trip taking D: the lock holder then
	// works for longer while the others wait, as on a real network.
	if sum, ok := delayed.wall["managed"]; ok && len(c.concurrency) > 0 {
		w.sim.SetDelay(c.delay)
		r.concurrentGets(c, w, "4.", c.concurrency[0], sum)
		w.sim.SetDelay(0)
	}
	r.sizes(c, cached)
	r.noIdentity(c, w, cached)
	r.startup(c, w)
	r.leaks(w)
	return r.finish()
}

// leaks fails the run if any Entra token the simulator issued reached
// anything but a registry's exchange, in any section.
func (r *report) leaks(w *world) {
	if l := w.sim.Stats().Leaks(w.sim.Registries()); len(l) > 0 {
		r.fail("an Entra token was sent outside the exchange: %+v", l)
	}
}

// world is the simulated Azure, served under the real names.
type world struct {
	sim     *azuresim.Sim
	servers *azuresim.Servers
	dir     string
	caFile  string
	// sources are the identities timed on the cold path with a delay.
	sources []coldSource
}

func startWorld(dir string) (*world, error) {
	if err := harness.SetupNamespace(dir, harness.NamespaceHosts([]string{harness.Registry1})); err != nil {
		return nil, err
	}
	sim, err := azuresim.New(azuresim.Options{Registries: []string{harness.Registry1}})
	if err != nil {
		return nil, err
	}
	ca, err := azuresim.NewCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.ServerCert(append(sim.Hosts(), harness.HostileHosts()...)...)
	if err != nil {
		return nil, err
	}
	w := &world{sim: sim, dir: dir, caFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(w.caFile, ca.CertPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		return nil, err
	}
	w.servers, err = sim.Serve(azuresim.ServeOptions{
		TLSAddr:  "127.0.0.1:443",
		Cert:     cert,
		IMDSAddr: azuresim.IMDSHost + ":80",
	})
	if err != nil {
		return nil, fmt.Errorf("start the simulated Azure: %w", err)
	}
	if w.sources, err = addColdSources(w); err != nil {
		w.close()
		return nil, fmt.Errorf("set up the cold-path identities: %w", err)
	}
	return w, nil
}

func (w *world) close() { _ = w.servers.Close() }

// env is the whole environment of every program measured: a user on an
// Azure VM with a system-assigned managed identity, as docker would start
// the helper. The comparison binaries get the same one.
func (w *world) env(cacheDir string, extra ...string) []string {
	return append([]string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + filepath.Join(w.dir, "home"),
		"SSL_CERT_FILE=" + w.caFile,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR=" + cacheDir,
		"DOCKER_CREDENTIAL_ACR_SOURCES=managed",
	}, extra...)
}

// newNetNS puts a child in a network namespace of its own, with no
// interface up: any connection it tries fails at once.
func newNetNS() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
}

// noIdentityResult is what a no-identity child reports, as JSON.
type noIdentityResult struct {
	FirstNS   int64   `json:"first_ns"`
	FirstCode int     `json:"first_code"`
	FirstOut  string  `json:"first_out"`
	NextNS    []int64 `json:"next_ns"`
	NextCodes []int   `json:"next_codes"`
	NextOut   string  `json:"next_out"`
	// FirstRequests and NextRequests count the HTTP requests a stand-in
	// server at 169.254.169.254 answered (imdsForeign only).
	FirstRequests int64  `json:"first_requests"`
	NextRequests  int64  `json:"next_requests"`
	Error         string `json:"error,omitempty"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}
