package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

func TestKubeletCommandFailsOnOneLine(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty stdin", "", "no CredentialProviderRequest on standard input"},
		{"malformed", "{", "not valid JSON"},
		{"two objects", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"a.io/b"} {}`, "more than one JSON value"},
		{"wrong apiVersion", `{"apiVersion":"v1","kind":"CredentialProviderRequest","image":"a.io/b"}`, `apiVersion is "v1"`},
		{"wrong kind", `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Pod","image":"a.io/b"}`, `kind is "Pod"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"kubelet"}, strings.NewReader(tt.in), &stdout, &stderr, env(t)); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout = %q: the kubelet would read it as a response", stdout.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "docker-credential-acr: kubelet: ") || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("stderr = %q, want one line naming %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestKubeletCommandOtherImage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	in := `{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"docker.io/library/busybox"}`
	if code := run([]string{"kubelet"}, strings.NewReader(in), &stdout, &stderr, env(t)); code != 0 {
		t.Fatalf("exit code %d (stderr %q), want 0", code, stderr.String())
	}
	want := `{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry"}` + "\n"
	if stdout.String() != want {
		t.Fatalf("stdout = %q, want %q", stdout.String(), want)
	}
}

func TestKubeletCommandArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"kubelet", "--print-config", "--sa-mode"}, strings.NewReader(""), &stdout, &stderr, env(t)); code != 0 {
		t.Fatalf("--print-config --sa-mode: exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"kind: CredentialProviderConfig", `"*.azurecr.io"`, `"*.*.geo.azurecr.io"`, "args: [kubelet]", "serviceAccountTokenAudience: api://AzureADTokenExchange", "cacheType: ServiceAccount"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--print-config --sa-mode output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, args := range [][]string{{"kubelet", "--frobnicate"}, {"kubelet", "--sa-mode"}} {
		stdout.Reset()
		stderr.Reset()
		if code := run(args, strings.NewReader(""), &stdout, &stderr, env(t)); code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "docker-credential-acr: kubelet:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1, nothing, an error", args, code, stdout.String(), stderr.String())
		}
	}
	stdout.Reset()
	if code := run([]string{"kubelet", "--help"}, strings.NewReader(""), &stdout, &stderr, env(t)); code != 0 || !strings.Contains(stdout.String(), "--image-credential-provider-bin-dir") {
		t.Errorf("kubelet --help: exit %d, %q", code, stdout.String())
	}
}

// TestKubeletCacheFallback: without HOME (a systemd kubelet) the kubelet
// mode caches in its own directory; get keeps "no HOME, no cache".
func TestKubeletCacheFallback(t *testing.T) {
	dir := t.TempDir()
	noHome := func(k string) string { return map[string]string{"PATH": "/nonexistent"}[k] }
	if _, ok := newCache(noHome, discard(), "").(token.NoCache); !ok {
		t.Fatal("get without HOME has a cache")
	}
	fc, ok := newCache(noHome, discard(), dir).(*filecache.Cache)
	if !ok || fc.Dir() != dir {
		t.Fatalf("kubelet mode without HOME: cache %#v, want one in %s", fc, dir)
	}
	// A directory the environment names still wins.
	named := t.TempDir()
	withDir := func(k string) string { return map[string]string{"DOCKER_CREDENTIAL_ACR_CACHE_DIR": named}[k] }
	if fc, ok := newCache(withDir, discard(), dir).(*filecache.Cache); !ok || fc.Dir() != named {
		t.Fatalf("DOCKER_CREDENTIAL_ACR_CACHE_DIR did not win over the kubelet's default")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
