package credhelper

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The fuzz targets of the front ends never touch the network: every
// transport fails at once, and the cache answers every key (so a get that
// is accepted ends at the cache).

const fuzzRefreshToken = "FUZZ-REFRESH-TOKEN-0123456789"

// errNoNetwork is what every transport answers. It is NonRetriable, so
// azcore's retry policy gives up at once instead of backing off.
var errNoNetwork error = noNetworkError{}

type noNetworkError struct{}

func (noNetworkError) Error() string { return "fuzz: no network" }
func (noNetworkError) NonRetriable() {}

type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) { return nil, errNoNetwork }
func (noNetwork) Do(*http.Request) (*http.Response, error)        { return nil, errNoNetwork }
func (noNetwork) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errNoNetwork
}

// hitCache holds a token for every key.
type hitCache struct{ token.NoCache }

func (hitCache) Get(_ context.Context, k token.CacheKey) (token.Entry, bool) {
	return token.Entry{LoginServer: k.LoginServer, Source: "credential", RefreshToken: fuzzRefreshToken,
		IssuedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(3 * time.Hour)}, true
}

func fuzzHelper(cfg *config.Config) *Helper {
	return New(Options{
		Getenv:             func(string) string { return "" },
		Cache:              hitCache{},
		Credential:         noNetwork{},
		CredentialIdentity: "fuzz",
		HTTPClient:         &http.Client{Transport: noNetwork{}},
		Transport:          noNetwork{},
		Config:             cfg,
	})
}

// fuzzCloudConfig declares one custom cloud, so that the targets see a
// configured suffix accepted and every other one refused.
func fuzzCloudConfig(f *testing.F) *config.Config {
	cfg, err := config.Parse([]byte("clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n"))
	if err != nil {
		f.Fatal(err)
	}
	return cfg
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// FuzzProtocol feeds any stdin to each docker-credential action. A get
// succeeds only for a login server under the built-in suffixes (or the
// configured cloud's, for the helper that declares one), answering the
// cached token for exactly that host; nothing accepted holds a control
// character; no error repeats the store payload's secret; erase and list
// of anything that is not ours succeed.
func FuzzProtocol(f *testing.F) {
	for _, s := range []string{
		"myreg.azurecr.io\n", "https://MyReg.AzureCR.io:443/", "myreg-e7ggejfuhzhgedc8.eastus2.geo.azurecr.cn",
		"edge.azurecr.contoso.local", "index.docker.io", "myreg.azurecr.io.evil.com", "myreg\n.azurecr.io",
		"https://user:s3cr3tpassw0rd@myreg.azurecr.io", "\x1b[31mmyreg.azurecr.io", "myreg.azurecr.io\r\n",
		`{"ServerURL":"myreg.azurecr.io","Username":"<token>","Secret":"s3cr3t-store-payload"}`,
		`{"ServerURL":"myreg.azurecr.io","Username":"u","Secret":"s3cr3t-store-payload"`,
		`{"ServerURL":"","Username":"u","Secret":"s3cr3t-store-payload"}`,
		"", "   \n\t",
	} {
		for _, a := range []byte{0, 1, 2, 3} {
			f.Add(a, []byte(s))
		}
	}
	plain, withCloud := fuzzHelper(&config.Config{}), fuzzHelper(fuzzCloudConfig(f))
	f.Fuzz(func(t *testing.T, a byte, in []byte) {
		action := []string{credentials.ActionGet, credentials.ActionStore, credentials.ActionErase, credentials.ActionList}[a%4]
		for _, h := range []struct {
			helper   *Helper
			suffixes []string
		}{
			{plain, loginserver.Suffixes()},
			{withCloud, append(loginserver.Suffixes(), ".azurecr.contoso.local")},
		} {
			var out bytes.Buffer
			err := credentials.HandleCommand(h.helper, action, bytes.NewReader(in), &out)
			if err != nil {
				if out.Len() != 0 {
					t.Fatalf("%s printed %q and failed: %v", action, out.String(), err)
				}
				var c credentials.Credentials
				if action == credentials.ActionStore && json.Unmarshal(in, &c) == nil && len(c.Secret) >= 8 && strings.Contains(err.Error(), c.Secret) {
					t.Fatalf("store's error repeats the secret: %v", err)
				}
				if action != credentials.ActionGet && !credentials.IsCredentialsMissingServerURL(err) && action != credentials.ActionStore {
					t.Fatalf("%s failed: %v", action, err)
				}
				continue
			}
			switch action {
			case credentials.ActionStore:
				t.Fatalf("store succeeded")
			case credentials.ActionGet:
				var c credentials.Credentials
				dec := json.NewDecoder(&out)
				dec.DisallowUnknownFields()
				if err := dec.Decode(&c); err != nil {
					t.Fatalf("get printed something that is not one credentials object: %v", err)
				}
				if c.Secret != fuzzRefreshToken || c.Username != TokenUsername || hasControl(c.ServerURL) {
					t.Fatalf("get answered %+v", c)
				}
				reg, err := loginserver.Parse(c.ServerURL, h.helper.o.Config.CloudSuffixes()...)
				if err != nil {
					t.Fatalf("get answered for %q, which is not a login server: %v", c.ServerURL, err)
				}
				known := false
				for _, s := range h.suffixes {
					known = known || strings.HasSuffix(reg.Host, s)
				}
				if !known {
					t.Fatalf("get answered for %q, under no allowed suffix", reg.Host)
				}
			}
		}
	})
}

// FuzzKubeletRequest: any stdin gives one well-formed request or an
// error, never both; an accepted request survives encoding and decoding;
// the pod's service-account token (planted where SA-TOKEN stands) is never
// in an error or the answer; an answer is exactly one response object,
// with credentials only for the image's host, when that is a login server.
func FuzzKubeletRequest(f *testing.F) {
	for _, name := range []string{"response-no-auth.json"} {
		data, err := os.ReadFile("testdata/kubelet/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "not-a-token")
	}
	for _, s := range []string{
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"myreg.azurecr.io/team/app"}`,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"myreg.azurecr.io/app","serviceAccountToken":"SA-TOKEN","serviceAccountAnnotations":{"azure.workload.identity/client-id":"11111111-1111-1111-1111-111111111111","azure.workload.identity/tenant-id":"72f988bf-86f1-41af-91ab-2d7cd011db47"}}`,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"docker.io/library/app","serviceAccountToken":"SA-TOKEN"}`,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"myreg.azurecr.io/app","serviceAccountToken":SA-TOKEN}`,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"myreg.azurecr.io/app","serviceAccountToken":"SA-TOKEN","serviceAccountAnnotations":{"k":1}}`,
		`{"apiVersion":"v0","kind":"CredentialProviderRequest","image":"x"} {}`,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"   "}`,
		`[]`, ``, `{"image":`,
	} {
		f.Add([]byte(s), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl")
	}
	h := fuzzHelper(&config.Config{})
	f.Fuzz(func(t *testing.T, data []byte, sa string) {
		enc, _ := json.Marshal(sa)
		doc := bytes.ReplaceAll(data, []byte("SA-TOKEN"), enc[1:len(enc)-1])
		planted := len(sa) >= 8 && !bytes.Contains(data, []byte(sa)) && bytes.Contains(data, []byte("SA-TOKEN"))
		// The fields an error may quote: what the kubelet itself sent
		// as apiVersion and kind, and the names of annotations.
		var lenient kubeletRequest
		_ = json.Unmarshal(doc, &lenient)
		echoed := lenient.APIVersion + "\x00" + lenient.Kind + "\x00" + lenient.Image
		for k := range lenient.ServiceAccountAnnotations {
			echoed += "\x00" + k
		}
		leaks := func(s string) bool { return planted && strings.Contains(s, sa) && !strings.Contains(echoed, sa) }

		req, err := decodeKubeletRequest(bytes.NewReader(doc))
		if err != nil {
			if !reflect.DeepEqual(req, kubeletRequest{}) {
				t.Fatalf("request %+v returned with error %v", req, err)
			}
			if leaks(err.Error()) {
				t.Fatalf("error repeats the service-account token: %v", err)
			}
		} else {
			if req.APIVersion != kubeletAPIVersion || req.Kind != kubeletRequestKind || strings.TrimSpace(req.Image) == "" {
				t.Fatalf("accepted %+v", req)
			}
			b, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			again, err := decodeKubeletRequest(bytes.NewReader(b))
			if err != nil || !reflect.DeepEqual(again, req) {
				t.Fatalf("%+v encoded as %s decodes as %+v, %v", req, b, again, err)
			}
		}

		var out bytes.Buffer
		kerr := h.Kubelet(context.Background(), bytes.NewReader(doc), &out)
		if err != nil && kerr == nil {
			t.Fatalf("the request does not decode (%v) but Kubelet answered", err)
		}
		if kerr != nil {
			if out.Len() != 0 {
				t.Fatalf("Kubelet printed %q and failed: %v", out.String(), kerr)
			}
			if leaks(kerr.Error()) {
				t.Fatalf("error repeats the service-account token: %v", kerr)
			}
			return
		}
		if leaks(out.String()) {
			t.Fatalf("the answer holds the service-account token: %s", out.String())
		}
		var resp kubeletResponse
		dec := json.NewDecoder(&out)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil || dec.More() {
			t.Fatalf("the answer is not one response object: %v", err)
		}
		if resp.Kind != kubeletResponseKind || resp.APIVersion != kubeletAPIVersion || resp.CacheKeyType != kubeletCacheKeyRegistry {
			t.Fatalf("answer %+v", resp)
		}
		host, _, _ := strings.Cut(req.Image, "/")
		for k, v := range resp.Auth {
			if _, err := loginserver.Parse(k); err != nil || k != host || v.Password != fuzzRefreshToken || v.Username != ZeroGUIDUsername {
				t.Fatalf("credentials for %q (image %q): %+v, %v", k, req.Image, v, err)
			}
		}
	})
}

// FuzzConfigureMerge: for any docker config.json or containers auth.json,
// configure's edit leaves valid JSON whose other members are byte for byte
// what they were, gives the registry the outcome asked for (added, removed,
// or left alone as a conflict), changes nothing when run again, and no
// error repeats a secret of the file.
func FuzzConfigureMerge(f *testing.F) {
	const secret = "c2VjcmV0LXBhc3N3b3JkLXZhbHVl"
	for _, s := range []string{
		"", "{}", "{\n\t\"auths\": {\n\t\t\"myreg.azurecr.io\": {\n\t\t\t\"auth\": \"" + secret + "\"\n\t\t}\n\t}\n}\n",
		`{"credHelpers":{"myreg.azurecr.io":"acr"}}`,
		`{"credHelpers":{"myreg.azurecr.io":"other","x.azurecr.io":"acr"},"credsStore":"desktop"}`,
		"{\r\n    \"credHelpers\" : {\r\n        \"a.azurecr.io\" : \"acr\"\r\n    },\r\n    \"z\": [1, 2.50, \"\\u00e9\"]\r\n}",
		`{"credHelpers":null,"auths":{"https://myreg.azurecr.io/v1/":{"password":"` + secret + `"}}}`,
		`{"credHelpers":[],"auths":{}}`, `{"credHelpers":{},"credHelpers":{}}`, `[]`, `{"auths":{"x":{"auth":"` + secret + `"}},}`,
		`{"a":1 "b":2, "auth":"` + secret + `"}`,
	} {
		f.Add([]byte(s), "myreg.azurecr.io", false, false)
		f.Add([]byte(s), "myreg.azurecr.io", true, false)
		f.Add([]byte(s), "x.azurecr.io", false, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, registry string, remove, force bool) {
		reg, err := loginserver.Parse(bareRegistryHost(registry))
		if err != nil {
			reg.Host = "myreg.azurecr.io"
		}
		host := reg.Host
		o := ConfigureOptions{Remove: remove, Force: force}
		p, err := planEdit(data, []string{host}, o)
		if err != nil {
			if p != nil {
				t.Fatalf("plan %+v returned with error %v", p, err)
			}
			if msg := err.Error(); strings.Contains(msg, secret[:12]) || hasControl(msg) {
				t.Fatalf("error %q", msg)
			}
			return
		}
		out := p.newData
		if !p.changed() {
			if !bytes.Equal(out, data) {
				t.Fatalf("no change, but new content %q", out)
			}
		} else if !json.Valid(out) {
			t.Fatalf("%q became invalid JSON %q", data, out)
		}
		before, after := topMembers(t, data), topMembers(t, out)
		for k, v := range before {
			if k != "credHelpers" && !bytes.Equal(v, after[k]) {
				t.Fatalf("member %q changed from %s to %s", k, v, after[k])
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok && k != "credHelpers" {
				t.Fatalf("member %q appeared", k)
			}
		}
		var helpers map[string]any
		_ = json.Unmarshal(after["credHelpers"], &helpers)
		switch {
		case len(p.conflicts) > 0:
			if !p.changed() && !bytes.Equal(out, data) {
				t.Fatalf("a conflict changed the file")
			}
		case remove:
			if _, ok := helpers[host]; ok {
				t.Fatalf("removed %s, still in %s", host, after["credHelpers"])
			}
		default:
			if helpers[host] != HelperName {
				t.Fatalf("added %s, but credHelpers is %s", host, after["credHelpers"])
			}
		}
		again, err := planEdit(out, []string{host}, o)
		if err != nil || again.changed() {
			t.Fatalf("a second run on %q: %+v, %v", out, again, err)
		}
	})
}

// topMembers returns the raw text of each top-level member (the last of
// a repeated name, as decoders keep).
func topMembers(t *testing.T, data []byte) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) == 0 {
		return m
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	return m
}
