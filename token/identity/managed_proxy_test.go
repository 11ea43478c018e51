package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// proxyChildEnv marks the process that runs TestManagedSourceIgnoresProxy
// for real. net/http reads the proxy variables once per process, at the
// first request through http.ProxyFromEnvironment, so the check runs in a
// fresh process whose environment names the proxy before any request.
const proxyChildEnv = "TOKEN_TEST_MANAGED_PROXY_CHILD"

// TestManagedSourceIgnoresProxy checks that, with no Transport given, the
// managed source reaches IMDS (and a link-local App Service endpoint)
// directly even though HTTP_PROXY names a proxy: through a proxy the Entra
// token would cross it in clear text, or the proxy's own IMDS would answer.
// 169.254.x.y addresses are dialed on loopback through Options.dial;
// nothing leaves the machine.
func TestManagedSourceIgnoresProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestManagedSourceIgnoresProxy$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), proxyChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child test:\n%s", out)
		if err != nil {
			t.Fatalf("child test: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestManagedSourceIgnoresProxy") {
			t.Fatal("the child test did not run")
		}
		return
	}

	// The "proxy" records every connection and answers none.
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	var mu sync.Mutex
	proxied := 0
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			proxied++
			mu.Unlock()
			c.Close()
		}
	}()
	proxyCount := func() int { mu.Lock(); defer mu.Unlock(); return proxied }
	proxyURL := "http://" + proxy.Addr().String()
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, proxyURL)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(k, "")
	}
	clearManagedIdentityEnv(t)

	entra := newEntra(t)
	imds := &fakeIMDS{entra: entra, identities: map[string]string{"": "system-mi"}}
	imdsSrv := httptest.NewServer(imds)
	t.Cleanup(imdsSrv.Close)
	const appServiceHeader = "app-service-header-for-the-proxy-test"
	appService := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != appServiceHeader {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": entra.Issue(testTenant, "app-service-mi", r.URL.Query().Get("resource")),
			"expires_on":   fmt.Sprint(time.Now().Add(time.Hour).Unix()),
			"resource":     r.URL.Query().Get("resource"),
			"token_type":   "Bearer",
		})
	}))
	t.Cleanup(appService.Close)

	// Addresses the test may reach, all on loopback.
	routes := map[string]string{
		"169.254.169.254:80":  imdsSrv.Listener.Addr().String(),
		"169.254.129.2:8081":  appService.Listener.Addr().String(),
		proxy.Addr().String(): proxy.Addr().String(),
	}
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		to, ok := routes[addr]
		if !ok {
			return nil, fmt.Errorf("test dialer: %s is not a loopback route of this test", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}

	// Control: a client that honours the environment does use the proxy,
	// so the checks below are not vacuous.
	ctl := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: dial}}
	if resp, err := ctl.Get("http://169.254.169.254/metadata/identity/oauth2/token"); err == nil {
		resp.Body.Close()
	}
	if proxyCount() != 1 {
		t.Fatalf("control: the proxy saw %d connections, want 1: the environment's proxy is not in effect, so this test proves nothing", proxyCount())
	}

	logs := &logBuffer{}
	o := testOptions(fakeEnv{}, nil, logs)
	o.dial = dial

	t.Run("IMDS", func(t *testing.T) {
		src, _ := New([]string{"managed"}, Settings{}, o)
		tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://proxy-imds.example/.default")
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "system-mi", "https://proxy-imds.example")
		if probes, tokens := imds.counts(); probes != 0 || tokens != 1 {
			t.Errorf("IMDS saw %d probes and %d token requests, want no probe and 1", probes, tokens)
		}
	})

	t.Run("App Service on a link-local address", func(t *testing.T) {
		t.Setenv("IDENTITY_ENDPOINT", "http://169.254.129.2:8081/msi/token")
		t.Setenv("IDENTITY_HEADER", appServiceHeader)
		src, _ := New([]string{"managed"}, Settings{}, o)
		tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://proxy-appservice.example/.default")
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "app-service-mi", "https://proxy-appservice.example")
	})

	if n := proxyCount(); n != 1 {
		t.Errorf("the proxy saw %d connections from the managed source, want none", n-1)
	}
	mu.Lock()
	t.Logf("dialed: %q", dialed)
	mu.Unlock()
	assertNoSecrets(t, []string{logs.String()}, appServiceHeader)
}
