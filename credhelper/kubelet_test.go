package credhelper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// kubeletResponse is the wire form, decoded strictly here too: the
// kubelet refuses unknown fields (test/kubelet decodes with its own code).
type kubeletResponse struct {
	Kind          string `json:"kind"`
	APIVersion    string `json:"apiVersion"`
	CacheKeyType  string `json:"cacheKeyType"`
	CacheDuration string `json:"cacheDuration,omitempty"`
	Auth          map[string]struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auth,omitempty"`
}

func kubeletRequest(image string, saToken string, ann map[string]string) string {
	req := map[string]any{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderRequest", "image": image}
	if saToken != "" {
		req["serviceAccountToken"] = saToken
		req["serviceAccountAnnotations"] = ann
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// askKubelet runs one request and decodes the one object it must print.
func askKubelet(t *testing.T, h *credhelper.Helper, req string) (kubeletResponse, error) {
	t.Helper()
	var out bytes.Buffer
	err := h.Kubelet(context.Background(), strings.NewReader(req), &out)
	if err != nil {
		if out.Len() != 0 {
			t.Errorf("a failed request printed %q on stdout", out.String())
		}
		return kubeletResponse{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.DisallowUnknownFields()
	var r kubeletResponse
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("response %q: %v", out.String(), err)
	}
	if dec.More() {
		t.Fatalf("response %q holds more than one object", out.String())
	}
	if r.Kind != "CredentialProviderResponse" || r.APIVersion != "credentialprovider.kubelet.k8s.io/v1" || r.CacheKeyType != "Registry" {
		t.Fatalf("response %q: wrong kind, apiVersion or cacheKeyType", out.String())
	}
	return r, nil
}

func TestKubeletNodeMode(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h := newHelper(t, acr, cred, filecache.New(dir, filecache.Options{}))

	for _, tt := range []struct{ image, key string }{
		{"myreg.azurecr.io/team/app", "myreg.azurecr.io"},
		{"myreg.azurecr.io", "myreg.azurecr.io"},
		// The kubelet matches ports exactly: the key keeps the image's.
		{"myreg.azurecr.io:443/team/app", "myreg.azurecr.io:443"},
	} {
		r, err := askKubelet(t, h, kubeletRequest(tt.image, "", nil))
		if err != nil {
			t.Fatalf("%s: %v", tt.image, err)
		}
		if len(r.Auth) != 1 {
			t.Fatalf("%s: auth %v, want one entry", tt.image, r.Auth)
		}
		a, ok := r.Auth[tt.key]
		if !ok || a.Username != credhelper.ZeroGUIDUsername || a.Password == "" {
			t.Fatalf("%s: auth %+v, want %s with the zero GUID", tt.image, r.Auth, tt.key)
		}
		if _, err := acr.sim.VerifyRefreshToken("myreg.azurecr.io", a.Password); err != nil {
			t.Fatalf("%s: the password is not the registry's refresh token: %v", tt.image, err)
		}
		// The simulator's refresh tokens live 3 h 15 min: the kubelet keeps
		// it until our cache would refresh, a tenth of the life before exp.
		d, err := time.ParseDuration(r.CacheDuration)
		if err != nil || d < 2*time.Hour+50*time.Minute || d > 2*time.Hour+56*time.Minute {
			t.Fatalf("%s: cacheDuration %q, want about 2h55m (3h15m less the margin)", tt.image, r.CacheDuration)
		}
	}
	if n := acr.exchanges(); n != 1 {
		t.Fatalf("%d exchanges, want 1: node mode shares get's cache", n)
	}
}

func TestKubeletOtherImagesGetNothing(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cred := acr.credential(azuresim.ACRAudience)
	h := newHelper(t, acr, cred, nil)
	before := len(acr.sim.Stats().Requests) // the credential's own token, made above
	for _, image := range []string{
		"docker.io/library/busybox",
		"mcr.microsoft.com/dotnet/runtime",
		"myreg.westeurope.data.azurecr.io/team/app", // a data endpoint that *.*.*.azurecr.io lets through
		"myreg.azurecr.io.evil.test/app",
		"evilazurecr.io/app",
		"169.254.169.254/x",
		"localhost:5000/app",
	} {
		var out bytes.Buffer
		if err := h.Kubelet(context.Background(), strings.NewReader(kubeletRequest(image, "", nil)), &out); err != nil {
			t.Fatalf("%s: %v", image, err)
		}
		golden, err := os.ReadFile(filepath.Join("testdata", "kubelet", "response-no-auth.json"))
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(golden) {
			t.Fatalf("%s: response %q, want the golden %q", image, out.String(), golden)
		}
	}
	if st := acr.sim.Stats(); len(st.Requests) != before || cred.calls.Load() != 0 {
		t.Fatalf("other images caused requests %+v and %d credential calls, want none", st.Requests[before:], cred.calls.Load())
	}
}

func TestKubeletRejectsBadRequests(t *testing.T) {
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}})
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "no CredentialProviderRequest on standard input"},
		{"white space", " \n", "no CredentialProviderRequest on standard input"},
		{"malformed", `{"apiVersion":`, "not valid JSON"},
		{"not an object", `"myreg.azurecr.io"`, "not valid JSON"},
		{"two objects", kubeletRequest("myreg.azurecr.io/a", "", nil) + kubeletRequest("myreg.azurecr.io/b", "", nil), "more than one JSON value"},
		{"wrong apiVersion", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"myreg.azurecr.io/a"}`, `apiVersion is "credentialprovider.kubelet.k8s.io/v1beta1"`},
		{"wrong kind", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"myreg.azurecr.io/a"}`, `kind is "CredentialProviderResponse"`},
		{"no image", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}`, "has no image"},
		{"image of the wrong type", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":5}`, `field "image" must be a string`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := askKubelet(t, h, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %q spans lines; the kubelet logs one", err)
			}
		})
	}
}

// TestKubeletServiceAccounts: the pod's token is the federated assertion
// for the annotated client; never the node's identity; no token cached by
// us answers another service account.
func TestKubeletServiceAccounts(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	const (
		clientA = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
		clientB = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"
	)
	subject := func(name string) string { return "system:serviceaccount:team:" + name }
	acr.sim.AddApp(azuresim.App{ClientID: clientA, Federated: []azuresim.FederatedCredential{{Issuer: acr.sim.OIDCIssuer(), Subject: subject("a")}}})
	acr.sim.AddApp(azuresim.App{ClientID: clientB, Federated: []azuresim.FederatedCredential{{Issuer: acr.sim.OIDCIssuer(), Subject: subject("b")}}})
	saToken := func(name string) string {
		tok, err := acr.sim.FederatedToken(subject(name), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	node := acr.credential(azuresim.ACRAudience) // the node's identity
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := credhelper.New(credhelper.Options{
		// The node is set up for other sources: a request with a
		// service-account token ignores them.
		Getenv:             envMap{"DOCKER_CREDENTIAL_ACR_SOURCES": "managed,cli", "AZURE_FEDERATED_TOKEN_FILE": "/node/token"}.get,
		Cache:              filecache.New(dir, filecache.Options{}),
		Credential:         node,
		CredentialIdentity: "node",
		HTTPClient:         acr.client(),
		Transport:          acr.client(),
		Config:             &config.Config{},
		Logger:             debugLogger(&logs),
	})
	tenant := acr.sim.TenantID()
	ask := func(name string, ann map[string]string) (kubeletResponse, string, error) {
		tok := saToken(name)
		r, err := askKubelet(t, h, kubeletRequest("myreg.azurecr.io/team/app", tok, ann))
		return r, tok, err
	}
	passwords := map[string]string{}
	for _, tt := range []struct {
		sa, client string
		ann        map[string]string
	}{
		{"a", clientA, map[string]string{credhelper.AnnotationClientID: clientA, credhelper.AnnotationTenantID: tenant}},
		// cloud-provider-azure's annotation names work the same.
		{"b", clientB, map[string]string{credhelper.AnnotationACRClientID: clientB, credhelper.AnnotationACRTenantID: tenant}},
	} {
		before := acr.exchanges()
		r, tok, err := ask(tt.sa, tt.ann)
		if err != nil {
			t.Fatalf("service account %s: %v", tt.sa, err)
		}
		a := r.Auth["myreg.azurecr.io"]
		if a.Password == "" || a.Password == tok {
			t.Fatalf("service account %s: password empty or the service-account token itself", tt.sa)
		}
		if acr.exchanges() != before+1 || acr.lastExchange().Identity != "workload:"+tt.client {
			t.Fatalf("service account %s: exchange %+v, want one for workload:%s", tt.sa, acr.lastExchange(), tt.client)
		}
		passwords[tt.sa] = a.Password
		leak.AssertNoFragment(t, logs.String(), tok, 16)
		leak.AssertNoFragment(t, logs.String(), a.Password, 16)
	}
	if passwords["a"] == passwords["b"] {
		t.Fatal("two service accounts with two identities got the same token")
	}
	if node.calls.Load() != 0 {
		t.Fatalf("the node's identity was asked %d times for pods' requests", node.calls.Load())
	}

	// ns/c claims a's client: Entra judges c's own assertion and refuses,
	// although a's token was fetched a moment ago.
	before := acr.exchanges()
	_, tokC, err := ask("c", map[string]string{credhelper.AnnotationClientID: clientA, credhelper.AnnotationTenantID: tenant})
	if err == nil || !strings.Contains(err.Error(), "AADSTS70021") {
		t.Fatalf("an untrusted service account with a trusted client ID: err = %v, want Entra's AADSTS70021", err)
	}
	leak.AssertNoFragment(t, err.Error(), tokC, 16)
	if acr.exchanges() != before || node.calls.Load() != 0 {
		t.Fatal("the untrusted service account reached the exchange or the node's identity")
	}

	// A service account without the client annotation: named, no fallback.
	_, _, err = ask("a", map[string]string{})
	if err == nil || !strings.Contains(err.Error(), credhelper.AnnotationClientID) || !strings.Contains(err.Error(), credhelper.AnnotationACRClientID) {
		t.Fatalf("no client annotation: err = %v, want both annotation keys named", err)
	}
	if node.calls.Load() != 0 {
		t.Fatal("a pod without a client annotation got the node's identity")
	}
}

func TestKubeletMirror(t *testing.T) {
	acr := newFakeACR()
	defer acr.server.Close()
	cfg, err := config.Parse([]byte("mirrors:\n  - upstream: mcr.microsoft.com\n    registry: myreg.azurecr.io\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Credential: acr.credential(azuresim.ACRAudience), CredentialIdentity: "test", HTTPClient: acr.client(), Config: cfg})
	r, err := askKubelet(t, h, kubeletRequest("mcr.microsoft.com/dotnet/runtime", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := r.Auth["mcr.microsoft.com"]
	if !ok || len(r.Auth) != 1 {
		t.Fatalf("auth %v, want one entry keyed by the upstream host", r.Auth)
	}
	if _, err := acr.sim.VerifyRefreshToken("myreg.azurecr.io", a.Password); err != nil {
		t.Fatalf("the mirror's answer is not myreg.azurecr.io's refresh token: %v", err)
	}
	if ex := acr.lastExchange(); ex.Host != "myreg.azurecr.io" {
		t.Fatalf("exchange at %q, want the mirror registry", ex.Host)
	}
}

func TestKubeletConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(`clouds:
  - name: stack
    suffix: azurecr.contoso.local
    authorityHost: https://login.contoso.local/
mirrors:
  - upstream: mcr.microsoft.com
    registry: myreg.azurecr.io
`))
	if err != nil {
		t.Fatal(err)
	}
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: cfg})
	for _, tt := range []struct {
		sa     bool
		golden string
	}{{false, "config-node.yaml"}, {true, "config-sa.yaml"}} {
		got, err := h.KubeletConfig(tt.sa)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "kubelet", tt.golden))
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("KubeletConfig(%v) =\n%s\nwant (testdata/kubelet/%s)\n%s", tt.sa, got, tt.golden, want)
		}
	}
}

// envMap is a fixed environment.
type envMap map[string]string

func (e envMap) get(k string) string { return e[k] }

func debugLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
