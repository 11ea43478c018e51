//go:build e2e && linux

package e2e

// What the hostile-endpoint suite and the fault matrix share: a get run
// under a hang detector with its peak memory measured, the identities the
// rows use, and the checks every row makes of what the simulator saw.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// deadline is DOCKER_CREDENTIAL_ACR_TIMEOUT for every get here: the whole
// get's deadline (issue 12), shorter than the 10 s default so the suite is
// quick.
const deadline = "3s"

// hangBound is the hang detector: a get still running after it is killed
// and counted as hung. It is not a speed measurement (those are `make
// bench`'s): it is three times the deadline set, generous for a loaded
// machine, and below the 10 s per-request timeouts that ignore the
// deadline, so a wait that does not honour DOCKER_CREDENTIAL_ACR_TIMEOUT
// shows as a hang.
const hangBound = 9 * time.Second

// rssSlack is how much more a hostile get may use at its peak than a
// normal cold get of the same identity: well under the 20 MiB bodies and
// 16 MiB headers the hostile endpoints send, so reading one whole shows.
const rssSlack = 16 << 20

// boundedResult is one get run under the hang detector.
type boundedResult struct {
	harness.Result
	Hung    bool
	PeakRSS int64 // bytes: the child's ru_maxrss
}

// runOpts are a bounded get's extras.
type runOpts struct {
	extra []string // environment added
	// ownNetwork runs the get in a network namespace of its own with no
	// interface up: a machine where IMDS and everything else is absent.
	ownNetwork bool
}

// getBounded runs `get` for input as u, with the deadline set, killing it
// at hangBound. The peak RSS is the helper's own VmHWM (bench.PeakRSS):
// ru_maxrss of a child of this large test process would report this
// process's peak instead.
func getBounded(t *testing.T, u *harness.User, input string, o runOpts) boundedResult {
	t.Helper()
	helper, err := harness.FindHelper()
	if err != nil {
		t.Fatal(err)
	}
	spec := bench.Spec{
		Path:    helper,
		Args:    []string{"get"},
		Env:     append(append(slices.Clone(u.Env), "DOCKER_CREDENTIAL_ACR_TIMEOUT="+deadline), o.extra...),
		Stdin:   input,
		Dir:     filepath.Join(u.Dir, "home"),
		Timeout: hangBound,
	}
	if o.ownNetwork {
		spec.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	}
	peak, s, err := bench.PeakRSS(spec)
	r := boundedResult{
		Result:  harness.Result{Cmd: "docker-credential-acr get " + input, Stdout: s.Stdout, Stderr: s.Stderr, Duration: s.Wall, Code: s.Code, Err: s.Err},
		PeakRSS: peak,
		Hung:    s.Wall >= hangBound && s.Code == -1,
	}
	if err != nil && !r.Hung {
		t.Fatalf("running %s: %v", r.Cmd, err)
	}
	if world.Sim.ContainsEntraToken(r.Stdout + r.Stderr) {
		t.Errorf("get %s printed an Entra token", input)
	}
	if c, err := harness.ParseGet(r.Stdout); err == nil && c.Secret != "" && strings.Contains(r.Stderr, c.Secret) {
		t.Errorf("get %s logged the refresh token on stderr", input)
	}
	return r
}

// The identities the rows use, made once.
const (
	hwClient     = "a0a0a0a0-0000-4000-8000-00000000e001" // workload identity
	hsClient     = "a0a0a0a0-0000-4000-8000-00000000e002" // service principal with a secret
	hgClient     = "a0a0a0a0-0000-4000-8000-00000000e003" // GitHub Actions
	hwSubject    = "system:serviceaccount:hostile:builder"
	hsSecret     = "hostile-suite-client-secret"
	hgJobToken   = "hostile-suite-github-job-token"
	hgSubject    = "repo:octo/hostile:ref:refs/heads/main"
	entraHost    = "login.microsoftonline.com"
	evilHost     = "evilazurecr.io"
	lookAlikeReg = harness.RegionalRegistry + ".evil.test"
)

type hostileIDs struct {
	tokenFile string // the workload identity's federated token
	githubURL string
}

var (
	idsOnce sync.Once
	ids     hostileIDs
	idsErr  error
)

// identitiesForRows registers the rows' apps and CI job, and watches their
// secrets: the federated token, the client secret and the job's bearer
// token may each go to one endpoint only (allowedSightings).
func identitiesForRows(t *testing.T) hostileIDs {
	t.Helper()
	idsOnce.Do(func() {
		sim := world.Sim
		sim.AddApp(azuresim.App{ClientID: hwClient, Federated: []azuresim.FederatedCredential{{Issuer: sim.OIDCIssuer(), Subject: hwSubject}}})
		sim.AddApp(azuresim.App{ClientID: hsClient, Secret: hsSecret})
		sim.AddApp(azuresim.App{ClientID: hgClient, Kind: "github", Federated: []azuresim.FederatedCredential{{Issuer: azuresim.GitHubIssuer, Subject: hgSubject}}})
		ids.githubURL = sim.AddGitHubJob(hgJobToken, hgSubject)
		tok, err := sim.FederatedToken(hwSubject, 2*time.Hour)
		if err != nil {
			idsErr = err
			return
		}
		ids.tokenFile = filepath.Join(world.Dir, "hostile-federated-token")
		idsErr = os.WriteFile(ids.tokenFile, []byte(tok), 0o600)
		sim.Watch("federated assertion", tok)
		sim.Watch("client secret", hsSecret)
		sim.Watch("GitHub job token", hgJobToken)
	})
	if idsErr != nil {
		t.Fatal(idsErr)
	}
	return ids
}

// allowedSightings is where each watched secret may go.
var allowedSightings = map[string]string{
	"federated assertion": entraHost + " " + azuresim.EndpointEntraToken,
	"client secret":       entraHost + " " + azuresim.EndpointEntraToken,
	"GitHub job token":    azuresim.GitHubTokenHost + " " + azuresim.EndpointGitHubOIDC,
}

// Identity sources of the rows.
const (
	srcManaged  = "managed"
	srcWorkload = "workload"
	srcSecret   = "secret"
	srcGitHub   = "github"
)

// userFor makes a user of source src with a cache of its own, named after
// t and suffix.
func userFor(t *testing.T, src, suffix string, env map[string]string) *harness.User {
	t.Helper()
	id := identitiesForRows(t)
	o := harness.UserOptions{Sources: src, Env: map[string]string{}}
	switch src {
	case srcManaged:
	case srcWorkload:
		o.Env = map[string]string{"AZURE_CLIENT_ID": hwClient, "AZURE_TENANT_ID": world.Sim.TenantID(),
			"AZURE_FEDERATED_TOKEN_FILE": id.tokenFile, "AZURE_AUTHORITY_HOST": "https://" + entraHost + "/"}
	case srcSecret:
		o.Sources = "env"
		o.Env = map[string]string{"AZURE_CLIENT_ID": hsClient, "AZURE_TENANT_ID": world.Sim.TenantID(), "AZURE_CLIENT_SECRET": hsSecret}
	case srcGitHub:
		o.Env = map[string]string{"AZURE_CLIENT_ID": hgClient, "AZURE_TENANT_ID": world.Sim.TenantID(),
			"ACTIONS_ID_TOKEN_REQUEST_URL": id.githubURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": hgJobToken}
	default:
		t.Fatalf("no identity source %q", src)
	}
	o.Env = merge(o.Env, env)
	o.Name = strings.NewReplacer("/", "_", " ", "_", ",", "_").Replace(t.Name() + suffix)
	return newUser(t, o)
}

var (
	baselineMu sync.Mutex
	baselines  = map[string]int64{}
)

// baselineRSS is the peak RSS of a normal cold get of src for host, with
// nothing planted: what a hostile row's peak is compared with.
func baselineRSS(t *testing.T, src, host string) int64 {
	t.Helper()
	baselineMu.Lock()
	defer baselineMu.Unlock()
	key := src + " " + host
	if b, ok := baselines[key]; ok {
		return b
	}
	u := userFor(t, src, "-baseline", nil)
	r := getBounded(t, u, host, runOpts{})
	if r.Code != 0 {
		t.Fatalf("the normal get that gives the memory baseline failed: %s", r.Failure())
	}
	baselines[key] = r.PeakRSS
	t.Logf("baseline peak RSS of a cold %s get of %s: %.1f MiB", src, host, float64(r.PeakRSS)/(1<<20))
	return r.PeakRSS
}

var catcherOnce sync.Once

// startCatcher serves plain http on 127.0.0.1:80, where every name of the
// namespace points, so that a redirect or realm to http:// lands on the
// simulator and is recorded (EndpointCaught) instead of being refused
// unseen.
func startCatcher(t *testing.T) {
	t.Helper()
	var err error
	catcherOnce.Do(func() {
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:80"); err != nil {
			return
		}
		srv := &http.Server{Handler: world.Sim.CatchHandler(), ReadHeaderTimeout: 30 * time.Second}
		go func() { _ = srv.Serve(ln) }()
	})
	if err != nil {
		t.Fatalf("start the plain-http catcher: %v", err)
	}
}

// sawOnly checks what the simulator recorded during a row: no Entra token
// anywhere but a login server's exchange, no watched secret anywhere but
// its one endpoint, nothing at all at the forbidden hosts, and nothing on
// plain http.
func sawOnly(t *testing.T, d azuresim.Stats, forbidden []string) {
	t.Helper()
	if leaks := d.Leaks(world.Sim.Registries()); len(leaks) > 0 {
		t.Errorf("an Entra token was sent outside a login server's exchange: %+v", leaks)
	}
	for _, s := range world.Sim.Sightings() {
		if allowedSightings[s.Name] != s.Host+" "+s.Endpoint {
			t.Errorf("the %s was sent to %s (%s); it may go only to %s", s.Name, s.Host, s.Endpoint, allowedSightings[s.Name])
		}
	}
	for _, r := range d.Requests {
		if slices.Contains(forbidden, r.Host) || r.Endpoint == azuresim.EndpointCaught {
			t.Errorf("a request reached %s (%s %s %s): a redirect or realm there must not be followed", r.Host, r.Endpoint, r.Method, r.Path)
		}
	}
}

// failedClearly checks a get that must fail: exit 1 before the hang
// detector, a message on stdout that is not "not found" (docker would go
// anonymous in silence) and names the endpoint (any of names, ignoring
// case), and peak memory near the baseline.
func failedClearly(t *testing.T, r boundedResult, names []string, baseline int64) {
	t.Helper()
	msg := strings.TrimSpace(r.Stdout)
	t.Logf("exit %d after %v, peak RSS %.1f MiB: %s", r.Code, r.Duration.Round(10*time.Millisecond), float64(r.PeakRSS)/(1<<20), harness.Redact(clip(msg, 600)))
	if r.Hung {
		t.Errorf("still running after %v with DOCKER_CREDENTIAL_ACR_TIMEOUT=%s: killed as hung", hangBound, deadline)
	}
	if r.Code != 1 {
		t.Errorf("exit %d, want 1: %s", r.Code, r.Failure())
	}
	if msg == "" || strings.Contains(msg, "credentials not found in native keychain") {
		t.Errorf("message %q: a failure must say what happened, not 'not found'", msg)
	}
	if !containsAnyFold(msg, names) && !r.Hung {
		t.Errorf("the message names none of %q", names)
	}
	if baseline > 0 && r.PeakRSS > baseline+rssSlack {
		t.Errorf("peak RSS %.1f MiB, more than %.0f MiB above a normal get's %.1f MiB: something was read whole",
			float64(r.PeakRSS)/(1<<20), float64(rssSlack)/(1<<20), float64(baseline)/(1<<20))
	}
}

func containsAnyFold(s string, subs []string) bool {
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
}

// plantAll plants ms and tls for the rest of t.
func plantAll(t *testing.T, ms []azuresim.Misbehaviour, tls []azuresim.TLSMisbehaviour) {
	t.Helper()
	for _, m := range ms {
		t.Cleanup(world.Sim.Plant(m))
	}
	for _, m := range tls {
		t.Cleanup(world.Sim.PlantTLS(m))
	}
}
