//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

const registry = harness.Registry1

// report prints as it measures and collects what went wrong.
type report struct {
	out      io.Writer
	problems []string
	targets  []targetLine
	strict   bool // a missed target is a problem
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

func (r *report) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.problems = append(r.problems, msg)
	r.printf("   FAIL: %s\n", msg)
}

func (r *report) finish() int {
	if missed := r.targetSummary(); missed > 0 && r.strict {
		r.problems = append(r.problems, fmt.Sprintf("%d target(s) missed (-strict)", missed))
	}
	if len(r.problems) == 0 {
		r.printf("\nacrbench: the helper behaved correctly throughout (times are reported, never asserted).\n")
		return 0
	}
	r.printf("\nacrbench: %d problem(s):\n", len(r.problems))
	for _, p := range r.problems {
		r.printf("  - %s\n", p)
	}
	return 1
}

func (r *report) header(c config) {
	r.printf("acrbench: docker-credential-acr as docker runs it, one process per lookup, against a simulated Azure\n")
	r.printf("  %s, %d CPUs, GOMAXPROCS of the children unset; helper %s\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), c.helper)
	// A "-dirty" version names no source: the digest tells two builds of
	// the same commit apart when runs are compared.
	v := bench.Run(bench.Spec{Path: c.helper, Args: []string{"version"}})
	r.printf("  helper: %s, sha256 %s\n", clip(v.Stdout, 120), fileDigest(c.helper))
	r.printf("  identity: system-assigned managed identity (DOCKER_CREDENTIAL_ACR_SOURCES=managed); registry %s\n", registry)
	if c.delay > 0 {
		r.printf("  cold path in round trips: also a workload identity (federated token file of a simulated cluster) and a GitHub Actions job; D = %v\n", c.delay)
	}
	r.printf("  times vary with the machine: compare the ratios, which are measured side by side\n")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func x(f float64) string { return fmt.Sprintf("%.2f×", f) }

// cachedResult is what later sections compare with.
type cachedResult struct {
	answer string
	wall   bench.Summary
	// specs are the cached get, the do-nothing binary and hello world.
	specs []bench.Spec
}

// cachedGet times a cached get against the yardsticks, alternating, and
// checks that it touches no network and builds no credential.
func (r *report) cachedGet(c config, w *world) cachedResult {
	r.printf("1. Cached get, whole process, vs. a do-nothing binary with the same packages vs. hello world; and a cached get with a config file\n")
	hot := filepath.Join(w.dir, "cache-hot")
	// One real cold get fills the cache under the key the binary itself
	// computes for this environment. azidentity's own log is on for it:
	// it must show a credential being built, or the check below would
	// prove nothing.
	fill := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: w.env(hot, "AZURE_SDK_GO_LOGGING=all"), Stdin: registry + "\n"})
	res := cachedResult{}
	if !fill.OK() {
		r.fail("the get that fills the cache failed: %s", harness.Redact(fill.Failure("get")))
		return res
	}
	creds, err := harness.ParseGet(fill.Stdout)
	switch {
	case err != nil:
		r.fail("the get that fills the cache: %v", err)
	case creds.Username != credhelper.TokenUsername || creds.Secret == "" || creds.ServerURL != registry:
		r.fail("the get that fills the cache answered username %q, server %q, secret of %d bytes", creds.Username, creds.ServerURL, len(creds.Secret))
	}
	credentialBuilt := strings.Contains(fill.Stderr, "ManagedIdentityCredential")
	if !credentialBuilt {
		r.fail("azidentity's log (AZURE_SDK_GO_LOGGING=all) did not show the cold get building a ManagedIdentityCredential: the check that cached gets build none cannot be trusted")
	}
	res.answer = fill.Stdout

	specs := []bench.Spec{
		{Name: "cached get", Path: c.helper, Args: []string{"get"}, Env: w.env(hot), Stdin: registry + "\n"},
		{Name: "do-nothing (same packages)", Path: c.nothing, Env: w.env(hot), Stdin: registry + "\n"},
		{Name: "hello world", Path: c.hello, Env: w.env(hot), Stdin: registry + "\n"},
	}
	res.specs = specs
	// The same cached get where a config file exists: it is read and
	// parsed on every get, which the gets above never pay.
	cfgIdx, cfgAnswer := -1, ""
	if spec, answer, ok := r.configGet(c, w, hot, res.answer); ok {
		cfgIdx, cfgAnswer = len(specs), answer
		specs = append(specs, spec)
	}
	firstCompare := len(specs)
	for _, np := range c.compare {
		specs = append(specs, bench.Spec{Name: np.name, Path: np.path, Args: []string{"get"}, Env: w.env(hot), Stdin: registry + "\n"})
	}
	before := w.sim.Stats()
	for _, order := range bench.Rotations(len(specs), c.warmup) {
		for _, i := range order {
			bench.Run(specs[i])
		}
	}
	walls := make([][]time.Duration, len(specs))
	cpus := make([][]time.Duration, len(specs))
	// Ratios within each round pair runs made moments apart, so a slow
	// spell of the machine cancels out.
	var paired, pairedHello, pairedCfg, pairedCfgNo []float64
	bad := 0
	for _, order := range bench.Rotations(len(specs), c.runs) {
		round := make([]time.Duration, len(specs))
		for _, i := range order {
			s := bench.Run(specs[i])
			if !s.OK() || (i == 0 && s.Stdout != res.answer) || (i == cfgIdx && s.Stdout != cfgAnswer) || (i >= firstCompare && !strings.Contains(s.Stdout, `"Secret"`)) {
				if bad++; bad <= 3 {
					r.fail("%s: a run failed or answered differently: %s", specs[i].Name, harness.Redact(s.Failure(specs[i].Name)))
				}
				continue
			}
			walls[i] = append(walls[i], s.Wall)
			cpus[i] = append(cpus[i], s.CPU)
			round[i] = s.Wall
		}
		if round[0] > 0 && round[1] > 0 && round[2] > 0 { // the three that are always there
			paired = append(paired, bench.Ratio(round[0], round[1]))
			pairedHello = append(pairedHello, bench.Ratio(round[0], round[2]))
			if cfgIdx > 0 && round[cfgIdx] > 0 {
				pairedCfg = append(pairedCfg, bench.Ratio(round[cfgIdx], round[1]))
				pairedCfgNo = append(pairedCfgNo, bench.Ratio(round[cfgIdx], round[0]))
			}
		}
	}
	after := w.sim.Stats()
	r.printf("   %d runs of each, alternating order (each program equally often in each position); %d warm-up rounds not counted\n", c.runs, c.warmup)
	r.printf("   %-28s %12s %12s %12s\n", "", "wall median", "wall p90", "CPU median")
	sums := make([]bench.Summary, len(specs))
	cpuSums := make([]bench.Summary, len(specs))
	for i, s := range specs {
		sums[i] = bench.Summarize(walls[i])
		cpuSums[i] = bench.Summarize(cpus[i])
		r.printf("   %-28s %12s %12s %12s\n", s.Name, ms(sums[i].Median), ms(sums[i].P90), ms(cpuSums[i].Median))
	}
	res.wall = sums[0]
	pm := bench.Median(paired)
	ph := bench.Median(pairedHello)
	verdict := "met"
	if bench.Ratio(sums[0].Median, sums[1].Median) > 1.3 {
		verdict = "NOT met"
	}
	r.target("cached get / do-nothing binary (median)", x(bench.Ratio(sums[0].Median, sums[1].Median)), "≤ 1.30×", verdict == "met")
	r.printf("   cached / do-nothing:  median %s  p90 %s  CPU %s  per-round median %s   (issue 4 target ≤ 1.30× — %s)\n",
		x(bench.Ratio(sums[0].Median, sums[1].Median)), x(bench.Ratio(sums[0].P90, sums[1].P90)),
		x(bench.Ratio(cpuSums[0].Median, cpuSums[1].Median)), x(pm), verdict)
	r.printf("   cached / hello world: median %s  p90 %s  CPU %s  per-round median %s\n",
		x(bench.Ratio(sums[0].Median, sums[2].Median)), x(bench.Ratio(sums[0].P90, sums[2].P90)),
		x(bench.Ratio(cpuSums[0].Median, cpuSums[2].Median)), x(ph))
	r.printf("   do-nothing / hello:   median %s  (the price of linking azidentity & co., paid before main)\n",
		x(bench.Ratio(sums[1].Median, sums[2].Median)))
	if cfgIdx > 0 {
		verdict := "met"
		if bench.Ratio(sums[cfgIdx].Median, sums[1].Median) > 1.3 {
			verdict = "NOT met"
		}
		r.printf("   config / do-nothing:  median %s  p90 %s  CPU %s  per-round median %s   (issue 4 target ≤ 1.30× — %s)\n",
			x(bench.Ratio(sums[cfgIdx].Median, sums[1].Median)), x(bench.Ratio(sums[cfgIdx].P90, sums[1].P90)),
			x(bench.Ratio(cpuSums[cfgIdx].Median, cpuSums[1].Median)), x(bench.Median(pairedCfg)), verdict)
		r.printf("   config / no config:   median %s  p90 %s  CPU %s  per-round median %s  (what reading the config file costs a cached get)\n",
			x(bench.Ratio(sums[cfgIdx].Median, sums[0].Median)), x(bench.Ratio(sums[cfgIdx].P90, sums[0].P90)),
			x(bench.Ratio(cpuSums[cfgIdx].Median, cpuSums[0].Median)), x(bench.Median(pairedCfgNo)))
	}
	for i := firstCompare; i < len(specs); i++ {
		r.printf("   %s: / do-nothing median %s, p90 %s;  / cached get median %s, p90 %s\n", specs[i].Name,
			x(bench.Ratio(sums[i].Median, sums[1].Median)), x(bench.Ratio(sums[i].P90, sums[1].P90)),
			x(bench.Ratio(sums[i].Median, sums[0].Median)), x(bench.Ratio(sums[i].P90, sums[0].P90)))
	}

	// No network: the simulator saw nothing, and the same get works where
	// there is no network at all.
	d := after.Since(before)
	total := 0
	for _, n := range d.Counts {
		total += n
	}
	if total != 0 {
		r.fail("the simulator saw %d request(s) during the cached gets:\n%s", total, d.CountSummary())
	} else {
		r.printf("   network: the simulator saw 0 requests (and 0 TLS handshakes) during the %d cached gets\n", (len(specs)-2)*(c.runs+c.warmup))
	}
	const isolated = 20
	okIsolated := 0
	for range isolated {
		s := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: specs[0].Env, Stdin: specs[0].Stdin, SysProcAttr: newNetNS()})
		if s.OK() && s.Stdout == res.answer {
			okIsolated++
		} else if okIsolated == 0 {
			r.fail("a cached get in a network namespace with no interface failed or differed: %s", harness.Redact(s.Failure("get")))
		}
	}
	if okIsolated == isolated {
		r.printf("   network: %d more cached gets, each in a network namespace with no interface at all, gave the same answer\n", isolated)
	} else {
		r.fail("%d of %d cached gets without any network gave the same answer", okIsolated, isolated)
	}
	// No credential: azidentity logs the construction of a managed
	// identity credential, and azcore every request it sends.
	dbg := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: w.env(hot, "AZURE_SDK_GO_LOGGING=all", "DOCKER_CREDENTIAL_ACR_LOG=debug"), Stdin: registry + "\n"})
	switch {
	case !dbg.OK() || dbg.Stdout != res.answer:
		r.fail("the cached get with debug logs failed or differed: %s", harness.Redact(dbg.Failure("get")))
	case strings.Contains(dbg.Stderr, "ManagedIdentityCredential") || strings.Contains(dbg.Stderr, "OUTGOING REQUEST"):
		r.fail("a cached get built a credential or sent a request (azidentity's log):\n%s", harness.Redact(dbg.Stderr))
	case !strings.Contains(dbg.Stderr, "using cached refresh token"):
		r.fail("the cached get's debug log does not say it used the cache:\n%s", harness.Redact(dbg.Stderr))
	case credentialBuilt:
		r.printf("   credential: none built — with AZURE_SDK_GO_LOGGING=all, azidentity logged \"ManagedIdentityCredential will use …\" for the cold get and nothing for a cached one\n")
	}
	if cfgIdx > 0 {
		cd := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: append(slices.Clip(specs[cfgIdx].Env), "AZURE_SDK_GO_LOGGING=all", "DOCKER_CREDENTIAL_ACR_LOG=debug"), Stdin: registry + "\n"})
		switch {
		case !cd.OK() || cd.Stdout != cfgAnswer:
			r.fail("the cached get with a config file and debug logs failed or differed: %s", harness.Redact(cd.Failure("get")))
		case strings.Contains(cd.Stderr, "ManagedIdentityCredential") || strings.Contains(cd.Stderr, "OUTGOING REQUEST"):
			r.fail("a cached get with a config file built a credential or sent a request (azidentity's log):\n%s", harness.Redact(cd.Stderr))
		case !strings.Contains(cd.Stderr, "using cached refresh token"):
			r.fail("the cached get with a config file: its debug log does not say it used the cache:\n%s", harness.Redact(cd.Stderr))
		default:
			r.printf("   credential: none built for the cached get with a config file either\n")
		}
	}
	r.printf("\n")
	return res
}

// coldGet times gets with an empty cache, alternating with cached ones.
func (r *report) coldGet(c config, w *world, cached cachedResult) bench.Summary {
	r.printf("2. Cold get (empty cache), managed identity, no delay: whatever it asks (listed below), the exchange, the cache write\n")
	var walls, cachedWalls []time.Duration
	counts := map[string]int{}
	for i := range c.cold {
		dir := filepath.Join(w.dir, fmt.Sprintf("cache-cold-%d", i))
		before := w.sim.Stats()
		s := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: w.env(dir), Stdin: registry + "\n"})
		d := w.sim.Stats().Since(before)
		if !s.OK() {
			r.fail("cold get %d failed: %s", i, harness.Redact(s.Failure("get")))
			continue
		}
		if n := d.Count(registry, azuresim.EndpointExchange); n != 1 {
			r.fail("cold get %d made %d exchanges, want 1", i, n)
		}
		for k, v := range d.Counts {
			counts[k] += v
		}
		walls = append(walls, s.Wall)
		if cs := bench.Run(cached.specs[0]); cs.OK() {
			cachedWalls = append(cachedWalls, cs.Wall)
		}
	}
	sum := bench.Summarize(walls)
	cs := bench.Summarize(cachedWalls)
	r.printf("   %d cold gets, each with a fresh cache directory, alternating with cached gets\n", len(walls))
	r.printf("   cold get: median %s, p90 %s;  cached get alongside: median %s;  cold / cached: %s\n", ms(sum.Median), ms(sum.P90), ms(cs.Median), x(bench.Ratio(sum.Median, cs.Median)))
	if len(walls) > 0 {
		r.printf("   requests per cold get: %s\n", perRun(counts, len(walls)))
	}
	r.printf("\n")
	return sum
}

// perRun renders endpoint counts divided by runs, e.g. "imds 1, acr.exchange 1".
func perRun(counts map[string]int, runs int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := float64(counts[k]) / float64(runs)
		if v == float64(int(v)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, int(v)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

// concurrentGets starts n cold gets at once on one empty cache directory,
// at the simulator's current delay, and compares them with cold, a
// single cold get at that delay.
func (r *report) concurrentGets(c config, w *world, section string, n int, cold bench.Summary) {
	delay := ""
	if d := w.sim.Delay(); d > 0 {
		delay = fmt.Sprintf(", every handshake and answer delayed by D = %v", d)
	}
	r.printf("%s %d concurrent cold gets for one registry on one empty cache directory%s\n", section, n, delay)
	dir := filepath.Join(w.dir, fmt.Sprintf("cache-concurrent-%d-%d", n, w.sim.Delay()))
	before := w.sim.Stats()
	samples, wall := bench.RunConcurrent(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: w.env(dir), Stdin: registry + "\n"}, n)
	d := w.sim.Stats().Since(before)
	answers := map[string]int{}
	failed := 0
	var walls []time.Duration
	for _, s := range samples {
		if !s.OK() {
			if failed++; failed <= 3 {
				r.fail("a concurrent get failed: %s", harness.Redact(s.Failure("get")))
			}
			continue
		}
		answers[s.Stdout]++
		walls = append(walls, s.Wall)
	}
	imds := d.Total(azuresim.EndpointIMDS)
	probes := d.Total(azuresim.EndpointIMDSProbe)
	entra := d.Total(azuresim.EndpointEntraToken)
	exchanges := d.Count(registry, azuresim.EndpointExchange)
	challenges := d.Count(registry, azuresim.EndpointChallenge)
	each := bench.Summarize(walls)
	r.printf("   wall time, first start to last exit: %s (%s a single cold get); per process: median %s, max %s\n",
		ms(wall), x(bench.Ratio(wall, cold.Median))+" of", ms(each.Median), ms(each.Max))
	r.printf("   Entra/IMDS token requests: %d (IMDS probes %d, Entra %d); challenges %d; exchanges %d\n", imds+entra, probes, entra, challenges, exchanges)
	if exchanges != 1 || imds+entra != 1 {
		r.fail("%d concurrent gets made %d token request(s) and %d exchange(s); want exactly 1 of each", n, imds+entra, exchanges)
	}
	switch {
	case failed > 0:
		r.fail("%d of %d concurrent gets failed", failed, n)
	case len(answers) != 1:
		r.fail("%d concurrent gets gave %d different answers", n, len(answers))
	default:
		r.printf("   answers: all %d identical\n", n)
	}
	r.printf("\n")
}

// sizes compares peak RSS and binary sizes.
func (r *report) sizes(c config, cached cachedResult) {
	const runs = 21
	r.printf("5. Memory and size\n")
	if len(cached.specs) == 0 {
		r.fail("no cached get to measure")
		return
	}
	peaks := make([][]int64, len(cached.specs))
	for _, order := range bench.Rotations(len(cached.specs), runs) {
		for _, i := range order {
			peak, s, err := bench.PeakRSS(cached.specs[i])
			switch {
			case err != nil:
				r.fail("%s: measuring peak RSS: %v", cached.specs[i].Name, err)
				return
			case !s.OK() || (i == 0 && s.Stdout != cached.answer):
				r.fail("%s under ptrace failed or answered differently: %s", cached.specs[i].Name, harness.Redact(s.Failure(cached.specs[i].Name)))
				return
			}
			peaks[i] = append(peaks[i], peak)
		}
	}
	h, n, hw := bench.Median(peaks[0]), bench.Median(peaks[1]), bench.Median(peaks[2])
	r.printf("   peak RSS (VmHWM at exit, median of %d): cached get %s, do-nothing %s, hello %s;  cached / do-nothing %s, cached / hello %s\n",
		runs, mib(h), mib(n), mib(hw), x(float64(h)/float64(max(n, 1))), x(float64(h)/float64(max(hw, 1))))
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			r.fail("%v", err)
			return 0
		}
		return fi.Size()
	}
	hs, ns, hws := size(c.helper), size(c.nothing), size(c.hello)
	r.printf("   binary size (stripped, -trimpath -s -w, as make build): helper %s, do-nothing %s, hello %s;  helper / do-nothing %s\n",
		mib(hs), mib(ns), mib(hws), x(float64(hs)/float64(max(ns, 1))))
	r.printf("\n")
}

// fileDigest is the first 16 hex digits of path's SHA-256.
func fileDigest(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
