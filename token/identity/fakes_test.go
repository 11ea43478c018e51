package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

// Shared fakes and checks for the source tests.

const (
	testTenant   = "11111111-2222-3333-4444-555555555555"
	testResource = "https://containerregistry.azure.net"
)

// logBuffer collects log output from several goroutines.
type logBuffer = testkit.Buffer

// fakeEnv is a fake environment.
type fakeEnv map[string]string

func (e fakeEnv) get(k string) string { return e[k] }

// pipelinesEnv is an Azure Pipelines job's environment: the OIDC request
// URL, the job's access token, and the service connection's ID, client
// and tenant (testTenant).
func pipelinesEnv(uri, accessToken, connection, clientID string) fakeEnv {
	return fakeEnv{envPipelinesOIDCURI: uri, envPipelinesAccessToken: accessToken, envPipelinesConnectionID: connection,
		envPipelinesClientID: clientID, envPipelinesTenantID: testTenant}
}

// testOptions builds Options with a debug logger writing to logs.
func testOptions(env fakeEnv, tr interface {
	Do(*http.Request) (*http.Response, error)
}, logs *logBuffer) Options {
	o := Options{
		Getenv:   env.get,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		LookPath: func(string) (string, error) { return "", errors.New("not found") },
	}
	if tr != nil {
		o.Transport = tr
	}
	return o
}

func fakeCloud(e *entraSim) token.Cloud {
	return token.Cloud{Name: "test", AuthorityHost: e.AuthorityHost()}
}

// entraSim is test/azuresim's Entra, the one the end-to-end tests use,
// served over TLS on loopback for one test.
type entraSim struct {
	sim *azuresim.Sim
	srv *httptest.Server
}

func newEntra(t *testing.T) *entraSim { t.Helper(); return newEntraWrapped(t, nil) }

// newEntraWrapped is newEntra with the simulator's handler wrapped by
// wrap (nil: not wrapped), for tests that watch or hold its requests.
func newEntraWrapped(t *testing.T, wrap func(http.Handler) http.Handler) *entraSim {
	t.Helper()
	sim, err := azuresim.New(azuresim.Options{Registries: []string{"unit.azurecr.io"}, TenantID: testTenant,
		AuthorityHosts: []string{"127.0.0.1"}, EntraTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return &entraSim{sim: sim, srv: srv}
}

// AuthorityHost is the authority, to use as AZURE_AUTHORITY_HOST.
func (e *entraSim) AuthorityHost() string { return e.srv.URL + "/" }

// Client trusts the server's certificate (and other httptest servers').
func (e *entraSim) Client() *http.Client { return e.srv.Client() }

// AddApp registers an application in its tenant.
func (e *entraSim) AddApp(a azuresim.App) { e.sim.AddApp(a) }

// Requests are the token requests so far.
func (e *entraSim) Requests() []azuresim.EntraTokenRequest { return e.sim.EntraTokenRequests() }

// Issue is a token as Entra issues it to clientID, for fakes of managed
// identity endpoints. Signing cannot fail with the simulator's own key.
func (e *entraSim) Issue(tenant, clientID, resource string) string {
	tok, err := e.sim.IssueEntraToken(azuresim.Principal{Kind: "managed", ClientID: clientID, ObjectID: "oid-" + clientID, TenantID: tenant}, resource)
	if err != nil {
		panic(err)
	}
	return tok
}

// assertNoSecrets fails if any secret appears in any of the texts.
func assertNoSecrets(t *testing.T, texts []string, secrets ...string) {
	t.Helper()
	for _, txt := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(txt, s) {
				t.Errorf("a secret leaked: %q contains %q", txt, s)
			}
		}
	}
}

// assertError logs err, stops the test if it is nil, and fails it if
// err's unavailability is not unavailable or its text lacks any of want.
func assertError(t *testing.T, err error, unavailable bool, want ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	if err == nil {
		t.Fatal("want an error")
	}
	if errors.Is(err, token.ErrSourceUnavailable) != unavailable {
		t.Errorf("unavailable = %v, want %v", !unavailable, unavailable)
	}
	assertMentions(t, err, want...)
	assertNoFrontEnd(t, err)
}

// assertNoFrontEnd fails if err's text gives the command-line helper's
// advice: the library says what happened, and each front end names its own
// variables, configuration keys and commands.
func assertNoFrontEnd(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{"DOCKER_CREDENTIAL_ACR", "config file", "docker-credential-acr help"} {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error names the front end's %q: %v", s, err)
		}
	}
}

// assertMentions fails the test for each of want that err's text lacks.
func assertMentions(t *testing.T, err error, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q", w)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertIssuedTo checks that tok was issued by the fake to exactly clientID.
func assertIssuedTo(t *testing.T, e *entraSim, tok token.EntraToken, tenant, clientID, audience string) {
	t.Helper()
	c, err := e.sim.EntraTokenClaims(tok.Token)
	if err != nil {
		t.Fatalf("the token is not one the fake issued: %v", err)
	}
	if c["appid"] != clientID || c["tid"] != tenant || c["aud"] != audience {
		t.Errorf("token issued to client %v tenant %v audience %v; want %q %q %q", c["appid"], c["tid"], c["aud"], clientID, tenant, audience)
	}
	if tok.ExpiresOn.IsZero() || tok.ExpiresOn.Before(time.Now()) {
		t.Errorf("ExpiresOn = %v, want a future time", tok.ExpiresOn)
	}
}

// testJWT makes a federated token with the given claims, signed by a
// throwaway key (the fake checks federated assertions by equality).
func testJWT(t *testing.T, iss, sub, aud string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": iss, "sub": sub, "aud": aud, "jti": fmt.Sprint(time.Now().UnixNano()),
		"exp": time.Now().Add(10 * time.Minute).Unix(),
	}).SignedString([]byte("test-signing-key-" + sub))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testCert makes a self-signed certificate and key.
func testCert(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var pemData []byte
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	return cert, key, pemData
}

func writeTestFile(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// imdsTransport sends requests for 169.254.169.254 to a test handler and
// everything else through next; it counts what it routed.
type imdsTransport struct {
	imds *httptest.Server
	next *http.Client

	mu       sync.Mutex
	imdsHits int
}

func (tr *imdsTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() == "169.254.169.254" {
		tr.mu.Lock()
		tr.imdsHits++
		tr.mu.Unlock()
		u, _ := url.Parse(tr.imds.URL)
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
		return tr.imds.Client().Do(r)
	}
	return tr.next.Do(req)
}

func (tr *imdsTransport) hits() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.imdsHits
}

// noNetTransport fails like a machine where nothing listens at an address
// or no route leads to it.
type noNetTransport struct {
	mu    sync.Mutex
	calls []string
	hang  bool // wait for the request's context instead of failing at once
}

func (tr *noNetTransport) Do(req *http.Request) (*http.Response, error) {
	tr.mu.Lock()
	tr.calls = append(tr.calls, req.URL.Host+req.URL.Path)
	tr.mu.Unlock()
	if tr.hang {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}
}

func (tr *noNetTransport) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.calls)
}

// hangGuard bounds a test that would otherwise wait forever on a bug; it is
// not a timing assertion.
func hangGuard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
