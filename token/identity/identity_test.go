package identity

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func sourceNamesOf(srcs []token.Source) []string {
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name())
	}
	return names
}

func TestNew(t *testing.T) {
	tests := []struct {
		names   []string
		want    []string
		wantErr string
	}{
		{names: []string{"workload", "managed", "cli"}, want: []string{"workload", "managed", "cli"}},
		{names: []string{" CLI ", "Managed"}, want: []string{"cli", "managed"}},
		{names: Names(), want: Names()},
		{names: []string{"managed", "msi"}, wantErr: `identity sources: unknown identity source "msi": valid sources are env, workload, github, pipelines, managed, cli, azd`},
		{names: []string{"managed", "managed"}, wantErr: `"managed" is listed twice`},
		{names: []string{"managed", ""}, wantErr: "an identity source name is empty: valid sources are env, workload"},
		{names: nil, wantErr: "no identity source is named: name one or more of env, workload"},
	}
	for _, tc := range tests {
		got, err := New(tc.names, Settings{}, Options{})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%q) error = %v, want %q", tc.names, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(sourceNamesOf(got), tc.want) {
			t.Errorf("New(%q) = %v, %v; want %v", tc.names, sourceNamesOf(got), err, tc.want)
		}
	}
}

func TestAuto(t *testing.T) {
	full := Settings{ClientID: "cid", TenantID: testTenant}
	gh := fakeEnv{envGitHubTokenURL: "https://gh/idtoken?api-version=2.0", envGitHubTokenToken: "t"}
	ado := pipelinesEnv("https://ado/oidc", "t", "c", "sc")
	tests := []struct {
		name        string
		s           Settings
		env         fakeEnv
		want        []string
		wantSkipped []string // substrings, in order
	}{
		{name: "bare machine", want: []string{"managed", "cli", "azd"},
			wantSkipped: []string{"env: neither", "workload: neither", "github: ACTIONS_ID_TOKEN_REQUEST_URL is not set", "pipelines: SYSTEM_OIDCREQUESTURI is not set"}},
		{name: "AKS workload identity", s: Settings{ClientID: "cid", TenantID: testTenant, FederatedTokenFile: "/var/run/secrets/azure/tokens/azure-identity-token"},
			want: []string{"workload", "managed", "cli", "azd"}},
		{name: "GitLab", s: full, env: fakeEnv{envFederatedToken: "eyJ.x.y"}, want: []string{"workload", "managed", "cli", "azd"}},
		{name: "service principal", s: full, env: fakeEnv{envClientSecret: "s"}, want: []string{"env", "managed", "cli", "azd"}},
		{name: "secret wins over workload", s: Settings{ClientID: "cid", TenantID: testTenant, FederatedTokenFile: "/f"}, env: fakeEnv{envClientSecret: "s"},
			want: []string{"env", "workload", "managed", "cli", "azd"}},
		{name: "secret without client ID is skipped with a reason", s: Settings{TenantID: testTenant}, env: fakeEnv{envClientSecret: "s"},
			want: []string{"managed", "cli", "azd"}, wantSkipped: []string{"env: AZURE_CLIENT_SECRET is set but AZURE_CLIENT_ID is not"}},
		{name: "GitHub runner on an Azure VM", s: full, env: gh, want: []string{"github", "managed", "cli", "azd"}},
		{name: "GitHub job without AZURE_CLIENT_ID", s: Settings{}, env: gh, want: []string{"managed", "cli", "azd"},
			wantSkipped: []string{"github: this GitHub Actions job can get an ID token, but AZURE_CLIENT_ID is not set"}},
		{name: "Azure Pipelines", env: ado, want: []string{"pipelines", "managed", "cli", "azd"}},
		{name: "Azure Pipelines without the access token", env: fakeEnv{envPipelinesOIDCURI: "https://ado/oidc", envPipelinesConnectionID: "c", envPipelinesClientID: "sc", envPipelinesTenantID: testTenant},
			want: []string{"managed", "cli", "azd"}, wantSkipped: []string{"pipelines: AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is set but SYSTEM_ACCESSTOKEN is not"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(tc.env, nil, &logBuffer{})
			o.LookPath = func(name string) (string, error) {
				t.Errorf("Auto looked %s up on PATH: the cached path must not pay for that", name)
				return "", errors.New("not found")
			}
			got, skipped := Auto(tc.s, o)
			if !reflect.DeepEqual(sourceNamesOf(got), tc.want) {
				t.Errorf("Auto = %v, want %v (skipped %q)", sourceNamesOf(got), tc.want, skipped)
			}
			if len(got)+len(skipped) != len(Names()) {
				t.Errorf("%d sources and %d skipped, want every source accounted for", len(got), len(skipped))
			}
			reasons := make([]string, len(skipped))
			for i, e := range skipped {
				reasons[i] = e.Error()
			}
			all := strings.Join(reasons, "\n")
			pos := 0
			for _, w := range tc.wantSkipped {
				i := strings.Index(all[pos:], w)
				if i < 0 {
					t.Errorf("skipped reasons %q lack %q (in order)", skipped, w)
					break
				}
				pos += i + len(w)
			}
		})
	}
}

// TestSourceIdentity checks that identities name the principal, tell
// different principals apart, and never hold a secret.
func TestSourceIdentity(t *testing.T) {
	const secret = "very-secret-value"
	env := fakeEnv{
		envClientSecret: secret, envClientCertPassword: secret, envFederatedToken: secret,
		envGitHubTokenToken: secret, envPipelinesAccessToken: secret,
		envPipelinesConnectionID: "conn", envPipelinesClientID: "sc", envPipelinesTenantID: "sct",
	}
	s := Settings{ClientID: "cid", TenantID: "tid", FederatedTokenFile: "/f"}
	want := map[string]string{
		"env":       "env:client_id=cid,tenant=tid",
		"workload":  "workload:client_id=cid,tenant=tid",
		"github":    "github:client_id=cid,tenant=tid",
		"pipelines": "pipelines:client_id=sc,tenant=sct,service_connection=conn",
		"managed":   "managed:client_id=cid",
		"cli":       "cli:tenant=tid",
		"azd":       "azd:tenant=tid",
	}
	srcs, err := New(Names(), s, testOptions(env, nil, &logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range srcs {
		if got := src.Identity(); got != want[src.Name()] {
			t.Errorf("%s: Identity = %q, want %q", src.Name(), got, want[src.Name()])
		}
		assertNoSecrets(t, []string{src.Identity()}, secret)
	}

	// Settings that differ give different identities, even when crafted.
	pairs := [][2]Settings{
		{{ClientID: "a", TenantID: "b"}, {ClientID: "a,tenant=b"}},
		{{ClientID: "a"}, {ClientID: "a", AuthorityHost: "https://login.microsoftonline.us/"}},
		{{ClientID: "a", TenantID: "t1"}, {ClientID: "a", TenantID: "t2"}},
	}
	for _, p := range pairs {
		for _, name := range []string{"env", "workload", "github"} {
			a, _ := New([]string{name}, p[0], Options{})
			b, _ := New([]string{name}, p[1], Options{})
			if a[0].Identity() == b[0].Identity() {
				t.Errorf("%s: %+v and %+v share identity %q", name, p[0], p[1], a[0].Identity())
			}
		}
	}
	m1, _ := New([]string{"managed"}, Settings{}, Options{})
	m2, _ := New([]string{"managed"}, Settings{ResourceID: "/subscriptions/x"}, Options{})
	if m1[0].Identity() == m2[0].Identity() {
		t.Error("system-assigned and user-assigned managed identities share an identity")
	}
}

// TestSourcesConstructionIsCheap checks that building sources and their
// identities touches neither network nor the tool lookup.
func TestSourcesConstructionIsCheap(t *testing.T) {
	tr := &noNetTransport{}
	o := testOptions(fakeEnv{envClientSecret: "x"}, tr, &logBuffer{})
	o.LookPath = func(string) (string, error) {
		t.Error("LookPath called while building sources")
		return "", errors.New("no")
	}
	srcs, err := New(Names(), Settings{ClientID: "c", TenantID: "t"}, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		_ = s.Identity()
		_ = s.Name()
	}
	if tr.count() != 0 {
		t.Errorf("%d requests while building sources", tr.count())
	}
}

func TestSourceErrorUnwrap(t *testing.T) {
	u := unavailablef("cli", "x")
	if !errors.Is(u, token.ErrSourceUnavailable) {
		t.Error("an unavailable SourceError must match ErrSourceUnavailable")
	}
	f := failf(token.KindRefused, "cli", "x")
	if errors.Is(f, token.ErrSourceUnavailable) {
		t.Error("a failing SourceError must not match ErrSourceUnavailable")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c := ctxError(ctx, "cli", "waiting"); !errors.Is(c, context.Canceled) {
		t.Errorf("ctx error %v does not match context.Canceled", c)
	}
}

func TestAuthority(t *testing.T) {
	tests := []struct {
		s       Settings
		c       token.Cloud
		want    string
		wantErr string
	}{
		{c: token.PublicCloud(), want: "https://login.microsoftonline.com/"},
		{c: token.ChinaCloud(), want: "https://login.chinacloudapi.cn/"},
		{c: token.Cloud{}, want: "https://login.microsoftonline.com/"},
		{s: Settings{AuthorityHost: "https://login.microsoftonline.us"}, c: token.PublicCloud(), want: "https://login.microsoftonline.us/"},
		{s: Settings{AuthorityHost: "http://login.microsoftonline.us/"}, c: token.PublicCloud(), wantErr: "is not https"},
		{c: token.Cloud{Name: "stack", AuthorityHost: "http://adfs.local/"}, wantErr: "the stack cloud's authority host \"http://adfs.local/\" is not https"},
		{s: Settings{AuthorityHost: "login.microsoftonline.com"}, wantErr: "is not a URL"},
		{s: Settings{AuthorityHost: "https://user:pw@login.example/"}, wantErr: "plain https://host/ URL"},
	}
	for _, tc := range tests {
		got, err := authorityHost(tc.s, tc.c)
		assertNoSecrets(t, []string{errText(err)}, "pw@")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("authorityHost(%+v, %+v) error = %v, want %q", tc.s, tc.c, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("authorityHost(%+v, %+v) = %q, %v; want %q", tc.s, tc.c, got, err, tc.want)
		}
	}
}

// BenchmarkAuto measures what the cached path pays to choose the
// sources and compute their identities: environment reads and two PATH
// lookups.
func BenchmarkAuto(b *testing.B) {
	o := Options{Getenv: os.Getenv}
	s := Settings{ClientID: "c", TenantID: "t"}
	for b.Loop() {
		srcs, _ := Auto(s, o)
		for _, src := range srcs {
			_ = src.Identity()
		}
	}
}

// TestSourcesHonourContext checks that a caller's deadline ends a hung
// request and is reported as such, not as "unavailable".
func TestSourcesHonourContext(t *testing.T) {
	env := fakeEnv{
		envClientSecret: "secret-value", envFederatedToken: "eyJ.e30.x",
		envGitHubTokenURL: "https://gh.invalid/idtoken?api-version=2.0", envGitHubTokenToken: "gh-token",
		envPipelinesOIDCURI: "https://ado.invalid/oidc", envPipelinesAccessToken: "ado-token", envPipelinesConnectionID: "c",
	}
	s := Settings{ClientID: "c", TenantID: testTenant}
	for _, name := range []string{"env", "workload", "github", "pipelines", "managed"} {
		t.Run(name, func(t *testing.T) {
			if name == "managed" {
				clearManagedIdentityEnv(t)
			}
			tr := &noNetTransport{hang: true}
			src, _ := New([]string{name}, s, testOptions(env, tr, &logBuffer{}))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := src[0].EntraToken(ctx, token.PublicCloud(), token.DefaultScope)
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, token.ErrSourceUnavailable) {
				t.Errorf("err = %v, want a context.DeadlineExceeded failure", err)
			}
		})
	}
}

// TestListedSourceAbsentOrPartial pins down what an explicitly listed
// source does (DOCKER_CREDENTIAL_ACR_SOURCES=github,managed, say): when its
// environment is entirely absent it is unavailable, so the next listed
// source is tried; when it is present but incomplete it fails, naming what
// is missing. Neither sends a request.
func TestListedSourceAbsentOrPartial(t *testing.T) {
	full := Settings{ClientID: "cid", TenantID: testTenant}
	tests := []struct {
		source      string
		s           Settings
		env         fakeEnv
		unavailable bool
		want        string
	}{
		{source: "env", s: full, unavailable: true, want: "neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set"},
		{source: "env", env: fakeEnv{envClientSecret: "secret-value"}, want: "AZURE_CLIENT_SECRET is set but AZURE_CLIENT_ID is not"},
		{source: "workload", s: full, unavailable: true, want: "neither AZURE_FEDERATED_TOKEN_FILE nor AZURE_FEDERATED_TOKEN is set"},
		{source: "workload", s: Settings{FederatedTokenFile: "/f"}, want: "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_CLIENT_ID is not"},
		{source: "github", s: full, unavailable: true, want: "ACTIONS_ID_TOKEN_REQUEST_URL is not set"},
		{source: "github", s: full, env: fakeEnv{envGitHubTokenURL: "https://gh/idtoken"}, want: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not"},
		{source: "github", env: fakeEnv{envGitHubTokenURL: "https://gh/idtoken", envGitHubTokenToken: "t"}, want: "AZURE_CLIENT_ID is not set"},
		{source: "pipelines", s: full, unavailable: true, want: "SYSTEM_OIDCREQUESTURI is not set"},
		// Every Azure Pipelines job has SYSTEM_OIDCREQUESTURI; only a task
		// with a service connection adds the rest.
		{source: "pipelines", s: full, env: fakeEnv{envPipelinesOIDCURI: "https://ado/oidc"}, unavailable: true, want: "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is not set"},
		{source: "pipelines", s: full, env: fakeEnv{envPipelinesOIDCURI: "https://ado/oidc", envPipelinesConnectionID: "c"}, want: "SYSTEM_ACCESSTOKEN is not"},
		{source: "pipelines", env: fakeEnv{envPipelinesOIDCURI: "https://ado/oidc", envPipelinesConnectionID: "c", envPipelinesAccessToken: "t"},
			want: "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is set without the service principal it stands for"},
	}
	for _, tc := range tests {
		t.Run(tc.source+": "+tc.want, func(t *testing.T) {
			tr := &noNetTransport{}
			srcs, err := New([]string{tc.source, "managed"}, tc.s, testOptions(tc.env, tr, &logBuffer{}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = srcs[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) != tc.unavailable || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q (unavailable %v)", err, tc.want, tc.unavailable)
			}
			if tr.count() != 0 {
				t.Errorf("%d requests sent", tr.count())
			}
		})
	}
}
