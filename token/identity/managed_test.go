package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The managed identity tests must not run in parallel: azidentity reads the
// endpoint variables from the process environment, which they pin. They
// also use a distinct resource (scope) per case, because MSAL keeps managed
// identity tokens in a process-wide cache keyed by identity and resource.

// clearManagedIdentityEnv makes azidentity choose IMDS whatever the machine
// running the tests has set.
func clearManagedIdentityEnv(t *testing.T) {
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
	}
}

// fakeIMDS answers like IMDS: 400 without the Metadata header, a token for
// a known identity, 400 "Identity not found" for an unknown user-assigned
// one.
type fakeIMDS struct {
	entra *entraSim
	// identities maps the selecting query ("", "client_id=x",
	// "mi_res_id=y", "object_id=z") to the client ID tokens are issued to.
	identities map[string]string

	mu       sync.Mutex
	script   []imdsAnswer // answers to token requests, first
	failures []int        // statuses to answer token requests with, next
	probes   int
	tokens   int
	raw      string // non-empty: answer token requests with this non-JSON body
}

// imdsRefusal is what Azure IMDS answers a request without the Metadata
// header (and so does test/azuresim).
const imdsRefusal = `{"error":"invalid_request","error_description":"Required metadata header not specified"}`

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Metadata") != "true" {
		f.probes++
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, imdsRefusal)
		return
	}
	f.tokens++
	if len(f.script) > 0 {
		a := f.script[0]
		f.script = f.script[1:]
		w.Header().Del("Content-Type")
		a.write(w)
		return
	}
	if f.raw != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, f.raw)
		return
	}
	if len(f.failures) > 0 {
		status := f.failures[0]
		f.failures = f.failures[1:]
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":"temporarily_unavailable","error_description":"try again"}`)
		return
	}
	q := r.URL.Query()
	sel := ""
	for _, k := range []string{"client_id", "mi_res_id", "msi_res_id", "object_id"} {
		if v := q.Get(k); v != "" {
			sel = k + "=" + v
		}
	}
	clientID, ok := f.identities[sel]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request","error_description":"Identity not found"}`)
		return
	}
	resource := q.Get("resource")
	exp := time.Now().Add(time.Hour)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"access_token":   f.entra.Issue(testTenant, clientID, resource),
		"client_id":      clientID,
		"expires_in":     "3599",
		"expires_on":     fmt.Sprint(exp.Unix()),
		"ext_expires_in": "3599",
		"not_before":     fmt.Sprint(time.Now().Unix()),
		"resource":       resource,
		"token_type":     "Bearer",
	})
}

func (f *fakeIMDS) counts() (probes, tokens int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probes, f.tokens
}

func TestManagedSourceIMDS(t *testing.T) {
	clearManagedIdentityEnv(t)
	entra := newEntra(t)
	imds := &fakeIMDS{entra: entra, identities: map[string]string{
		"":                                 "system-mi",
		"client_id=ua-client":              "ua-client",
		"msi_res_id=/subscriptions/s/rg/x": "ua-by-resource",
		"object_id=ua-object":              "ua-by-object",
	}}
	srv := httptest.NewServer(imds)
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		s          Settings
		wantClient string
		identity   string
	}{
		{name: "system-assigned", wantClient: "system-mi", identity: "managed:system"},
		{name: "client ID", s: Settings{ClientID: "ua-client"}, wantClient: "ua-client", identity: "managed:client_id=ua-client"},
		{name: "resource ID", s: Settings{ResourceID: "/subscriptions/s/rg/x"}, wantClient: "ua-by-resource", identity: "managed:resource_id=/subscriptions/s/rg/x"},
		{name: "object ID", s: Settings{ObjectID: "ua-object"}, wantClient: "ua-by-object", identity: "managed:object_id=ua-object"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &imdsTransport{imds: srv, next: entra.Client()}
			src, _ := New([]string{"managed"}, tc.s, testOptions(fakeEnv{}, tr, &logBuffer{}))
			if got := src[0].Identity(); got != tc.identity {
				t.Errorf("Identity = %q, want %q", got, tc.identity)
			}
			resource := fmt.Sprintf("https://imds-test-%d.example", i)
			tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), resource+"/.default")
			if err != nil {
				t.Fatal(err)
			}
			assertIssuedTo(t, entra, tok, testTenant, tc.wantClient, resource)
			if _, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), resource+"-2/.default"); err != nil {
				t.Fatal(err)
			}
			// No probe: each token is one request, the token request.
			if tr.hits() != 2 {
				t.Errorf("%d requests reached IMDS; want two token requests", tr.hits())
			}
			if probes, _ := imds.counts(); probes != 0 {
				t.Errorf("IMDS saw %d requests without the Metadata header (probes); want none", probes)
			}
		})
	}

	t.Run("transient errors are retried", func(t *testing.T) {
		imds.mu.Lock()
		imds.failures = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
		imds.mu.Unlock()
		_, before := imds.counts()
		tr := &imdsTransport{imds: srv, next: entra.Client()}
		src, _ := New([]string{"managed"}, Settings{}, testOptions(fakeEnv{}, tr, &logBuffer{}))
		tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://imds-retry.example/.default")
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "system-mi", "https://imds-retry.example")
		if _, after := imds.counts(); after-before != 3 {
			t.Errorf("%d token requests, want 3 (two failures, then success)", after-before)
		}
	})

	failures := []struct {
		name        string
		s           Settings
		raw         string
		unavailable bool
		want        []string
	}{
		{name: "user-assigned identity not on this machine", s: Settings{ClientID: "not-assigned"},
			want: []string{"HTTP 400", "Identity not found", "assign this identity"}},
		{name: "no system-assigned identity", s: Settings{}, unavailable: true,
			want: []string{"no usable managed identity", "Identity not found", "AZURE_CLIENT_ID"}},
		{name: "something else answers token requests at the IMDS address", raw: "<html>Bad gateway</html>", unavailable: true,
			want: []string{"something other than Azure IMDS answered the token request at 169.254.169.254", "HTTP 502"}},
		{name: "two IDs", s: Settings{ClientID: "a", ObjectID: "b"},
			want: []string{"more than one of client ID, resource ID and object ID"}},
	}
	for i, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no system-assigned identity" {
				imds.mu.Lock()
				saved := imds.identities[""]
				delete(imds.identities, "")
				imds.mu.Unlock()
				defer func() { imds.mu.Lock(); imds.identities[""] = saved; imds.mu.Unlock() }()
			}
			imds.mu.Lock()
			imds.raw = tc.raw
			imds.mu.Unlock()
			defer func() { imds.mu.Lock(); imds.raw = ""; imds.mu.Unlock() }()
			tr := &imdsTransport{imds: srv, next: entra.Client()}
			src, _ := New([]string{"managed"}, tc.s, testOptions(fakeEnv{}, tr, &logBuffer{}))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), fmt.Sprintf("https://imds-fail-%d.example/.default", i))
			assertError(t, err, tc.unavailable, tc.want...)
		})
	}
}

// TestManagedSourceNoIMDS: a caller's Transport that finds no route to
// 169.254.169.254 makes the source unavailable after that one try, without
// a probe and without azcore's retries. (A dial that is never answered,
// the dropped-packet network, is TestManagedSourceIMDSDialFailures'.)
func TestManagedSourceNoIMDS(t *testing.T) {
	clearManagedIdentityEnv(t)
	tr := &noNetTransport{}
	var logs logBuffer
	src, _ := New([]string{"managed"}, Settings{ClientID: "some-client"}, testOptions(fakeEnv{}, tr, &logs))
	_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://no-imds.example/.default")
	t.Logf("error: %v", err)
	if !errors.Is(err, token.ErrSourceUnavailable) {
		t.Fatalf("err = %v, want ErrSourceUnavailable", err)
	}
	if !strings.Contains(err.Error(), "169.254.169.254 did not answer") {
		t.Errorf("error does not say IMDS did not answer: %v", err)
	}
	// Fast failure is structural: one token request, no retries.
	if tr.count() != 1 {
		t.Errorf("%d requests (%v); want exactly the token request", tr.count(), tr.calls)
	}
}

func TestManagedSourceAppService(t *testing.T) {
	clearManagedIdentityEnv(t)
	entra := newEntra(t)
	const header = "app-service-identity-header-secret"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-IDENTITY-HEADER") != header {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"statusCode":401,"message":"Unauthorized request"}`)
			return
		}
		if q.Get("api-version") != "2019-08-01" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		clientID := q.Get("client_id")
		if clientID == "" {
			clientID = "app-service-system"
		}
		if clientID == "unknown" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"statusCode":400,"message":"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": entra.Issue(testTenant, clientID, q.Get("resource")),
			"expires_on":   fmt.Sprint(time.Now().Add(time.Hour).Unix()),
			"resource":     q.Get("resource"),
			"token_type":   "Bearer",
			"client_id":    clientID,
		})
	}))
	t.Cleanup(srv.Close)
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", header)

	for i, tc := range []struct {
		clientID, want string
	}{{"", "app-service-system"}, {"app-service-ua", "app-service-ua"}} {
		// A nil transport takes azcore's default: the App Service endpoint
		// is plain http on loopback.
		var logs logBuffer
		o := testOptions(fakeEnv{}, nil, &logs)
		src, _ := New([]string{"managed"}, Settings{ClientID: tc.clientID}, o)
		resource := fmt.Sprintf("https://appservice-%d.example", i)
		tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), resource+"/.default")
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, tc.want, resource)
		assertNoSecrets(t, []string{logs.String()}, header)
	}
	mu.Lock()
	if len(seen) != 2 {
		t.Errorf("App Service endpoint saw %d requests, want 2 (no IMDS probe)", len(seen))
	}
	mu.Unlock()

	var logs logBuffer
	src, _ := New([]string{"managed"}, Settings{ClientID: "unknown"}, testOptions(fakeEnv{}, nil, &logs))
	_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://appservice-unknown.example/.default")
	t.Logf("error: %v", err)
	if err == nil || errors.Is(err, token.ErrSourceUnavailable) || !strings.Contains(err.Error(), "App Service") || !strings.Contains(err.Error(), "No User Assigned") {
		t.Errorf("err = %v, want an App Service failure with the endpoint's message", err)
	}
	assertNoSecrets(t, []string{errText(err), logs.String()}, header)
}

func TestManagedSourceAppServiceUnreachable(t *testing.T) {
	clearManagedIdentityEnv(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	const header = "identity-header-value-secret"
	t.Setenv("IDENTITY_ENDPOINT", closed.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", header)
	var logs logBuffer
	src, _ := New([]string{"managed"}, Settings{}, testOptions(fakeEnv{}, nil, &logs))
	_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://appservice-unreachable.example/.default")
	t.Logf("error: %v", err)
	if err == nil || errors.Is(err, token.ErrSourceUnavailable) {
		t.Fatalf("err = %v, want a failure: the environment says App Service", err)
	}
	assertMentions(t, err, "could not reach the App Service managed identity endpoint", "connection refused")
	assertNoSecrets(t, []string{err.Error(), logs.String()}, header)
}

// TestManagedSourceRedactsEndpointSecrets runs against a managed identity
// endpoint on loopback that echoes the request's headers in its error, as
// a misbehaving or hostile one may: IDENTITY_HEADER (App Service, Container
// Apps) and MSI_SECRET (Azure ML) must not reach the error or the log,
// whether the injected environment holds them or only the process
// environment, where MSAL reads them, does (then the header actually sent
// is what is redacted). One echo is padded so that the secret straddles
// the 600-byte limit of what is shown.
func TestManagedSourceRedactsEndpointSecrets(t *testing.T) {
	const secret = "IDHEADERSECRETvalue0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var echo []string
		for _, k := range []string{"X-Identity-Header", "Secret", "Authorization"} {
			if v := r.Header.Get(k); v != "" {
				echo = append(echo, k+": "+v)
			}
		}
		pad := r.URL.Query().Get("pad")
		if pad == "" {
			pad = "0"
		}
		n := 0
		fmt.Sscan(pad, &n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": 400, "message": strings.Repeat("p", n) + "bad request with " + strings.Join(echo, ", ")})
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		vars     map[string]string // process environment (MSAL reads it)
		injected bool              // Options.Getenv holds the same
		clientID string
		pad      int // echo starts after this much padding
		endpoint string
	}{
		{name: "App Service, system-assigned", vars: map[string]string{"IDENTITY_ENDPOINT": "/msi/token", "IDENTITY_HEADER": secret}, injected: true, endpoint: "App Service"},
		{name: "App Service, user-assigned", vars: map[string]string{"IDENTITY_ENDPOINT": "/msi/token", "IDENTITY_HEADER": secret}, injected: true, clientID: "ua-client", endpoint: "App Service"},
		{name: "App Service, header only in the process environment", vars: map[string]string{"IDENTITY_ENDPOINT": "/msi/token", "IDENTITY_HEADER": secret}, endpoint: "App Service"},
		{name: "App Service, echo across the limit", vars: map[string]string{"IDENTITY_ENDPOINT": "/msi/token", "IDENTITY_HEADER": secret}, injected: true, pad: 525, endpoint: "App Service"},
		{name: "Azure ML", vars: map[string]string{"MSI_ENDPOINT": "/msi/token", "MSI_SECRET": secret}, injected: true, endpoint: "Azure ML"},
		{name: "Azure ML, secret only in the process environment", vars: map[string]string{"MSI_ENDPOINT": "/msi/token", "MSI_SECRET": secret}, endpoint: "Azure ML"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearManagedIdentityEnv(t)
			env := fakeEnv{}
			for k, v := range tc.vars {
				if strings.HasSuffix(k, "_ENDPOINT") {
					v = srv.URL + v + "?pad=" + fmt.Sprint(tc.pad)
				}
				t.Setenv(k, v)
				if tc.injected {
					env[k] = v
				}
			}
			var logs logBuffer
			src, _ := New([]string{"managed"}, Settings{ClientID: tc.clientID}, testOptions(env, nil, &logs))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), fmt.Sprintf("https://echo-%d.example/.default", i))
			assertError(t, err, false, tc.endpoint, "bad request with")
			if tc.pad == 0 && !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error does not show the redacted echo")
			}
			for _, text := range []string{err.Error(), logs.String()} {
				leak.AssertNoFragment(t, text, secret, 8)
			}
		})
	}
}

// TestNetRecorderRemembersHeaderSecrets covers the header Azure Arc's
// endpoint is sent (Basic and the content of a key file that this package
// never reads) along with the others.
func TestNetRecorderRemembersHeaderSecrets(t *testing.T) {
	r := &netRecorder{}
	r.remember(http.Header{"Authorization": {"Basic arc-key-file-content-0123"}, "Metadata": {"true"}})
	r.remember(http.Header{"X-Identity-Header": {"app-service-header-value"}, "Secret": {"ml-secret-value-4567"}})
	r.remember(http.Header{"X-Identity-Header": {"app-service-header-value"}}) // a retry
	got := r.sentSecrets()
	want := []string{"arc-key-file-content-0123", "app-service-header-value", "ml-secret-value-4567"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sentSecrets = %q, want %q", got, want)
	}
	if (*netRecorder)(nil).sentSecrets() != nil {
		t.Error("a nil recorder has secrets")
	}
}
