//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/kubernetes/pkg/credentialprovider"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
	"github.com/docker-credential-acr/docker-credential-acr/test/kubelet"
)

// The matchImages of the product's README config: the kubelet's globs
// match label by label, so the regional form needs its own pattern, and
// an image with :443 its own.
var matchACR = []string{"*.azurecr.io", "*.*.geo.azurecr.io", "*.azurecr.io:443"}

// run runs one kubelet scenario in its own process and checks that the
// kubelet accepted the config and found the binary.
func run(t *testing.T, s kubelet.Scenario) kubelet.Outcome {
	t.Helper()
	out, err := kubelet.Run(ctxFor(t), t.TempDir(), s)
	if err != nil {
		t.Fatal(err)
	}
	if out.RegisterError != "" {
		t.Fatalf("the kubelet refused the CredentialProviderConfig or the bin dir: %s", out.RegisterError)
	}
	return out
}

// pod is a lookup by a pod without a service account.
func pod(ns, name, image string) kubelet.Lookup {
	return kubelet.Lookup{Namespace: ns, Pod: name, PodUID: "uid-" + name, Image: image}
}

// saPod is a lookup by a pod running as service account sa.
func saPod(ns, name, sa, image string) kubelet.Lookup {
	l := pod(ns, name, image)
	l.ServiceAccount = sa
	return l
}

// refreshFor checks that password is an ACR refresh token for host and
// for no other simulated registry, and returns its claims.
func refreshFor(t *testing.T, host, password string) map[string]any {
	t.Helper()
	claims, err := world.Sim.VerifyRefreshToken(host, password)
	if err != nil {
		t.Errorf("the password for %s is not a refresh token of %s: %v", host, host, err)
		return nil
	}
	for _, other := range registries {
		if other != host {
			if _, err := world.Sim.VerifyRefreshToken(other, password); err == nil {
				t.Errorf("the refresh token for %s is also valid at %s", host, other)
			}
		}
	}
	return claims
}

// pull uses the credentials as a registry client does: ACR's Basic-auth
// token endpoint, then the manifest of hello:1 from the real registry.
func pull(t *testing.T, host, username, password string) {
	t.Helper()
	pem, err := os.ReadFile(world.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"service": {host}, "scope": {"repository:hello:pull"}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/oauth2/token?"+q.Encode(), nil)
	req.SetBasicAuth(username, password)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("pull from %s: token: %v", host, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("pull from %s: the token endpoint refused the kubelet's credentials: %d (%v)", host, resp.StatusCode, err)
	}
	for _, ref := range []string{"1", digest} {
		req, _ = http.NewRequest(http.MethodGet, "https://"+host+"/v2/hello/manifests/"+ref, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err = c.Do(req)
		if err != nil {
			t.Fatalf("pull %s/hello:%s: %v", host, ref, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("pull %s/hello@%s with the kubelet's credentials: %d", host, ref, resp.StatusCode)
		}
	}
}

// noSecrets fails if text holds a token: any JWT (the simulated Entra,
// ACR and cluster tokens all are), an Entra token the simulator issued,
// or one of the given secrets.
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	if world.Sim.ContainsEntraToken(text) {
		t.Errorf("%s holds an Entra token", what)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%d characters)", what, len(s))
		}
	}
	if harness.Redact(text) != text {
		t.Errorf("%s holds a JWT-shaped string:\n%s", what, harness.Lines(harness.Redact(text)))
	}
}

// onlyHosts fails if the simulator saw a request to any other host.
func onlyHosts(t *testing.T, d azuresim.Stats, allowed ...string) {
	t.Helper()
	for _, r := range d.Requests {
		if r.Endpoint == azuresim.EndpointTLSHello && slices.Contains(allowed, r.Host) {
			continue
		}
		if !slices.Contains(allowed, r.Host) {
			t.Errorf("a request reached %s (%s %s, %s); only %v were to be asked", r.Host, r.Method, r.Path, r.Endpoint, allowed)
		}
	}
}

// checkAssertions reads back every federated assertion Entra judged since
// the first n: each was a known service account's token, presented for
// the client ID annotated on that same service account, accepted for the
// trusted ones and refused with AADSTS70021 for the others.
func checkAssertions(t *testing.T, n int, sas []kubelet.ServiceAccount, untrusted ...string) {
	t.Helper()
	all := world.Sim.Assertions()
	if len(all) < n {
		t.Fatalf("the simulator's assertion record shrank (%d < %d)", len(all), n)
	}
	for _, a := range all[n:] {
		var sa *kubelet.ServiceAccount
		for i := range sas {
			if azuresim.ServiceAccountSubject(sas[i].Namespace, sas[i].Name) == a.Subject {
				sa = &sas[i]
			}
		}
		if sa == nil || a.Issuer != issuer {
			t.Errorf("Entra was shown an assertion of %q from %q, not one of the scenario's service accounts", a.Subject, a.Issuer)
			continue
		}
		want := sa.Annotations[kubelet.AnnotationClientID]
		if want == "" {
			want = sa.Annotations[kubelet.AnnotationACRClientID]
		}
		if a.ClientID != want {
			t.Errorf("%s's token was presented for app %s; its annotation names %s", a.Subject, a.ClientID, want)
		}
		wantErr := ""
		if slices.Contains(untrusted, sa.Name) {
			wantErr = "AADSTS70021"
		}
		if a.Error != wantErr {
			t.Errorf("Entra judged %s's assertion for %s: %q, want %q", a.Subject, a.ClientID, a.Error, wantErr)
		}
	}
}

func exchangesOf(d azuresim.Stats) []string {
	var out []string
	for _, e := range d.Exchanges {
		out = append(out, fmt.Sprintf("%s %s %d", e.Host, e.Identity, e.Status))
	}
	sort.Strings(out)
	return out
}

// kubeletErrors are the kubelet's log lines about a provider failing.
func kubeletErrors(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "Failed to provide credentials") {
			out = append(out, l)
		}
	}
	return out
}

// TestNodeMode: pods without a service account get the node's managed
// identity, for the standard, DNL and regional forms and for images with
// a tag, a digest, no tag and the :443 port; one exchange per registry for
// all of it (the product's own cache answers the rest), each refresh token
// valid at its registry only, and a real pull with each.
func TestNodeMode(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := kubelet.WriteConfig(cfg, kubelet.Provider{MatchImages: matchACR, Env: configEnv(filepath.Join(dir, "cache"), nil)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		image, registry string // registry "": no credentials
	}{
		{regStd + "/hello:1", regStd},
		{regStd + "/hello@" + digest, regStd},
		{regStd + "/hello", regStd},
		{regOther + "/hello:1", regOther},
		{regDNL + "/hello:1", regDNL},
		{regRegional + "/hello:1", regRegional},
		{regStd + ":443/hello:1", regStd},
		{"busybox", ""},
		{"docker.io/library/busybox:latest", ""},
	}
	var lookups []kubelet.Lookup
	for i, c := range cases {
		lookups = append(lookups, pod("default", fmt.Sprintf("web-%d", i), c.image))
	}
	before := settled()
	out := run(t, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Lookups: lookups, Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
	d := settled().Since(before)
	needKubeletCommand(t)

	var secrets []string
	passwords := map[string]string{}
	for i, c := range cases {
		r := out.Results[i]
		t.Run(c.image, func(t *testing.T) {
			if c.registry == "" {
				if r.Found {
					t.Errorf("credentials for %s (repository %s): %d", c.image, r.Repo, len(r.Auth))
				}
				return
			}
			if !r.Found || len(r.Auth) != 1 {
				t.Fatalf("the kubelet's keyring has %d credentials for %s (repository %s), want 1; kubelet log:\n%s", len(r.Auth), c.image, r.Repo, harness.Lines(harness.Redact(out.Log)))
			}
			a := r.Auth[0]
			if a.Username != kubelet.ZeroGUID {
				t.Errorf("username %q, want the zero GUID", a.Username)
			}
			claims := refreshFor(t, c.registry, a.Password)
			if claims != nil && claims["appid"] != "" {
				t.Errorf("refresh token for appid %v, want the node's system-assigned identity", claims["appid"])
			}
			if p, ok := passwords[c.registry]; ok && p != a.Password {
				t.Errorf("a second refresh token for %s: the product's cache (or the kubelet's) should have answered", c.registry)
			}
			passwords[c.registry] = a.Password
			secrets = append(secrets, a.Password)
		})
	}
	var want []string
	for _, r := range registries {
		want = append(want, r+" managed:system 200")
	}
	sort.Strings(want)
	if got := exchangesOf(d); !slices.Equal(got, want) {
		t.Errorf("exchanges %v, want one per registry for the node's identity: %v", got, want)
	}
	onlyHosts(t, d, append(slices.Clone(registries), azuresim.IMDSHost)...)
	noSecrets(t, "the kubelet log", out.Log, secrets...)
	for host, p := range passwords {
		pull(t, host, kubelet.ZeroGUID, p)
	}
}

// TestBroadMatchImages: a config whose matchImages let through a data
// endpoint, another port and look-alikes: the plugin answers each with no
// auth, cleanly (nothing in the kubelet log), and sends no request at all.
func TestBroadMatchImages(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	broad := []string{"*.azurecr.io", "*.*.geo.azurecr.io", "*.*.*.azurecr.io", "*.azurecr.io:5000", "evilazurecr.io", "azurecr.io", "*.azurecr.io.evil.test", "docker.io"}
	if err := kubelet.WriteConfig(cfg, kubelet.Provider{MatchImages: broad, Env: configEnv(filepath.Join(dir, "cache"), nil)}); err != nil {
		t.Fatal(err)
	}
	images := []string{dataHost + "/hello:1", regStd + ":5000/hello:1", "evilazurecr.io/hello:1", "azurecr.io/hello:1", "myreg.azurecr.io.evil.test/hello:1", "docker.io/library/busybox"}
	var lookups []kubelet.Lookup
	for i, im := range images {
		lookups = append(lookups, pod("default", fmt.Sprintf("broad-%d", i), im))
	}
	before := settled()
	out := run(t, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Lookups: lookups, Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
	d := settled().Since(before)
	needKubeletCommand(t)
	for _, r := range out.Results {
		if r.Found {
			t.Errorf("credentials for %s: %d", r.Lookup.Image, len(r.Auth))
		}
	}
	if errs := kubeletErrors(out.Log); len(errs) > 0 {
		t.Errorf("the plugin failed instead of answering with no auth:\n%s", harness.Lines(harness.Redact(strings.Join(errs, "\n"))))
	}
	if len(d.Requests) != 0 {
		t.Errorf("%d request(s) for images that are not ACR's:\n%s", len(d.Requests), d.CountSummary())
	}
}

// saFixture registers the apps and service accounts of the SA-mode cases.
type saFixture struct {
	appA, appB string
	sas        []kubelet.ServiceAccount
}

// TestServiceAccountMode: two trusted service accounts with two app
// identities get two different refresh tokens, each exchanged for its own
// identity; an untrusted one annotated with a trusted app's client ID gets
// nothing, even once the trusted one's token is cached (Entra judges its
// assertion: AADSTS70021), and never the node's identity; a service
// account without the required annotation, and a pod without a service
// account, are not asked for (requireServiceAccount: true, which the
// kubelet demands along with requiredServiceAccountAnnotationKeys).
func TestServiceAccountMode(t *testing.T) {
	const (
		ns   = "team"
		appA = "aaaaaaaa-1111-4111-8111-00000000000a"
		appB = "bbbbbbbb-1111-4111-8111-00000000000b"
	)
	tenant := world.Sim.TenantID()
	world.Sim.AddApp(azuresim.App{ClientID: appA, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "a")}}})
	world.Sim.AddApp(azuresim.App{ClientID: appB, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "b")}}})
	sas := []kubelet.ServiceAccount{
		{Namespace: ns, Name: "a", UID: "sa-uid-a", Annotations: map[string]string{kubelet.AnnotationClientID: appA, kubelet.AnnotationTenantID: tenant}},
		{Namespace: ns, Name: "b", UID: "sa-uid-b", Annotations: map[string]string{kubelet.AnnotationClientID: appB}},
		{Namespace: ns, Name: "c", UID: "sa-uid-c", Annotations: map[string]string{kubelet.AnnotationClientID: appA}},
		{Namespace: ns, Name: "d", UID: "sa-uid-d", Annotations: map[string]string{"unrelated": "x"}},
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	err := kubelet.WriteConfig(cfg, kubelet.Provider{
		MatchImages: matchACR,
		Env:         configEnv(filepath.Join(dir, "cache"), map[string]string{"DOCKER_CREDENTIAL_ACR_TENANT_ID": tenant}),
		SA: &kubelet.SAMode{
			RequireSA:    true,
			RequiredKeys: []string{kubelet.AnnotationClientID},
			OptionalKeys: []string{kubelet.AnnotationTenantID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	lookups := []kubelet.Lookup{
		saPod(ns, "pod-a", "a", regStd+"/hello:1"),
		saPod(ns, "pod-b", "b", regStd+"/hello:1"),
		saPod(ns, "pod-c", "c", regStd+"/hello:1"),
		saPod(ns, "pod-a2", "a", regOther+"/hello:1"),
		saPod(ns, "pod-c2", "c", regOther+"/hello:1"),
		saPod(ns, "pod-d", "d", regStd+"/hello:1"),
		pod("kube-system", "static-web", regStd+"/hello:1"),
	}
	want := []struct {
		registry, appid string // "" registry: nothing; "" appid: the node's identity
	}{
		{regStd, appA}, {regStd, appB}, {"", ""}, {regOther, appA}, {"", ""}, {"", ""}, {"", ""},
	}
	nAssert := len(world.Sim.Assertions())
	before := settled()
	out := run(t, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Issuer: issuer, ClusterKey: cluster.KeyPEM(),
		ServiceAccounts: sas, Lookups: lookups, Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
	d := settled().Since(before)

	t.Run("token requests", func(t *testing.T) {
		// The kubelet's side, which needs no product: a pod-bound token for
		// the configured audience, for a, b and c only.
		var names []string
		for _, tk := range out.Tokens {
			names = append(names, tk.Name)
			if !slices.Equal(tk.Audiences, []string{kubelet.FederatedAudience}) || !strings.HasPrefix(tk.BoundPod, "pod-") {
				t.Errorf("TokenRequest for %s: audiences %v, bound to %q", tk.Name, tk.Audiences, tk.BoundPod)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, []string{"a", "b", "c"}) {
			t.Errorf("the kubelet asked tokens for %v, want a, b and c (d lacks the required annotation)", names)
		}
	})
	needKubeletCommand(t)

	var secrets []string
	for _, tk := range out.Tokens {
		secrets = append(secrets, tk.Token)
	}
	passwords := map[string]string{}
	for i, w := range want {
		r := out.Results[i]
		l := r.Lookup
		t.Run(fmt.Sprintf("%s/%s as %q %s", l.Namespace, l.Pod, l.ServiceAccount, l.Image), func(t *testing.T) {
			if w.registry == "" {
				if r.Found {
					t.Errorf("got %d credentials; want none", len(r.Auth))
				}
				return
			}
			if !r.Found || len(r.Auth) != 1 {
				t.Fatalf("%d credentials, want 1; kubelet log:\n%s", len(r.Auth), harness.Lines(harness.Redact(out.Log)))
			}
			a := r.Auth[0]
			if a.Username != kubelet.ZeroGUID {
				t.Errorf("username %q", a.Username)
			}
			if slices.Contains(secrets, a.Password) {
				t.Errorf("the password is a service-account token")
			}
			if claims := refreshFor(t, w.registry, a.Password); claims != nil && claims["appid"] != w.appid {
				t.Errorf("refresh token for appid %q, want %q", claims["appid"], w.appid)
			}
			passwords[l.ServiceAccount+"@"+w.registry] = a.Password
			secrets = append(secrets, a.Password)
		})
	}
	if passwords["a@"+regStd] != "" && passwords["a@"+regStd] == passwords["b@"+regStd] {
		t.Errorf("service accounts a and b got the same token")
	}
	wantEx := []string{regStd + " workload:" + appA + " 200", regStd + " workload:" + appB + " 200", regOther + " workload:" + appA + " 200"}
	sort.Strings(wantEx)
	if got := exchangesOf(d); !slices.Equal(got, wantEx) {
		t.Errorf("exchanges %v, want %v", got, wantEx)
	}
	refused := 0
	for _, r := range d.Requests {
		if r.Endpoint == azuresim.EndpointEntraToken && r.Status == http.StatusBadRequest {
			refused++
		}
	}
	checkAssertions(t, nAssert, sas, "c")
	if refused < 2 {
		t.Errorf("Entra refused %d assertion(s); want c's judged by Entra at each of its 2 pulls", refused)
	}
	if !strings.Contains(out.Log, "AADSTS70021") {
		t.Errorf("the kubelet log does not say why c got nothing (AADSTS70021):\n%s", harness.Lines(harness.Redact(out.Log)))
	}
	onlyHosts(t, d, append(slices.Clone(registries), azuresim.IMDSHost, "login.microsoftonline.com")...)
	noSecrets(t, "the kubelet log", out.Log, secrets...)
	for k, p := range passwords {
		_, host, _ := strings.Cut(k, "@")
		pull(t, host, kubelet.ZeroGUID, p)
	}
}

// TestServiceAccountModeACRAnnotations: cloud-provider-azure's annotation
// names (kubernetes.azure.com/acr-client-id) in a config that requires
// them; a service account with only the other style is not asked for.
func TestServiceAccountModeACRAnnotations(t *testing.T) {
	const (
		ns   = "legacy"
		appE = "eeeeeeee-1111-4111-8111-00000000000e"
		appF = "ffffffff-1111-4111-8111-00000000000f"
	)
	world.Sim.AddApp(azuresim.App{ClientID: appE, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "e")}}})
	world.Sim.AddApp(azuresim.App{ClientID: appF, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "f")}}})
	sas := []kubelet.ServiceAccount{
		{Namespace: ns, Name: "e", UID: "sa-uid-e", Annotations: map[string]string{kubelet.AnnotationACRClientID: appE, kubelet.AnnotationACRTenantID: world.Sim.TenantID()}},
		{Namespace: ns, Name: "f", UID: "sa-uid-f", Annotations: map[string]string{kubelet.AnnotationClientID: appF}},
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	err := kubelet.WriteConfig(cfg, kubelet.Provider{
		MatchImages: matchACR,
		Env:         configEnv(filepath.Join(dir, "cache"), nil),
		SA: &kubelet.SAMode{
			RequireSA:    true,
			RequiredKeys: []string{kubelet.AnnotationACRClientID},
			OptionalKeys: []string{kubelet.AnnotationACRTenantID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := settled()
	out := run(t, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Issuer: issuer, ClusterKey: cluster.KeyPEM(), ServiceAccounts: sas,
		Lookups: []kubelet.Lookup{saPod(ns, "pod-e", "e", regDNL+"/hello:1"), saPod(ns, "pod-f", "f", regDNL+"/hello:1"), pod(ns, "no-sa", regDNL+"/hello:1")},
		Env:     kubeletEnv(filepath.Join(dir, "unused"), nil)})
	d := settled().Since(before)
	if len(out.Tokens) != 1 || out.Tokens[0].Name != "e" {
		t.Errorf("the kubelet asked %d tokens, want one, for e", len(out.Tokens))
	}
	needKubeletCommand(t)
	var secrets []string
	for _, tk := range out.Tokens {
		secrets = append(secrets, tk.Token)
	}
	if r := out.Results[0]; !r.Found || len(r.Auth) != 1 {
		t.Errorf("e: %d credentials, want 1; kubelet log:\n%s", len(r.Auth), harness.Lines(harness.Redact(out.Log)))
	} else {
		if claims := refreshFor(t, regDNL, r.Auth[0].Password); claims != nil && claims["appid"] != appE {
			t.Errorf("e's refresh token is for appid %v, want %s", claims["appid"], appE)
		}
		secrets = append(secrets, r.Auth[0].Password)
		pull(t, regDNL, r.Auth[0].Username, r.Auth[0].Password)
	}
	for _, r := range out.Results[1:] {
		if r.Found {
			t.Errorf("%s: credentials, want none (requireServiceAccount, required annotation missing)", r.Lookup.Pod)
		}
	}
	if got, want := exchangesOf(d), []string{regDNL + " workload:" + appE + " 200"}; !slices.Equal(got, want) {
		t.Errorf("exchanges %v, want %v", got, want)
	}
	noSecrets(t, "the kubelet log", out.Log, secrets...)
}

// requestFor is what the kubelet would send.
func requestFor(t *testing.T, image, token string, ann map[string]string) []byte {
	t.Helper()
	b, err := kubelet.EncodeRequest(image, token, ann)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func oneLine(s string) bool {
	s = strings.TrimSuffix(s, "\n")
	return s != "" && !strings.Contains(s, "\n")
}

// TestMalformedRequests run directly: a non-zero exit, exactly one line
// on stderr, and no request anywhere.
func TestMalformedRequests(t *testing.T) {
	needKubeletCommand(t)
	good := string(requestFor(t, regStd+"/hello", "", nil))
	cases := map[string]string{
		"wrong apiVersion": strings.Replace(good, kubelet.APIVersion, "credentialprovider.kubelet.k8s.io/v1beta1", 1),
		"wrong kind":       strings.Replace(good, "CredentialProviderRequest", "CredentialProviderResponse", 1),
		"malformed JSON":   `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":`,
		"empty stdin":      "",
		"two objects":      good + "\n" + good,
	}
	dir := t.TempDir()
	before := settled()
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			r := runHelper(ctxFor(t), kubeletEnv(dir, nil), []byte(in))
			if r.Code == 0 || r.Code == -1 {
				t.Errorf("exit %d, want a non-zero exit; stdout %q", r.Code, harness.Redact(r.Stdout))
			}
			if !oneLine(r.Stderr) {
				t.Errorf("stderr is not one line: %q", harness.Redact(r.Stderr))
			}
		})
	}
	if d := settled().Since(before); len(d.Requests) != 0 {
		t.Errorf("malformed requests caused %d request(s):\n%s", len(d.Requests), d.CountSummary())
	}
}

// TestDirectResponses runs the binary as the kubelet does and reads its
// raw answer with the kubelet's strict decoder: for a login server,
// cacheKeyType Registry, one auth key that the kubelet's matcher ties to
// the image and that names the login server (never a wildcard), the zero
// GUID, a cacheDuration within the refresh token's life; for anything
// else, no auth, exit 0, an empty stderr and no request.
func TestDirectResponses(t *testing.T) {
	needKubeletCommand(t)
	dir := t.TempDir()
	env := kubeletEnv(filepath.Join(dir, "cache"), nil)
	for _, c := range []struct{ repo, registry string }{
		{regStd + "/hello", regStd},
		{regDNL + "/team/hello", regDNL},
		{regRegional + "/hello", regRegional},
		{regStd + ":443/hello", regStd},
	} {
		t.Run(c.repo, func(t *testing.T) {
			r := runHelper(ctxFor(t), env, requestFor(t, c.repo, "", nil))
			if r.Code != 0 {
				t.Fatalf("%s", r.Failure())
			}
			resp, err := kubelet.DecodeResponse([]byte(r.Stdout))
			if err != nil {
				t.Fatalf("the kubelet refuses the response: %v", err)
			}
			if resp.CacheKeyType != "Registry" {
				t.Errorf("cacheKeyType %q, want Registry", resp.CacheKeyType)
			}
			if len(resp.Auth) != 1 {
				t.Fatalf("%d auth entries, want 1", len(resp.Auth))
			}
			for key, a := range resp.Auth {
				host, _, _ := strings.Cut(key, ":")
				if strings.Contains(key, "*") || host != c.registry {
					t.Errorf("auth key %q, want the login server %s", key, c.registry)
				}
				if ok, _ := credentialprovider.URLsMatchStr(key, c.repo); !ok {
					t.Errorf("the kubelet would not use auth key %q for %s", key, c.repo)
				}
				if a.Username != kubelet.ZeroGUID {
					t.Errorf("username %q", a.Username)
				}
				claims := refreshFor(t, c.registry, a.Password)
				if exp, ok := claims["exp"].(float64); ok && resp.CacheDuration != nil {
					left := time.Until(time.Unix(int64(exp), 0))
					if d := resp.CacheDuration.Duration; d <= 0 || d > left {
						t.Errorf("cacheDuration %v, want more than 0 and at most the refresh token's remaining %v", d, left.Round(time.Second))
					}
				} else if resp.CacheDuration == nil {
					t.Errorf("no cacheDuration")
				}
				noSecrets(t, "stderr", r.Stderr, a.Password)
			}
		})
	}
	before := settled()
	for _, repo := range []string{dataHost + "/hello", "evilazurecr.io/hello", "azurecr.io/hello", "myreg.azurecr.io.evil.test/hello", regStd + ":5000/hello", "docker.io/library/busybox", "localhost:5000/hello", "169.254.169.254/hello", "login.microsoftonline.com/hello"} {
		t.Run(repo, func(t *testing.T) {
			r := runHelper(ctxFor(t), env, requestFor(t, repo, "", nil))
			if r.Code != 0 {
				t.Fatalf("%s", r.Failure())
			}
			resp, err := kubelet.DecodeResponse([]byte(r.Stdout))
			if err != nil {
				t.Fatalf("the kubelet refuses the response: %v", err)
			}
			if len(resp.Auth) != 0 {
				t.Errorf("auth for %s: %v", repo, len(resp.Auth))
			}
			if r.Stderr != "" {
				t.Errorf("stderr %q", harness.Redact(r.Stderr))
			}
		})
	}
	if d := settled().Since(before); len(d.Requests) != 0 {
		t.Errorf("%d request(s) for hosts that are not login servers:\n%s", len(d.Requests), d.CountSummary())
	}
}

// TestDirectServiceAccount: run directly, a trusted service account's
// token gives its identity's refresh token (never the SA token itself);
// the untrusted one's fails with a non-zero exit and one line on stderr
// that says why and holds no secret.
func TestDirectServiceAccount(t *testing.T) {
	needKubeletCommand(t)
	const (
		ns   = "direct"
		appG = "99999999-1111-4111-8111-000000000009"
	)
	world.Sim.AddApp(azuresim.App{ClientID: appG, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "g")}}})
	tok := func(name string) string {
		s, err := cluster.ServiceAccountToken(ns, name, "uid-"+name, []string{kubelet.FederatedAudience}, azuresim.BoundPod{Name: "p-" + name, UID: "pu-" + name}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	gTok, hTok := tok("g"), tok("h")
	env := kubeletEnv(filepath.Join(t.TempDir(), "cache"), map[string]string{"DOCKER_CREDENTIAL_ACR_TENANT_ID": world.Sim.TenantID()})
	ann := map[string]string{kubelet.AnnotationClientID: appG}

	r := runHelper(ctxFor(t), env, requestFor(t, regOther+"/hello", gTok, ann))
	if r.Code != 0 {
		t.Fatalf("%s", r.Failure())
	}
	resp, err := kubelet.DecodeResponse([]byte(r.Stdout))
	if err != nil {
		t.Fatalf("the kubelet refuses the response: %v", err)
	}
	a, ok := resp.Auth[regOther]
	if !ok || len(resp.Auth) != 1 || a.Password == gTok {
		t.Fatalf("auth keys %d (has %s: %v), password is the SA token: %v", len(resp.Auth), regOther, ok, a.Password == gTok)
	}
	if claims := refreshFor(t, regOther, a.Password); claims != nil && claims["appid"] != appG {
		t.Errorf("refresh token for appid %v, want %s", claims["appid"], appG)
	}
	noSecrets(t, "stderr", r.Stderr, gTok, a.Password)

	r = runHelper(ctxFor(t), env, requestFor(t, regOther+"/hello", hTok, ann))
	if r.Code == 0 {
		t.Errorf("an untrusted service account's token was answered: %s", harness.Redact(r.Stdout))
	}
	if !oneLine(r.Stderr) || !strings.Contains(r.Stderr, "AADSTS70021") {
		t.Errorf("stderr %q, want one line naming AADSTS70021", harness.Redact(r.Stderr))
	}
	noSecrets(t, "stderr", r.Stderr, gTok, hTok, a.Password)

	r = runHelper(ctxFor(t), env, requestFor(t, regOther+"/hello", gTok, map[string]string{"unrelated": "x"}))
	if r.Code == 0 || !strings.Contains(r.Stderr, kubelet.AnnotationClientID) || !strings.Contains(r.Stderr, kubelet.AnnotationACRClientID) {
		t.Errorf("a SA token without a client ID annotation: exit %d, stderr %q; want a failure naming both annotation keys", r.Code, harness.Redact(r.Stderr))
	}
	noSecrets(t, "stderr", r.Stderr, gTok)
}

// TestServiceAccountConfigs: what the kubelet's own validation says of
// tokenAttributes shapes (no product needed). requireServiceAccount: false
// together with requiredServiceAccountAnnotationKeys is refused, so a
// config that also serves pods without a service account must list the
// client-ID annotation as optional.
func TestServiceAccountConfigs(t *testing.T) {
	cases := []struct {
		name    string
		sa      kubelet.SAMode
		refusal string // "" accepted
	}{
		{"required client ID", kubelet.SAMode{RequireSA: true, RequiredKeys: []string{kubelet.AnnotationClientID}, OptionalKeys: []string{kubelet.AnnotationTenantID}}, ""},
		{"acr annotations", kubelet.SAMode{RequireSA: true, RequiredKeys: []string{kubelet.AnnotationACRClientID}, OptionalKeys: []string{kubelet.AnnotationACRTenantID}}, ""},
		{"optional, pods without SA too", kubelet.SAMode{RequireSA: false, OptionalKeys: []string{kubelet.AnnotationClientID, kubelet.AnnotationTenantID, kubelet.AnnotationACRClientID, kubelet.AnnotationACRTenantID}}, ""},
		{"requireServiceAccount false with required keys", kubelet.SAMode{RequireSA: false, RequiredKeys: []string{kubelet.AnnotationClientID}},
			"requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"},
		{"key both required and optional", kubelet.SAMode{RequireSA: true, RequiredKeys: []string{kubelet.AnnotationClientID}, OptionalKeys: []string{kubelet.AnnotationClientID}},
			"annotation keys cannot be both required and optional"},
		{"no cache type", kubelet.SAMode{RequireSA: true, CacheType: "none"}, "Unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.json")
			sa := c.sa
			if err := kubelet.WriteConfig(cfg, kubelet.Provider{MatchImages: matchACR, Env: configEnv(filepath.Join(dir, "cache"), nil), SA: &sa}); err != nil {
				t.Fatal(err)
			}
			out, err := kubelet.Run(ctxFor(t), dir, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.refusal == "" && out.RegisterError != "":
				t.Errorf("refused: %s", out.RegisterError)
			case c.refusal != "" && !strings.Contains(out.RegisterError, c.refusal):
				t.Errorf("registration error %q, want %q", out.RegisterError, c.refusal)
			}
		})
	}
}

// TestServiceAccountModeOptional: one config for pods with and without a
// service account (requireServiceAccount: false, the client-ID annotation
// optional). A pod without a service account gets the node's identity; a
// service account without a client-ID annotation is still sent with its
// token, and must get nothing — never the node's identity — with a
// failure (the kubelet log shows it) that names both annotation keys.
func TestServiceAccountModeOptional(t *testing.T) {
	const (
		ns   = "mixed"
		appM = "12121212-1111-4111-8111-000000000012"
	)
	world.Sim.AddApp(azuresim.App{ClientID: appM, Federated: []azuresim.FederatedCredential{{Issuer: issuer, Subject: azuresim.ServiceAccountSubject(ns, "m")}}})
	sas := []kubelet.ServiceAccount{
		{Namespace: ns, Name: "m", UID: "sa-uid-m", Annotations: map[string]string{kubelet.AnnotationClientID: appM}},
		{Namespace: ns, Name: "default", UID: "sa-uid-default"},
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	err := kubelet.WriteConfig(cfg, kubelet.Provider{
		MatchImages: matchACR,
		Env:         configEnv(filepath.Join(dir, "cache"), map[string]string{"DOCKER_CREDENTIAL_ACR_TENANT_ID": world.Sim.TenantID()}),
		SA: &kubelet.SAMode{RequireSA: false, OptionalKeys: []string{
			kubelet.AnnotationClientID, kubelet.AnnotationTenantID, kubelet.AnnotationACRClientID, kubelet.AnnotationACRTenantID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := settled()
	out := run(t, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Issuer: issuer, ClusterKey: cluster.KeyPEM(), ServiceAccounts: sas,
		Lookups: []kubelet.Lookup{
			pod("kube-system", "static-web", regRegional+"/hello:1"),
			saPod(ns, "annotated", "m", regRegional+"/hello:1"),
			saPod(ns, "plain", "default", regRegional+"/hello:1"),
		},
		Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
	d := settled().Since(before)
	needKubeletCommand(t)
	var secrets []string
	for _, tk := range out.Tokens {
		secrets = append(secrets, tk.Token)
	}
	for i, appid := range []string{"", appM} {
		r := out.Results[i]
		if !r.Found || len(r.Auth) != 1 {
			t.Errorf("%s: %d credentials, want 1; kubelet log:\n%s", r.Lookup.Pod, len(r.Auth), harness.Lines(harness.Redact(out.Log)))
			continue
		}
		if claims := refreshFor(t, regRegional, r.Auth[0].Password); claims != nil && claims["appid"] != appid {
			t.Errorf("%s: refresh token for appid %q, want %q", r.Lookup.Pod, claims["appid"], appid)
		}
		secrets = append(secrets, r.Auth[0].Password)
	}
	if r := out.Results[2]; r.Found {
		t.Errorf("a service account without a client-ID annotation got %d credentials (the node's identity?)", len(r.Auth))
	}
	if got, want := exchangesOf(d), []string{regRegional + " managed:system 200", regRegional + " workload:" + appM + " 200"}; !slices.Equal(got, want) {
		t.Errorf("exchanges %v, want %v", got, want)
	}
	if !strings.Contains(out.Log, kubelet.AnnotationClientID) || !strings.Contains(out.Log, kubelet.AnnotationACRClientID) {
		t.Errorf("the kubelet log does not name both client-ID annotation keys for the unannotated service account:\n%s", harness.Lines(harness.Redact(out.Log)))
	}
	noSecrets(t, "the kubelet log", out.Log, secrets...)
}

// TestPrintedConfigs: what `docker-credential-acr kubelet --print-config`
// prints, in both modes, is a config the kubelet's own validation accepts
// and registers.
func TestPrintedConfigs(t *testing.T) {
	for _, args := range [][]string{{"kubelet", "--print-config"}, {"kubelet", "--print-config", "--sa-mode"}} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.CommandContext(ctxFor(t), os.Getenv("E2E_HELPER"), args...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "DOCKER_CREDENTIAL_ACR_CONFIG=" + filepath.Join(dir, "none.yaml")}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			cfg := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfg, out, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := kubelet.Run(ctxFor(t), dir, kubelet.Scenario{Config: cfg, BinDir: binDir(t), Env: kubeletEnv(filepath.Join(dir, "unused"), nil)})
			if err != nil {
				t.Fatal(err)
			}
			if res.RegisterError != "" {
				t.Fatalf("the kubelet refused the printed config:\n%s\n%s", out, res.RegisterError)
			}
		})
	}
}
