package azuresim

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// registryBinaries are the names under which the distribution registry is
// looked for: Debian's docker-registry package, then upstream's name.
var registryBinaries = []string{"docker-registry", "registry"}

// FindRegistryBinary returns the path of the distribution registry.
func FindRegistryBinary() (string, error) {
	for _, n := range registryBinaries {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the distribution registry is not installed (looked for docker-registry and registry on PATH): install Debian's docker-registry package (make deps-e2e does)")
}

// RegistryConfig is the distribution registry's configuration for host:
// token authentication that trusts the simulator's ACR key and issuer,
// with host as both the service and the realm's host, as on ACR.
func (s *Sim) RegistryConfig(host, addr, rootDir, certBundle string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
  secret: %q
  relativeurls: true
auth:
  token:
    realm: %q
    service: %q
    issuer: %q
    rootcertbundle: %q
`, rootDir, addr, randomHex(16), "https://"+host+"/oauth2/token", host, ACRIssuer, certBundle)
	return b.Bytes()
}

// Registry is a running distribution registry.
type Registry struct {
	Host string // the login server it sits behind
	URL  *url.URL
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartRegistry runs the distribution registry for host with its files
// under dir, waits until it answers, and makes the ACR front for host
// proxy to it. Its output goes to logw (nil: discarded).
func (s *Sim) StartRegistry(ctx context.Context, host, dir string, logw *os.File) (*Registry, error) {
	bin, err := FindRegistryBinary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	bundle := filepath.Join(dir, "token-cert.pem")
	if err := os.WriteFile(bundle, s.TokenCertPEM(), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, s.RegistryConfig(host, addr, filepath.Join(dir, "storage"), bundle), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", cfg)
	if logw != nil {
		cmd.Stdout, cmd.Stderr = logw, logw
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &Registry{Host: host, URL: &url.URL{Scheme: "http", Host: addr}, cmd: cmd, done: make(chan struct{})}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	if err := r.waitReady(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	if err := s.SetUpstream(host, r.URL); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Registry) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL.String()+"/v2/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized && strings.Contains(resp.Header.Get("Www-Authenticate"), r.Host) {
				return nil
			}
			return fmt.Errorf("registry for %s at %s answered /v2/ with %s, not a token challenge for %s", r.Host, r.URL, resp.Status, r.Host)
		}
		select {
		case <-r.done:
			return fmt.Errorf("registry for %s exited before it was ready: %v", r.Host, r.err)
		case <-ctx.Done():
			return fmt.Errorf("registry for %s not ready at %s: %w", r.Host, r.URL, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the registry.
func (r *Registry) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
