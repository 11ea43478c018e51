package credhelper_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

const (
	doctorRegistry     = "myreg.azurecr.io"
	plantedSecret      = "planted-client-secret-Zq8~fV2nKp0wXy7L"
	plantedRefresh     = "planted.refresh-token.Rk3mQ9vTn2sW8xYb"
	userAssignedClient = "33333333-3333-4333-8333-333333333333"
	workloadClient     = "44444444-4444-4444-8444-444444444444"
	envClient          = "55555555-5555-4555-8555-555555555555"
)

// doctorWorld is the simulated Azure for one doctor run: the TLS front
// (Entra and the registry) with planted faults, and IMDS on plain HTTP,
// both on loopback; every address a client dials lands on one of them.
type doctorWorld struct {
	sim     *azuresim.Sim
	front   *httptest.Server
	imds    *httptest.Server
	roots   *x509.CertPool
	env     map[string]string
	dir     string
	fedTok  string
	noIMDS  bool
	noRoots bool
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
}

var doctorSim = sync.OnceValue(func() *azuresim.Sim {
	sim, err := azuresim.New(azuresim.Options{Registries: []string{doctorRegistry}})
	if err != nil {
		panic(err)
	}
	return sim
})

func newDoctorWorld(t *testing.T, f azuresim.Faults) *doctorWorld {
	t.Helper()
	// One simulator for all: managed identity tokens sit in MSAL's
	// process-wide cache, so another simulator's keys would not verify them.
	sim := doctorSim()
	sim.Reset()
	ca, err := azuresim.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCert(sim.Hosts()...)
	if err != nil {
		t.Fatal(err)
	}
	w := &doctorWorld{sim: sim, roots: x509.NewCertPool(), dir: t.TempDir()}
	w.roots.AddCert(ca.Cert)
	w.front = httptest.NewUnstartedServer(sim.FaultyHandler(f))
	w.front.TLS = sim.TLSConfig(cert)
	w.front.StartTLS()
	w.imds = httptest.NewServer(sim.IMDSHandler())
	t.Cleanup(func() { w.front.Close(); w.imds.Close() })
	w.env = map[string]string{
		"HOME":                            w.dir,
		"DOCKER_CREDENTIAL_ACR_CONFIG":    filepath.Join(w.dir, "none.yaml"),
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR": filepath.Join(w.dir, "cache"),
	}
	return w
}

// client reaches IMDS for 169.254.169.254 and the TLS front for every
// other address.
func (w *doctorWorld) client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	front, imds := w.front.Listener.Addr().String(), w.imds.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch {
		case strings.HasPrefix(addr, "169.254.169.254:") && w.noIMDS:
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		case strings.HasPrefix(addr, "169.254.169.254:"):
			return (&net.Dialer{}).DialContext(ctx, network, imds)
		case w.dial != nil:
			return w.dial(ctx, network, addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, front)
	}
	if !w.noRoots {
		tr.TLSClientConfig.RootCAs = w.roots
	}
	return &http.Client{Transport: tr}
}

// run runs doctor in both forms and returns the decoded JSON report, the
// raw JSON and the checklist.
func (w *doctorWorld) run(t *testing.T, o credhelper.DoctorOptions) (*credhelper.DoctorReport, string, string) {
	t.Helper()
	if err := os.MkdirAll(w.env["DOCKER_CREDENTIAL_ACR_CACHE_DIR"], 0o700); err != nil {
		t.Fatal(err)
	}
	cache := filecache.New(w.env["DOCKER_CREDENTIAL_ACR_CACHE_DIR"], filecache.Options{})
	// A cached token doctor must neither use nor show.
	key := token.CacheKey{LoginServer: "cached.azurecr.io", Identity: "managed:system", Scope: token.DefaultScope}
	if err := cache.Put(context.Background(), key, token.Entry{LoginServer: "cached.azurecr.io", Source: "managed",
		RefreshToken: plantedRefresh, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := w.client()
	h := credhelper.New(credhelper.Options{
		Getenv: func(k string) string { return w.env[k] }, Cache: cache, HTTPClient: c, Transport: c,
	})
	o.LookPath = func(string) (string, error) { return "", errors.New("not found") }
	var js, text bytes.Buffer
	if _, err := h.Doctor(context.Background(), o, true, &js); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Doctor(context.Background(), o, false, &text); err != nil {
		t.Fatal(err)
	}
	checkSchema(t, js.Bytes())
	var r credhelper.DoctorReport
	if err := json.Unmarshal(js.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{js.String(), text.String()} {
		for _, secret := range []string{plantedSecret, plantedRefresh, w.fedTok} {
			if secret != "" {
				leak.AssertNoFragment(t, out, secret, 12)
			}
		}
		if strings.Contains(out, "eyJ") || w.sim.ContainsEntraToken(out) {
			t.Errorf("the output holds something token-shaped:\n%s", out)
		}
	}
	return &r, js.String(), text.String()
}

// checkSchema checks the JSON object's keys and types, as the README
// documents them.
func checkSchema(t *testing.T, b []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, b)
	}
	for _, k := range []string{"registry", "ok", "sources", "chosen", "steps", "problem"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if _, ok := m["ok"].(bool); !ok {
		t.Errorf("ok is not a boolean")
	}
	for _, k := range []string{"registry", "chosen"} {
		if v := m[k]; v != nil {
			if _, ok := v.(string); !ok {
				t.Errorf("%s is neither null nor a string", k)
			}
		}
	}
	for _, s := range m["sources"].([]any) {
		s := s.(map[string]any)
		_, n := s["name"].(string)
		_, a := s["available"].(bool)
		_, r := s["reason"].(string)
		if !n || !a || !r {
			t.Errorf("source %v lacks name, available or reason", s)
		}
	}
	steps := map[string]bool{"host": true, "settings": true, "entra-token": true, "challenge": true, "exchange": true, "registry-token": true, "clock": true}
	for _, s := range m["steps"].([]any) {
		s := s.(map[string]any)
		if !steps[s["name"].(string)] {
			t.Errorf("step name %q is not one of the fixed names", s["name"])
		}
		if _, ok := s["ms"].(float64); !ok {
			t.Errorf("step %v: ms is not a number", s)
		}
		_, ok1 := s["ok"].(bool)
		_, ok2 := s["detail"].(string)
		if !ok1 || !ok2 {
			t.Errorf("step %v lacks ok or detail", s)
		}
	}
	if p := m["problem"]; p != nil {
		p := p.(map[string]any)
		for _, k := range []string{"code", "summary", "fix"} {
			if s, _ := p[k].(string); s == "" {
				t.Errorf("problem has no %s", k)
			}
		}
	}
}

func TestDoctorProblems(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults azuresim.Faults
		setup  func(t *testing.T, w *doctorWorld)
		opts   credhelper.DoctorOptions
		code   string // "" for no problem
		want   []string
	}{
		{name: "healthy managed identity", opts: credhelper.DoctorOptions{Registry: doctorRegistry, Repository: "hello"},
			setup: func(t *testing.T, w *doctorWorld) {
				// The proxy's password must not be shown (run asserts it).
				w.env["HTTPS_PROXY"], w.env["NO_PROXY"] = "http://proxyuser:"+plantedSecret+"@proxy.example:3128", "localhost"
			}, want: []string{"granted actions: pull", "HTTPS_PROXY=http://proxyuser@proxy.example:3128", "NO_PROXY=localhost"}},
		{name: "healthy service principal", opts: credhelper.DoctorOptions{Registry: doctorRegistry, Repository: "hello"},
			setup: func(t *testing.T, w *doctorWorld) {
				w.sim.AddApp(azuresim.App{ClientID: envClient, Secret: plantedSecret})
				w.env["AZURE_CLIENT_ID"], w.env["AZURE_TENANT_ID"], w.env["AZURE_CLIENT_SECRET"] = envClient, w.sim.TenantID(), plantedSecret
			}, want: []string{"from env"}},
		{name: "no identity, machine only", setup: func(t *testing.T, w *doctorWorld) { w.noIMDS = true }, code: credhelper.ProblemNoIdentity},
		// MSAL keeps managed identity tokens in a process-wide cache: an
		// identity no earlier case asked for keeps an earlier token from
		// answering for the IMDS that is gone (the probe used to hide this).
		{name: "no identity, with registry", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.noIMDS = true; w.env["AZURE_CLIENT_ID"] = "never-cached" }, code: credhelper.ProblemNoIdentity},
		{name: "identity not found", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.env["AZURE_CLIENT_ID"] = userAssignedClient },
			code:  credhelper.ProblemIdentityNotFound, want: []string{userAssignedClient}},
		{name: "audience disallowed", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.env["DOCKER_CREDENTIAL_ACR_AUDIENCE"] = "arm" },
			code:  credhelper.ProblemAudienceDisallowed, want: []string{"DOCKER_CREDENTIAL_ACR_AUDIENCE=acr"}},
		{name: "firewall", opts: credhelper.DoctorOptions{Registry: doctorRegistry}, faults: azuresim.Faults{FirewallIP: "203.0.113.9"},
			code: credhelper.ProblemFirewall, want: []string{"203.0.113.9"}},
		{name: "missing role", opts: credhelper.DoctorOptions{Registry: doctorRegistry, Repository: "hello"}, faults: azuresim.Faults{NoActions: true},
			setup: func(t *testing.T, w *doctorWorld) {
				w.sim.AddApp(azuresim.App{ClientID: envClient, Secret: plantedSecret})
				w.env["AZURE_CLIENT_ID"], w.env["AZURE_TENANT_ID"], w.env["AZURE_CLIENT_SECRET"] = envClient, w.sim.TenantID(), plantedSecret
			}, code: credhelper.ProblemMissingRole, want: []string{"AcrPull", "granted actions: none"}},
		{name: "federated mismatch", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) {
				w.sim.AddApp(azuresim.App{ClientID: workloadClient,
					Federated: []azuresim.FederatedCredential{{Issuer: w.sim.OIDCIssuer(), Subject: "system:serviceaccount:apps:puller"}}})
				tok, err := w.sim.FederatedToken("system:serviceaccount:apps:other", time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				w.fedTok = tok
				path := filepath.Join(w.dir, "token")
				if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
					t.Fatal(err)
				}
				w.env["AZURE_FEDERATED_TOKEN_FILE"], w.env["AZURE_CLIENT_ID"], w.env["AZURE_TENANT_ID"] = path, workloadClient, w.sim.TenantID()
			}, code: credhelper.ProblemFederatedMismatch, want: []string{"system:serviceaccount:apps:other", azuresim.FederatedAudience}},
		{name: "clock skew", opts: credhelper.DoctorOptions{Registry: doctorRegistry}, faults: azuresim.Faults{DateSkew: 10 * time.Minute},
			code: credhelper.ProblemClockSkew},
		{name: "clock behind", opts: credhelper.DoctorOptions{Registry: doctorRegistry}, faults: azuresim.Faults{DateSkew: -7 * time.Minute},
			code: credhelper.ProblemClockSkew, want: []string{"behind this machine's clock"}},
		{name: "clock a little off is fine", opts: credhelper.DoctorOptions{Registry: doctorRegistry}, faults: azuresim.Faults{DateSkew: 2 * time.Minute},
			want: []string{"ahead of this machine's clock"}},
		{name: "unreachable: DNS", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.dial = registryDial(w, dnsFailure) },
			code:  credhelper.ProblemRegistryUnreachable, want: []string{"DNS failed", "privatelink.azurecr.io"}},
		{name: "unreachable: connect", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.dial = registryDial(w, closedPort(t)) },
			code:  credhelper.ProblemRegistryUnreachable, want: []string{"connect failed", "private endpoint"}},
		{name: "unreachable: TLS", opts: credhelper.DoctorOptions{Registry: doctorRegistry},
			setup: func(t *testing.T, w *doctorWorld) { w.dial = registryDial(w, untrustedTLS(t)) },
			code:  credhelper.ProblemRegistryUnreachable, want: []string{"TLS failed"}},
		{name: "not a login server", opts: credhelper.DoctorOptions{Registry: "docker.io"}, code: credhelper.ProblemOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newDoctorWorld(t, tt.faults)
			if tt.setup != nil {
				tt.setup(t, w)
			}
			r, js, text := w.run(t, tt.opts)
			if !strings.Contains(text, "✓") && tt.code == "" {
				t.Errorf("no ✓ in the checklist:\n%s", text)
			}
			if tt.code == "" {
				if !r.OK || r.Problem != nil {
					t.Fatalf("problem reported:\n%s", text)
				}
			} else {
				if r.OK || r.Problem == nil || r.Problem.Code != tt.code {
					t.Fatalf("want problem %s (ok false), got:\n%s", tt.code, js)
				}
				if !strings.Contains(text, "✗") || !strings.Contains(text, "Problem: "+tt.code) {
					t.Errorf("checklist without ✗ or the problem:\n%s", text)
				}
			}
			for _, s := range tt.want {
				if !strings.Contains(js, s) {
					t.Errorf("the report does not say %q:\n%s", s, js)
				}
			}
			if tt.opts.Registry == "" && r.Registry != nil {
				t.Errorf("registry %q without one", *r.Registry)
			}
			if len(r.Sources) == 0 {
				t.Errorf("no sources listed:\n%s", js)
			}
			if strings.Contains(js, "cached.azurecr.io") == false {
				t.Errorf("the cache check does not list the cached entry:\n%s", js)
			}
			if n := w.sim.Stats().Total(azuresim.EndpointExchange); tt.code == "" && n == 0 {
				t.Errorf("no fresh exchange was made")
			}
		})
	}
}

// TestDoctorMissingRoleNamesObjectID checks the evidence: the identity's
// object id, from its Entra token.
func TestDoctorMissingRoleNamesObjectID(t *testing.T) {
	w := newDoctorWorld(t, azuresim.Faults{NoActions: true})
	p, _ := w.sim.SystemAssigned()
	r, js, _ := w.run(t, credhelper.DoctorOptions{Registry: doctorRegistry, Repository: "hello"})
	if r.Problem == nil || r.Problem.Code != credhelper.ProblemMissingRole || !strings.Contains(r.Problem.Fix, p.ObjectID) {
		t.Fatalf("want missing-role naming object id %s:\n%s", p.ObjectID, js)
	}
	if r.Chosen == nil || *r.Chosen != "managed" {
		t.Errorf("chosen is not managed:\n%s", js)
	}
}

type dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// registryDial sends the registry's connections to d and everything else
// to the front.
func registryDial(w *doctorWorld, d dialer) dialer {
	front := w.front.Listener.Addr().String()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, doctorRegistry+":") {
			return d(ctx, network, addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, front)
	}
}

func dnsFailure(_ context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
}

// closedPort dials a loopback port nothing listens on.
func closedPort(t *testing.T) dialer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

// untrustedTLS dials a TLS server whose certificate no root signs.
func untrustedTLS(t *testing.T) dialer {
	s := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(s.Close)
	addr := s.Listener.Addr().String()
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}
