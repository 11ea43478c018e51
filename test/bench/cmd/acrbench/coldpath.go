//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// The cold path in round trips (issue 11): the simulator delays every TLS
// handshake and every answer by the same D, a stand-in for one round trip
// to Azure, and a cold get's wall time from exec to exit is divided by D.
// Nothing is subtracted: the process's start-up and its own work count
// too, as they do for a user. What it asked, and when, comes from the
// simulator's record, placed on the process's own timeline.

// The identities of the cold-path sources other than managed.
const (
	workloadClient = "2b1d6c0e-4f3a-4e8b-9c21-acbe0c0f1a02"
	githubClient   = "2b1d6c0e-4f3a-4e8b-9c21-acbe0c0f1a03"
	// benchCluster is the simulated AKS cluster's service-account issuer.
	benchCluster   = "https://oidc.cluster.test"
	benchNamespace = "default"
	benchSA        = "builder"
	githubSubject  = "repo:octo/app:ref:refs/heads/main"
	githubJobToken = "acrbench-github-request-token"
)

// coldSource is one identity source timed on the cold path.
type coldSource struct {
	name string
	// env replaces these variables of the world's environment; an empty
	// value removes one.
	env      map[string]string
	identity string // the exchange must be for this principal
	// floor is the fewest round trips the answer needs (issue 11), and
	// target the most the issue accepts.
	floor  string
	target float64
}

// addColdSources gives the simulator a workload identity (an app trusting
// a simulated cluster's service account, whose token is in a file, as AKS
// projects it) and a GitHub Actions job with its own app, and returns the
// three sources to time. The environments are the ones AKS's webhook and
// a GitHub-hosted runner set.
func addColdSources(w *world) ([]coldSource, error) {
	sim := w.sim
	cluster, err := azuresim.NewCluster(benchCluster)
	if err != nil {
		return nil, err
	}
	sim.TrustCluster(cluster)
	subject := azuresim.ServiceAccountSubject(benchNamespace, benchSA)
	wi := sim.AddApp(azuresim.App{ClientID: workloadClient, Federated: []azuresim.FederatedCredential{{Issuer: cluster.Issuer(), Subject: subject}}})
	// A day: the file outlives any run, as the kubelet keeps it fresh.
	tok, err := cluster.ServiceAccountToken(benchNamespace, benchSA, "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", []string{azuresim.FederatedAudience}, azuresim.BoundPod{Name: "builder-0", UID: "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a"}, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(w.dir, "azure-identity-token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		return nil, err
	}
	gh := sim.AddApp(azuresim.App{ClientID: githubClient, Kind: "github", Federated: []azuresim.FederatedCredential{{Issuer: azuresim.GitHubIssuer, Subject: githubSubject}}})
	ghURL := sim.AddGitHubJob(githubJobToken, githubSubject)
	sys, ok := sim.SystemAssigned()
	if !ok {
		return nil, fmt.Errorf("the simulated VM has no system-assigned identity")
	}
	return []coldSource{
		{name: "managed", identity: sys.String(), floor: "2", target: 2.5,
			env: map[string]string{"DOCKER_CREDENTIAL_ACR_SOURCES": "managed"}},
		{name: "workload", identity: wi.String(), floor: "4, 3 without discovery", target: 4.5,
			env: map[string]string{
				"DOCKER_CREDENTIAL_ACR_SOURCES": "workload",
				"AZURE_CLIENT_ID":               workloadClient,
				"AZURE_TENANT_ID":               sim.TenantID(),
				"AZURE_FEDERATED_TOKEN_FILE":    tokenFile,
				"AZURE_AUTHORITY_HOST":          "https://login.microsoftonline.com/",
			}},
		{name: "github", identity: gh.String(), floor: "4", target: 4.5,
			env: map[string]string{
				"DOCKER_CREDENTIAL_ACR_SOURCES":  "github",
				"AZURE_CLIENT_ID":                githubClient,
				"AZURE_TENANT_ID":                sim.TenantID(),
				"ACTIONS_ID_TOKEN_REQUEST_URL":   ghURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": githubJobToken,
			}},
	}, nil
}

// spec is a cold get of src with cacheDir as its (empty) cache.
func (src coldSource) spec(c config, w *world, cacheDir string) bench.Spec {
	env := w.env(cacheDir)
	keys := make([]string, 0, len(src.env))
	for k := range src.env {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same environment, in the same order, every run
	for _, k := range keys {
		env = setEnv(env, k, src.env[k])
	}
	return bench.Spec{Name: "cold get, " + src.name, Path: c.helper, Args: []string{"get"}, Env: env, Stdin: registry + "\n"}
}

// coldRun is one timed cold get and what the simulator saw of it, in
// order of arrival.
type coldRun struct {
	sample bench.Sample
	reqs   []azuresim.Request
}

// hops is the run's wall time in units of d.
func (cr coldRun) hops(d time.Duration) float64 { return bench.Ratio(cr.sample.Wall, d) }

// coldResult is what the targets and the concurrency section use.
type coldResult struct {
	median map[string]float64 // wall / D by source
	wall   map[string]bench.Summary
}

// timeCold runs one cold get of src at the simulator's current delay and
// checks it: it succeeds, makes one exchange, for src's identity, and
// hands no Entra token to anything but the exchange.
func (r *report) timeCold(c config, w *world, src coldSource, dir string) (coldRun, bool) {
	before := w.sim.Stats()
	s := bench.Run(src.spec(c, w, dir))
	// A handshake is recorded when its delay is over: give one the
	// process began just before it exited the time to land here rather
	// than in the next run's record.
	time.Sleep(w.sim.Delay() + 20*time.Millisecond)
	d := w.sim.Stats().Since(before)
	if !s.OK() {
		r.fail("cold get (%s) failed: %s", src.name, harness.Redact(s.Failure("get")))
		return coldRun{}, false
	}
	switch {
	case len(d.Exchanges) != 1:
		r.fail("a cold get (%s) made %d exchanges, want 1", src.name, len(d.Exchanges))
		return coldRun{}, false
	case d.Exchanges[0].Identity != src.identity || d.Exchanges[0].Status != 200:
		r.fail("the cold get (%s) was exchanged for %s (status %d), want %s", src.name, d.Exchanges[0].Identity, d.Exchanges[0].Status, src.identity)
		return coldRun{}, false
	}
	if leaks := d.Leaks(w.sim.Registries()); len(leaks) > 0 {
		r.fail("a cold get (%s) sent an Entra token outside the exchange: %+v", src.name, leaks)
	}
	reqs := slices.Clone(d.Requests)
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Start.Before(reqs[j].Start) })
	return coldRun{sample: s, reqs: reqs}, true
}

// coldDelayed is the cold path in round trips: c.delayRuns cold gets per
// source, the sources taking turns, each with an empty cache, at D =
// c.delay. heading begins the section's title ("3. Cold get,"). timelines
// draws every source's median run and counts its connections (make
// bench-profile); otherwise its requests are listed with their offsets.
func (r *report) coldDelayed(c config, w *world, heading string, timelines bool) coldResult {
	d := c.delay
	res := coldResult{median: map[string]float64{}, wall: map[string]bench.Summary{}}
	r.printf("%s every TLS handshake and every answer of the simulated Azure delayed by D = %v (IMDS, Entra, GitHub's token service, the registry):\n", heading, d)
	r.printf("   wall time from exec to exit / D, nothing subtracted; %d runs per source, sources taking turns, each with an empty cache\n", c.delayRuns)
	w.sim.SetDelay(d)
	defer w.sim.SetDelay(0)
	runs := map[string][]coldRun{}
	for i := range c.delayRuns {
		for _, src := range w.sources {
			dir := filepath.Join(w.dir, fmt.Sprintf("cache-delay-%s-%d", src.name, i))
			if cr, ok := r.timeCold(c, w, src, dir); ok {
				runs[src.name] = append(runs[src.name], cr)
			}
		}
	}
	r.printf("   %-9s %9s %13s %26s %8s\n", "source", "median", "min–max", "floor (round trips)", "target")
	for _, src := range w.sources {
		rs := runs[src.name]
		if len(rs) == 0 {
			continue
		}
		var walls []time.Duration
		for _, cr := range rs {
			walls = append(walls, cr.sample.Wall)
		}
		sum := bench.Summarize(walls)
		med := bench.Ratio(sum.Median, d)
		res.median[src.name], res.wall[src.name] = med, sum
		r.printf("   %-9s %8.2fD %6.2f–%5.2fD %26s %7s   %s\n", src.name, med, bench.Ratio(sum.Min, d), bench.Ratio(sum.Max, d), src.floor, fmt.Sprintf("≤ %.1f", src.target), passMiss(med <= src.target))
		r.target(fmt.Sprintf("cold get / D, %s", src.name), fmt.Sprintf("%.2f", med), fmt.Sprintf("≤ %.1f; floor %s", src.target, src.floor), med <= src.target)
	}
	r.printf("   requests of each source's median run, by arrival (→ after the one before ended, ∥ while an earlier one was still open); offsets in D from exec:\n")
	for _, src := range w.sources {
		rs := runs[src.name]
		if len(rs) == 0 {
			continue
		}
		mr := medianRun(rs)
		r.printf("   %s, %.2fD (%s): %s\n", src.name, mr.hops(d), ms(mr.sample.Wall), requestOrder(mr.reqs, d))
		if rep := repeated(mr.reqs); rep != "" {
			r.printf("      asked more than once: %s\n", rep)
		}
		if timelines {
			r.printf("%s", renderTimeline(mr, d))
		} else {
			r.printf("%s", renderOffsets(mr, d))
		}
	}
	if timelines {
		r.coldDials(c, w)
	}
	r.printf("\n")
	return res
}

// medianRun is the run whose wall time is the median (the lower middle
// one for an even count).
func medianRun(rs []coldRun) coldRun {
	s := slices.Clone(rs)
	sort.Slice(s, func(i, j int) bool { return s[i].sample.Wall < s[j].sample.Wall })
	return s[(len(s)-1)/2]
}

// label names a recorded request for a timeline: "TLS handshake
// login.microsoftonline.com", "entra.token POST login.microsoftonline.com".
func label(q azuresim.Request) string {
	if q.Endpoint == azuresim.EndpointTLSHello {
		return "TLS handshake " + q.Host
	}
	return fmt.Sprintf("%s %s %s", q.Endpoint, q.Method, q.Host)
}

// short is the label in one word, for the order line.
func shortLabel(q azuresim.Request) string {
	if q.Endpoint == azuresim.EndpointTLSHello {
		return "tls(" + q.Host + ")"
	}
	return q.Endpoint
}

// requestOrder lists the requests by arrival, joined by "→" where a
// request began after every earlier one had been answered and "∥" where
// it overlapped one (within a twentieth of D, below which loopback and
// scheduling blur the difference).
func requestOrder(reqs []azuresim.Request, d time.Duration) string {
	if len(reqs) == 0 {
		return "no request"
	}
	var b strings.Builder
	var openUntil time.Time
	for i, q := range reqs {
		if i > 0 {
			if q.Start.Add(d / 20).Before(openUntil) {
				b.WriteString(" ∥ ")
			} else {
				b.WriteString(" → ")
			}
		}
		b.WriteString(shortLabel(q))
		if q.Time.After(openUntil) {
			openUntil = q.Time
		}
	}
	return b.String()
}

// repeated names what a run asked the same host more than once:
// "tls.hello myreg.azurecr.io ×2". Empty when nothing was.
func repeated(reqs []azuresim.Request) string {
	n := map[string]int{}
	var order []string
	for _, q := range reqs {
		k := q.Endpoint + " " + q.Host
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	var out []string
	for _, k := range order {
		if n[k] > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", k, n[k]))
		}
	}
	return strings.Join(out, ", ")
}

// offsets are a request's start and end in D from the process's exec.
func offsets(cr coldRun, q azuresim.Request, d time.Duration) (float64, float64) {
	return bench.Ratio(q.Start.Sub(cr.sample.Start), d), bench.Ratio(q.Time.Sub(cr.sample.Start), d)
}

// renderOffsets lists each request with its start and end offset.
func renderOffsets(cr coldRun, d time.Duration) string {
	var b strings.Builder
	for _, q := range cr.reqs {
		a, e := offsets(cr, q, d)
		fmt.Fprintf(&b, "      %5.2f – %5.2f  %s\n", a, e, label(q))
	}
	fmt.Fprintf(&b, "      %5.2f          exit\n", cr.hops(d))
	return b.String()
}

// timelineCols is how many columns one D takes in a drawn timeline, and
// labelWidth the width of its requests' names.
const (
	timelineCols = 8
	labelWidth   = 62
)

// renderTimeline draws the run: one row per request, a bar from its
// arrival to its answer, a scale in D, and the process's exit.
func renderTimeline(cr coldRun, d time.Duration) string {
	end := cr.hops(d)
	width := int(end*timelineCols) + 1
	for _, q := range cr.reqs {
		_, e := offsets(cr, q, d)
		width = max(width, int(e*timelineCols)+1)
	}
	var b strings.Builder
	scale := []byte(strings.Repeat(" ", width+timelineCols))
	for k := 0; k*timelineCols < width; k++ {
		copy(scale[k*timelineCols:], fmt.Sprint(k))
	}
	fmt.Fprintf(&b, "      %-13s  %-*s  %s\n", "start – end", labelWidth, "", strings.TrimRight(string(scale), " "))
	bar := func(a, e float64, mark byte) string {
		row := []byte(strings.Repeat(" ", width))
		for k := 0; k*timelineCols < width; k++ {
			row[k*timelineCols] = '.'
		}
		from, to := int(a*timelineCols+0.5), int(e*timelineCols+0.5)
		to = max(to, from+1)
		for i := max(from, 0); i < min(to, width); i++ {
			row[i] = mark
		}
		return string(row)
	}
	for _, q := range cr.reqs {
		a, e := offsets(cr, q, d)
		fmt.Fprintf(&b, "      %5.2f – %5.2f  %-*s  %s\n", a, e, labelWidth, clip(label(q), labelWidth), bar(a, e, '='))
	}
	fmt.Fprintf(&b, "      %5.2f – %5.2f  %-*s  %s\n", 0.0, end, labelWidth, "the helper process, exec to exit", bar(0, end, '-'))
	return b.String()
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
