package kubelet

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	credentialproviderapi "k8s.io/kubelet/pkg/apis/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
)

var update = flag.Bool("update", false, "rewrite the golden request files from the kubelet's encoder")

// The requests the product reads are exactly what the kubelet's encoder
// writes: the golden files are those bytes.
func TestGoldenRequests(t *testing.T) {
	cases := []struct {
		file, image, token string
		annotations        map[string]string
	}{
		{"request-node.json", "myreg.azurecr.io/team/app", "", nil},
		{"request-sa.json", "myreg.azurecr.io/team/app", "eyJhbGciOiJSUzI1NiJ9.service-account-token-placeholder.sig",
			map[string]string{AnnotationClientID: "aaaaaaaa-0000-4000-8000-00000000000a", AnnotationTenantID: "72f988bf-0000-4000-8000-00000000d0c5"}},
		{"request-sa-acr-annotations.json", "myreg.azurecr.io/team/app", "eyJhbGciOiJSUzI1NiJ9.service-account-token-placeholder.sig",
			map[string]string{AnnotationACRClientID: "aaaaaaaa-0000-4000-8000-00000000000a"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := EncodeRequest(c.image, c.token, c.annotations)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestGoldenRequests -update writes it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("the kubelet encodes\n%s\nthe golden file %s holds\n%s", got, path, want)
			}
		})
	}
}

// The golden responses pass the kubelet's strict decoding and say what
// the product must: Registry, the login server as the only auth key, the
// zero-GUID username and a duration string.
func TestGoldenResponsesAccepted(t *testing.T) {
	cases := []struct {
		file string
		keys []string
	}{
		{"response-registry.json", []string{"myreg.azurecr.io"}},
		{"response-port.json", []string{"myreg.azurecr.io:443"}},
		{"response-no-auth.json", nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := DecodeResponse(b)
			if err != nil {
				t.Fatalf("the kubelet refuses %s: %v", c.file, err)
			}
			if resp.CacheKeyType != credentialproviderapi.RegistryPluginCacheKeyType {
				t.Errorf("cacheKeyType %q, want Registry", resp.CacheKeyType)
			}
			if resp.CacheDuration == nil {
				t.Errorf("no cacheDuration")
			}
			if len(resp.Auth) != len(c.keys) {
				t.Errorf("auth keys %v, want %v", keysOf(resp.Auth), c.keys)
			}
			for _, k := range c.keys {
				a, ok := resp.Auth[k]
				if !ok || a.Username != ZeroGUID || a.Password == "" {
					t.Errorf("auth[%q] = %+v (present %v), want the zero GUID and a password", k, a, ok)
				}
			}
		})
	}
}

// The decoder really is strict: each file in testdata/refused differs
// from an accepted response by one thing the kubelet refuses.
func TestRefusedResponses(t *testing.T) {
	want := map[string]string{
		"numeric-cache-duration.json": "cannot unmarshal",
		"bad-duration-string.json":    `unknown unit " hour"`,
		"unknown-field.json":          `unknown field "expiresOn"`,
		"unknown-auth-field.json":     `unknown field "auth.myreg.azurecr.io.identitytoken"`,
		"duplicate-field.json":        `duplicate field "cacheKeyType"`,
		"lower-case-registry.json":    "did not return a valid cacheKeyType: registry",
		"no-cache-key-type.json":      "did not return a valid cacheKeyType",
		"no-kind.json":                "Object 'Kind' is missing",
		"wrong-kind.json":             `strict decoding error: unknown field "cacheKeyType"`,
		"v1beta1.json":                "did not match expected apiVersion",
		"two-objects.json":            "after top-level value",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "refused", "*.json"))
	if err != nil || len(files) != len(want) {
		t.Fatalf("testdata/refused holds %v (%v), want the %d cases of this test", files, err, len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			resp, err := DecodeResponse(b)
			if err == nil {
				t.Fatalf("accepted: %+v", resp)
			}
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refused with %q, want it to mention %q", err, w)
			}
		})
	}
}

// DecodeResponse is the kubelet's judgement, not a copy that could drift:
// each golden and refused response, printed by a stand-in plugin, goes
// through the kubelet's real plugin code (RegisterCredentialProviderPlugins,
// then a keyring Lookup), which must accept exactly the same ones. This is
// the only registration in this test binary.
func TestKubeletAgreesWithDecodeResponse(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "refused", "*.json"))
	files = append(files, filepath.Join("testdata", "response-registry.json"), filepath.Join("testdata", "response-no-auth.json"))
	var providers []Provider
	hostOf := map[string]string{}
	for i, f := range files {
		name := "stand-in-" + strings.TrimSuffix(filepath.Base(f), ".json")
		// Each stand-in answers for a registry host of its own: its
		// response is rewritten from myreg.azurecr.io to that host.
		host := strings.ReplaceAll(name, ".", "-") + ".azurecr.io"
		hostOf[f] = host
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rewritten := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(rewritten, []byte(strings.ReplaceAll(string(b), "myreg.azurecr.io", host)), 0o644); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\ncat >/dev/null\ncat '" + rewritten + "'\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		providers = append(providers, Provider{Name: name, MatchImages: []string{host}, CacheDefault: time.Duration(i+1) * time.Minute})
	}
	cfg := filepath.Join(dir, "config.json")
	if err := WriteConfig(cfg, providers...); err != nil {
		t.Fatal(err)
	}
	if err := plugin.RegisterCredentialProviderPlugins(cfg, bin, nil, nil); err != nil {
		t.Fatalf("the kubelet refuses the config: %v", err)
	}
	kr := plugin.NewExternalCredentialProviderDockerKeyring("", "", "", "")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
			if err != nil {
				t.Fatal(err)
			}
			_, decErr := DecodeResponse(b)
			creds, found := kr.Lookup(hostOf[f] + "/team/app")
			accepted := found && len(creds) == 1 && creds[0].Username == ZeroGUID
			if strings.HasSuffix(f, "response-no-auth.json") {
				// No auth either way; the decoder's verdict stands alone.
				if decErr != nil {
					t.Errorf("DecodeResponse refuses it: %v", decErr)
				}
				return
			}
			if accepted != (decErr == nil) {
				t.Errorf("the kubelet accepted it: %v (credentials %d); DecodeResponse: %v", accepted, len(creds), decErr)
			}
		})
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
