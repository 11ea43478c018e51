package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// federatedApp registers an app that accepts exactly the assertions in
// accepted (which the test may add to while it runs).
type federatedApp struct {
	mu       sync.Mutex
	accepted map[string]bool
}

func (f *federatedApp) accept(a string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.accepted == nil {
		f.accepted = map[string]bool{}
	}
	f.accepted[a] = true
}

func (f *federatedApp) check(a string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted[a]
}

func TestWorkloadSource(t *testing.T) {
	entra := newEntra(t)
	fed := &federatedApp{}
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "wl-app", AcceptAssertion: fed.check})
	dir := t.TempDir()

	t.Run("file is read again for every token", func(t *testing.T) {
		first := testJWT(t, "https://oidc.aks.example/issuer", "system:serviceaccount:ns:sa", federatedAudience)
		second := testJWT(t, "https://oidc.aks.example/issuer", "system:serviceaccount:ns:sa2", federatedAudience)
		fed.accept(first)
		fed.accept(second)
		file := writeTestFile(t, dir, "token", []byte(first+"\n"), 0o600)
		var logs logBuffer
		s := Settings{ClientID: "wl-app", TenantID: testTenant, FederatedTokenFile: file, AuthorityHost: entra.AuthorityHost()}
		src, _ := New([]string{"workload"}, s, testOptions(fakeEnv{}, entra.Client(), &logs))

		before := len(entra.Requests())
		tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "wl-app", testResource)
		writeTestFile(t, dir, "token", []byte(second), 0o600)
		if _, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope); err != nil {
			t.Fatal(err)
		}
		reqs := entra.Requests()[before:]
		if len(reqs) != 2 || reqs[0].Assertion != first || reqs[1].Assertion != second {
			t.Errorf("Entra saw %d requests; want the first then the rotated token", len(reqs))
		}
		assertNoSecrets(t, []string{logs.String()}, first, second)
	})

	t.Run("token in AZURE_FEDERATED_TOKEN", func(t *testing.T) {
		tokenValue := testJWT(t, "https://gitlab.example.com", "project_path:group/proj:ref_type:branch:ref:main", federatedAudience)
		fed.accept(tokenValue)
		var logs logBuffer
		s := Settings{ClientID: "wl-app", TenantID: testTenant}
		src, _ := New([]string{"workload"}, s, testOptions(fakeEnv{envFederatedToken: tokenValue + "\n"}, entra.Client(), &logs))
		tok, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "wl-app", testResource)
		assertNoSecrets(t, []string{logs.String()}, tokenValue)
	})

	mismatch := testJWT(t, "https://token.actions.githubusercontent.com", "repo:octo/app:ref:refs/heads/feature", federatedAudience)
	tests := []struct {
		name        string
		s           Settings
		env         fakeEnv
		unavailable bool
		want        []string
		code        string
		requests    bool // whether Entra may be asked at all
	}{
		{name: "no federated credential matches", s: Settings{ClientID: "wl-app", TenantID: testTenant},
			env: fakeEnv{envFederatedToken: mismatch}, requests: true, code: "AADSTS70021",
			want: []string{"AADSTS70021", `issuer "https://token.actions.githubusercontent.com"`, `subject "repo:octo/app:ref:refs/heads/feature"`, "add a federated credential"}},
		{name: "unknown tenant", s: Settings{ClientID: "wl-app", TenantID: "no-such-tenant"},
			env: fakeEnv{envFederatedToken: mismatch}, requests: true, code: "AADSTS90002",
			want: []string{"AADSTS90002", `tenant "no-such-tenant" is not known at https://127.0.0.1`, "AZURE_AUTHORITY_HOST"}},
		{name: "missing file", s: Settings{ClientID: "wl-app", TenantID: testTenant, FederatedTokenFile: filepath.Join(dir, "absent")}, requests: true,
			want: []string{"AZURE_FEDERATED_TOKEN_FILE", "absent", "no such file"}},
		{name: "empty file", s: Settings{ClientID: "wl-app", TenantID: testTenant, FederatedTokenFile: writeTestFile(t, dir, "empty", nil, 0o600)}, requests: true,
			want: []string{"is empty"}},
		{name: "nothing set", s: Settings{ClientID: "wl-app", TenantID: testTenant}, unavailable: true,
			want: []string{"neither AZURE_FEDERATED_TOKEN_FILE nor AZURE_FEDERATED_TOKEN is set"}},
		{name: "no client ID", s: Settings{TenantID: testTenant, FederatedTokenFile: "/var/run/token"},
			want: []string{"AZURE_FEDERATED_TOKEN_FILE is set but AZURE_CLIENT_ID is not"}},
		{name: "http authority", s: Settings{ClientID: "wl-app", TenantID: testTenant, AuthorityHost: "http://127.0.0.1/"}, env: fakeEnv{envFederatedToken: mismatch},
			want: []string{`AZURE_AUTHORITY_HOST "http://127.0.0.1/" is not https`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			before := len(entra.Requests())
			src, _ := New([]string{"workload"}, tc.s, testOptions(tc.env, entra.Client(), &logs))
			_, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
			assertError(t, err, tc.unavailable, tc.want...)
			var se *token.SourceError
			if errors.As(err, &se); se == nil || se.Code != tc.code {
				t.Errorf("SourceError %+v, want code %q", se, tc.code)
			}
			if !tc.requests && len(entra.Requests()) != before {
				t.Error("Entra was asked although the configuration is incomplete")
			}
			assertNoSecrets(t, []string{err.Error(), logs.String()}, mismatch)
		})
	}
}

// fakeGitHub is GitHub Actions' ID token service.
type fakeGitHub struct {
	*httptest.Server
	bearer string
	fed    *federatedApp
	t      *testing.T

	mu     sync.Mutex
	issued []string
	status int    // non-zero: answer with this status
	body   string // with status
}

func newFakeGitHub(t *testing.T, bearer string, fed *federatedApp) *fakeGitHub {
	g := &fakeGitHub{bearer: bearer, fed: fed, t: t}
	g.Server = httptest.NewTLSServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.status != 0 {
		w.WriteHeader(g.status)
		fmt.Fprint(w, g.body)
		return
	}
	q := r.URL.Query()
	if r.Method != http.MethodGet || r.URL.Path != "/idtoken" || r.Header.Get("Authorization") != "Bearer "+g.bearer ||
		q.Get("api-version") != "2.0" || q.Get("audience") != "api://AzureADTokenExchange" {
		g.t.Errorf("unexpected ID token request %s %s (authorization ok: %v)", r.Method, r.URL, r.Header.Get("Authorization") == "Bearer "+g.bearer)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	tok := testJWT(g.t, "https://token.actions.githubusercontent.com", fmt.Sprintf("repo:octo/app:ref:refs/heads/main:%d", len(g.issued)), q.Get("audience"))
	g.issued = append(g.issued, tok)
	g.fed.accept(tok)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"count":1,"value":%q}`, tok)
}

func (g *fakeGitHub) tokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.issued...)
}

func (g *fakeGitHub) fail(status int, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.body = status, body
}

func TestGitHubSource(t *testing.T) {
	entra := newEntra(t)
	fed := &federatedApp{}
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "gh-app", AcceptAssertion: fed.check})
	const bearer = "gh-request-token-secret-value"
	gh := newFakeGitHub(t, bearer, fed)
	env := fakeEnv{envGitHubTokenURL: gh.URL + "/idtoken?api-version=2.0", envGitHubTokenToken: bearer}
	s := Settings{ClientID: "gh-app", TenantID: testTenant}

	t.Run("a fresh ID token for every Entra token", func(t *testing.T) {
		var logs logBuffer
		src, _ := New([]string{"github"}, s, testOptions(env, entra.Client(), &logs))
		before := len(entra.Requests())
		for i := 0; i < 2; i++ {
			tok, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
			if err != nil {
				t.Fatal(err)
			}
			assertIssuedTo(t, entra, tok, testTenant, "gh-app", testResource)
		}
		issued, reqs := gh.tokens(), entra.Requests()[before:]
		if len(issued) != 2 || len(reqs) != 2 || reqs[0].Assertion != issued[0] || reqs[1].Assertion != issued[1] {
			t.Errorf("GitHub issued %d tokens, Entra saw %d requests; want each Entra request to present its own fresh ID token", len(issued), len(reqs))
		}
		assertNoSecrets(t, append(issued, logs.String()), bearer)
		assertNoSecrets(t, []string{logs.String()}, issued...)
	})

	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{name: "refused", status: http.StatusForbidden, body: `{"message":"Bad credentials for ` + bearer + `"}`,
			want: []string{"HTTP 403", "permissions: id-token: write", "Bad credentials for [redacted]"}},
		{name: "not JSON", status: http.StatusOK, body: "<html>proxy</html>", want: []string{"not JSON"}},
		{name: "no value", status: http.StatusOK, body: `{"count":0}`, want: []string{`without an ID token in "value"`}},
		{name: "oversized", status: http.StatusOK, body: strings.Repeat("x", maxAnswer+10), want: []string{"more than 1048576 bytes"}},
		{name: "token echoed in an error", status: http.StatusBadRequest, body: "failed for eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
			want: []string{"HTTP 400", "[redacted JWT]"}},
		// The message is shortened to 300 bytes, a text body to 200: the
		// request token must be redacted before, or its first part stays.
		{name: "request token echoed across the message's limit", status: http.StatusUnauthorized,
			body: `{"message":"` + strings.Repeat("p", 300-len("Bearer ")-12) + "Bearer " + bearer + `"}`,
			want: []string{"HTTP 401", "Bearer [redacted]"}},
		{name: "request token echoed across the text's limit", status: http.StatusBadRequest,
			body: strings.Repeat("p", 200-len("Bearer ")-12) + "Bearer " + bearer,
			want: []string{"HTTP 400", "Bearer [redacted]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh.fail(tc.status, tc.body)
			defer gh.fail(0, "")
			var logs logBuffer
			src, _ := New([]string{"github"}, s, testOptions(env, entra.Client(), &logs))
			_, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
			t.Logf("error: %v", err)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) {
				t.Fatalf("err = %v, want a failure", err)
			}
			assertMentions(t, err, tc.want...)
			assertNoSecrets(t, []string{err.Error(), logs.String()}, bearer, "eyJzdWIiOiJ4In0")
			leak.AssertNoFragment(t, err.Error(), bearer, 8)
		})
	}

	t.Run("availability", func(t *testing.T) {
		for _, tc := range []struct {
			env         fakeEnv
			s           Settings
			unavailable bool
			want        string
		}{
			{env: fakeEnv{}, s: s, unavailable: true, want: "ACTIONS_ID_TOKEN_REQUEST_URL is not set"},
			{env: fakeEnv{envGitHubTokenURL: "https://x/"}, s: s, want: "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not"},
			{env: fakeEnv{envGitHubTokenToken: bearer}, s: s, want: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is set but ACTIONS_ID_TOKEN_REQUEST_URL is not"},
			{env: env, s: Settings{ClientID: "gh-app"}, want: "AZURE_TENANT_ID is not"},
		} {
			tr := &noNetTransport{}
			src, _ := New([]string{"github"}, tc.s, testOptions(tc.env, tr, &logBuffer{}))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) != tc.unavailable || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q (unavailable %v)", err, tc.want, tc.unavailable)
			}
			if tr.count() != 0 {
				t.Errorf("%d requests sent for an incomplete configuration", tr.count())
			}
		}
	})
}

// fakePipelines is Azure DevOps' OIDC token service.
type fakePipelines struct {
	*httptest.Server
	bearer, connection string
	fed                *federatedApp
	t                  *testing.T

	mu     sync.Mutex
	issued []string
}

func (p *fakePipelines) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "Bearer "+p.bearer {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"TF400813: The user is not authorized to access this resource."}`)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/org/proj/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken" ||
		q.Get("api-version") != "7.1" || q.Get("serviceConnectionId") != p.connection || r.Header.Get("X-TFS-FedAuthRedirect") != "Suppress" {
		p.t.Errorf("unexpected OIDC request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	tok := testJWT(p.t, "https://vstoken.dev.azure.com/org-id", "sc://org/proj/"+p.connection, federatedAudience)
	p.issued = append(p.issued, tok)
	p.fed.accept(tok)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"oidcToken":%q}`, tok)
}

func TestPipelinesSource(t *testing.T) {
	entra := newEntra(t)
	fed := &federatedApp{}
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "sc-app", AcceptAssertion: fed.check})
	const bearer = "system-access-token-secret"
	ado := &fakePipelines{bearer: bearer, connection: "conn-123", fed: fed, t: t}
	ado.Server = httptest.NewTLSServer(http.HandlerFunc(ado.serve))
	t.Cleanup(ado.Close)
	env := pipelinesEnv(ado.URL+"/org/proj/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken", bearer, "conn-123", "sc-app")
	// issuedToServiceConnection: the one pipelines source names the
	// service connection's identity, and Entra issued its token to it.
	issuedToServiceConnection := func(t *testing.T, src []token.Source) {
		t.Helper()
		if id := src[0].Identity(); id != "pipelines:client_id=sc-app,tenant="+testTenant+",service_connection=conn-123" {
			t.Errorf("Identity = %q", id)
		}
		tok, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
		if err != nil {
			t.Fatal(err)
		}
		assertIssuedTo(t, entra, tok, testTenant, "sc-app", testResource)
	}

	// The rule: the service connection's client and tenant
	// (AZURESUBSCRIPTION_*) go together and beat Settings however it
	// was filled (DOCKER_CREDENTIAL_ACR_CLIENT_ID, the config file,
	// AZURE_CLIENT_ID); Settings' pair applies only when neither is
	// set; half a pair is refused rather than mixed.
	t.Run("service connection identity wins over configured client and tenant", func(t *testing.T) {
		var logs logBuffer
		s := Settings{ClientID: "some-other-app", TenantID: "other-tenant"}
		src, _ := New([]string{"pipelines"}, s, testOptions(env, entra.Client(), &logs))
		issuedToServiceConnection(t, src)
		assertNoSecrets(t, []string{logs.String()}, bearer)
		if l := logs.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, "not the configured ones") || !strings.Contains(l, "ignored_client_id=some-other-app") {
			t.Errorf("the override is not logged at info level:\n%s", l)
		}
	})

	t.Run("configured client and tenant without the service connection's", func(t *testing.T) {
		e := fakeEnv{}
		for k, v := range env {
			e[k] = v
		}
		delete(e, envPipelinesClientID)
		delete(e, envPipelinesTenantID)
		var logs logBuffer
		src, _ := New([]string{"pipelines"}, Settings{ClientID: "sc-app", TenantID: testTenant}, testOptions(e, entra.Client(), &logs))
		issuedToServiceConnection(t, src)
		if strings.Contains(logs.String(), "not the configured ones") {
			t.Errorf("an override is logged where there is none:\n%s", logs.String())
		}
	})

	t.Run("half of the service connection's identity is not mixed with the configured one", func(t *testing.T) {
		full := Settings{ClientID: "sc-app", TenantID: testTenant}
		for _, tc := range []struct {
			drop string
			s    Settings
			want []string
		}{
			{drop: envPipelinesTenantID, s: full, want: []string{"AZURESUBSCRIPTION_CLIENT_ID is set but AZURESUBSCRIPTION_TENANT_ID is not", "used together"}},
			{drop: envPipelinesClientID, s: full, want: []string{"AZURESUBSCRIPTION_TENANT_ID is set but AZURESUBSCRIPTION_CLIENT_ID is not", "used together"}},
		} {
			e := fakeEnv{}
			for k, v := range env {
				if k != tc.drop {
					e[k] = v
				}
			}
			tr := &noNetTransport{}
			src, _ := New([]string{"pipelines"}, tc.s, testOptions(e, tr, &logBuffer{}))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			assertError(t, err, false, tc.want...)
			if tr.count() != 0 {
				t.Errorf("%d requests sent for half an identity", tr.count())
			}
		}
	})

	t.Run("refused access token", func(t *testing.T) {
		e := fakeEnv{}
		for k, v := range env {
			e[k] = v
		}
		e[envPipelinesAccessToken] = "wrong-access-token-value"
		var logs logBuffer
		src, _ := New([]string{"pipelines"}, Settings{}, testOptions(e, entra.Client(), &logs))
		_, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
		t.Logf("error: %v", err)
		if err == nil || errors.Is(err, token.ErrSourceUnavailable) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "TF400813") ||
			!strings.Contains(err.Error(), "$(System.AccessToken)") {
			t.Errorf("err = %v, want a 401 failure with the service's message and a hint", err)
		}
		assertNoSecrets(t, []string{errText(err), logs.String()}, "wrong-access-token-value", bearer)
	})

	t.Run("availability", func(t *testing.T) {
		for _, tc := range []struct {
			drop        string
			unavailable bool
			want        string
		}{
			{drop: envPipelinesOIDCURI, unavailable: true, want: "not an Azure Pipelines job"},
			{drop: envPipelinesConnectionID, unavailable: true, want: "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is not set"},
			{drop: envPipelinesAccessToken, want: "env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)"},
			{drop: envPipelinesTenantID, want: "AZURESUBSCRIPTION_TENANT_ID is not"},
			{drop: envPipelinesClientID, want: "AZURESUBSCRIPTION_CLIENT_ID is not"},
		} {
			e := fakeEnv{}
			for k, v := range env {
				if k != tc.drop {
					e[k] = v
				}
			}
			tr := &noNetTransport{}
			src, _ := New([]string{"pipelines"}, Settings{}, testOptions(e, tr, &logBuffer{}))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) != tc.unavailable || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("without %s: err = %v, want %q (unavailable %v)", tc.drop, err, tc.want, tc.unavailable)
			}
			if tr.count() != 0 {
				t.Errorf("%d requests sent for an incomplete configuration", tr.count())
			}
			assertNoSecrets(t, []string{errText(err)}, bearer)
		}
	})
}

// TestCITokenURLMustBeHTTPS checks that the job's bearer token is never sent
// to a URL that is not https, or that carries user information, and that
// the error says so without the token.
func TestCITokenURLMustBeHTTPS(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(plain.Close)
	const bearer = "ci-bearer-token-that-must-stay-home"
	s := Settings{ClientID: "app", TenantID: testTenant}
	pipelinesEnv := func(uri string) fakeEnv {
		return pipelinesEnv(uri, bearer, "conn", "app")
	}
	tests := []struct {
		name   string
		source string
		env    fakeEnv
		want   []string
	}{
		{name: "github over http", source: GitHub, env: fakeEnv{envGitHubTokenURL: plain.URL + "/idtoken?api-version=2.0", envGitHubTokenToken: bearer},
			want: []string{envGitHubTokenURL, "is not https", "the GitHub Actions runner sets an https URL"}},
		{name: "github with user information", source: GitHub, env: fakeEnv{envGitHubTokenURL: "https://user:pw@127.0.0.1:1/idtoken", envGitHubTokenToken: bearer},
			want: []string{envGitHubTokenURL, "carries a user name or password"}},
		{name: "github not a URL", source: GitHub, env: fakeEnv{envGitHubTokenURL: "idtoken", envGitHubTokenToken: bearer},
			want: []string{envGitHubTokenURL, "is not a URL"}},
		{name: "pipelines over http", source: Pipelines, env: pipelinesEnv(plain.URL + "/oidctoken"),
			want: []string{envPipelinesOIDCURI, "is not https", "the Azure Pipelines agent sets an https URL"}},
		{name: "pipelines over http, upper case", source: Pipelines, env: pipelinesEnv("HTTP://" + strings.TrimPrefix(plain.URL, "http://") + "/oidctoken"),
			want: []string{envPipelinesOIDCURI, "is not https"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			// No Transport: the sources' own client, which would reach the
			// plain server if asked to.
			src, err := New([]string{tc.source}, s, testOptions(tc.env, nil, &logs))
			if err != nil {
				t.Fatal(err)
			}
			_, err = src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			t.Logf("error: %v", err)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) {
				t.Fatalf("err = %v, want a failure", err)
			}
			assertMentions(t, err, tc.want...)
			assertNoSecrets(t, []string{err.Error(), logs.String()}, bearer, "pw@")
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("%d requests reached a plain-http ID token service", hits)
	}
}

// TestClientsFollowNoRedirect checks that the clients the sources use when
// no Transport is given (Entra's token endpoint, the CI token services,
// managed identity endpoints) return a redirect instead of following it:
// each request carries a secret, an assertion or a bearer token, and Go
// resends the Authorization header on a same-host redirect, even to plain
// http. (azcore's default client, used for Entra before, follows them.)
func TestClientsFollowNoRedirect(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	entra := func(o Options) (policy.Transporter, func()) {
		co, release := entraClientOptions(context.Background(), "https://login.microsoftonline.com/", o, nil)
		return co.Transport, release
	}
	for name, build := range map[string]func(Options) (policy.Transporter, func()){"ci": noRedirectClient, "managed": managedClient, "entra": entra} {
		t.Run(name, func(t *testing.T) {
			tr, release := build(Options{})
			defer release()
			req, _ := http.NewRequestWithContext(hangGuard(t), http.MethodGet, srv.URL+"/start", nil)
			req.Header.Set("Authorization", "Bearer x")
			resp, err := tr.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Errorf("status %d, want the 302 itself", resp.StatusCode)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.HasPrefix(s, "/elsewhere") {
			t.Errorf("a redirect was followed: %q", seen)
		}
	}
}
