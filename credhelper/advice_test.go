package credhelper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
)

// sourceErr is an identity source's error as package identity fills it in.
func sourceErr(source, code string, kind token.Kind, reason string) error {
	return &token.SourceError{Kind: kind, Source: source, Code: code, Reason: reason,
		ClientID: "app", TenantID: "contoso.onmicrosoft.com", Endpoint: "https://login.microsoftonline.com/"}
}

// identityErr runs one identity source, by name, in env; its error comes
// before any network request.
func identityErr(t *testing.T, name string, s identity.Settings, env map[string]string) error {
	t.Helper()
	srcs, err := identity.New([]string{name}, s, identity.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srcs[0].EntraToken(context.Background(), token.PublicCloud(), token.DefaultScope)
	if err == nil {
		t.Fatalf("%s: want an error", name)
	}
	return err
}

// noSource is what a provider with these sources and skipped reasons
// returns when none is available.
func noSource(t *testing.T, sources []token.Source, skipped []error, cache token.Cache) error {
	t.Helper()
	p := token.NewProvider(token.ProviderOptions{Sources: sources, Skipped: skipped, Cache: cache})
	_, err := p.RefreshToken(context.Background(), token.Target{LoginServer: "myreg.azurecr.io", Cloud: token.PublicCloud()})
	if !errors.Is(err, token.ErrNoSource) {
		t.Fatalf("err = %v, want ErrNoSource", err)
	}
	return err
}

// TestAdvice keeps the CLI's hints that name its variables, config keys and
// help command: the token packages no longer give them, and these texts
// are what docker users read.
func TestAdvice(t *testing.T) {
	gh := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://runner.local/idtoken", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "job-token"}
	pipelines := map[string]string{"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/", "SYSTEM_ACCESSTOKEN": "job-token",
		"AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "conn"}
	pipelinesHalf := map[string]string{"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/", "SYSTEM_ACCESSTOKEN": "job-token",
		"AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "conn", "AZURESUBSCRIPTION_CLIENT_ID": "sc"}
	_, skipped := identity.Auto(identity.Settings{}, identity.Options{Getenv: func(k string) string { return pipelines[k] }})
	unavailable := &token.SourceError{Kind: token.KindUnavailable, Source: "managed", Reason: "no managed identity endpoint"}

	tests := []struct {
		name   string
		err    error
		a      adviceContext
		want   []string // substrings of the advised text
		exact  string   // the whole advised text, when set
		noneOf []string // substrings it must not have
	}{
		{name: "unknown application", err: sourceErr("env", "AADSTS700016", token.KindRefused, "Entra ID refused client \"app\": AADSTS700016"),
			want: []string{"AADSTS700016", "the client ID and tenant come from DOCKER_CREDENTIAL_ACR_CLIENT_ID / _TENANT_ID, clientID / tenantID in the config file, or AZURE_CLIENT_ID / AZURE_TENANT_ID"}},
		{name: "unknown tenant", err: sourceErr("workload", "AADSTS90002", token.KindRefused, "tenant not found"),
			want: []string{"the tenant comes from DOCKER_CREDENTIAL_ACR_TENANT_ID, tenantID in the config file, or AZURE_TENANT_ID"}},
		{name: "ACR audience unknown in the tenant", err: sourceErr("env", "AADSTS500011", token.KindRefused, "AADSTS500011: the resource principal was not found"),
			want: []string{"AADSTS500011", "DOCKER_CREDENTIAL_ACR_AUDIENCE=acr-then-arm", "or arm", "(audience: in the config file)"}},
		{name: "ACR audience disabled, from the Azure CLI", err: sourceErr("cli", "AADSTS50001", token.KindRefused, "the Azure CLI could not get a token"),
			want: []string{"DOCKER_CREDENTIAL_ACR_AUDIENCE=acr-then-arm"}},
		{name: "no valid tenant", err: sourceErr("github", "AADSTS900023", token.KindRefused, "invalid tenant"),
			want: []string{"set it with DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file, or AZURE_TENANT_ID)"}},
		{name: "a code without advice", err: sourceErr("env", "AADSTS7000215", token.KindRefused, "the client secret is wrong"),
			exact: "env source: the client secret is wrong"},
		{name: "CI token URL not https", err: identityErr(t, identity.GitHub, identity.Settings{ClientID: "app", TenantID: "contoso.onmicrosoft.com"}, gh),
			want: []string{"ACTIONS_ID_TOKEN_REQUEST_URL (http://runner.local/idtoken) is not https", "or choose another source; choose the sources with DOCKER_CREDENTIAL_ACR_SOURCES"}},
		{name: "pipelines connection without its principal", err: identityErr(t, identity.Pipelines, identity.Settings{}, pipelines),
			want: []string{"AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is set without the service principal it stands for",
				"a client ID and a tenant are set with DOCKER_CREDENTIAL_ACR_CLIENT_ID and DOCKER_CREDENTIAL_ACR_TENANT_ID, the config file, or AZURE_CLIENT_ID and AZURE_TENANT_ID"}},
		{name: "pipelines connection with half its pair", err: identityErr(t, identity.Pipelines, identity.Settings{ClientID: "app", TenantID: "t"}, pipelinesHalf),
			want: []string{"AZURESUBSCRIPTION_CLIENT_ID is set but AZURESUBSCRIPTION_TENANT_ID is not",
				"or neither to use the client ID and tenant given to the source",
				"DOCKER_CREDENTIAL_ACR_CLIENT_ID and DOCKER_CREDENTIAL_ACR_TENANT_ID"}},
		{name: "pipelines without the access token", err: identityErr(t, identity.Pipelines, identity.Settings{}, map[string]string{
			"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "conn",
			"AZURESUBSCRIPTION_CLIENT_ID": "sc", "AZURESUBSCRIPTION_TENANT_ID": "t"}),
			want: []string{"SYSTEM_ACCESSTOKEN is not"}, noneOf: []string{"DOCKER_CREDENTIAL_ACR"}},
		{name: "a provider's wrapping is seen through", err: fmt.Errorf("myreg.azurecr.io: %w", sourceErr("env", "AADSTS700016", token.KindRefused, "refused")),
			want: []string{"myreg.azurecr.io: env source: refused; the client ID and tenant come from DOCKER_CREDENTIAL_ACR_CLIENT_ID"}},
		{name: "no source, automatic order", err: noSource(t, []token.Source{failing{unavailable}}, nil, nil),
			exact: "no Azure identity available for myreg.azurecr.io: managed source: no managed identity endpoint; set DOCKER_CREDENTIAL_ACR_SOURCES to choose a source (see 'docker-credential-acr help')"},
		{name: "no source, sources chosen", err: noSource(t, []token.Source{failing{unavailable}}, nil, nil), a: adviceContext{sourcesChosen: true},
			exact: "no Azure identity available for myreg.azurecr.io: managed source: no managed identity endpoint; check the settings of the sources you chose (DOCKER_CREDENTIAL_ACR_SOURCES or the config file), or choose others (see 'docker-credential-acr help')"},
		{name: "no source, a skipped source's settings are incomplete", err: noSource(t, nil, skipped, nil),
			want: []string{"pipelines: AZURESUBSCRIPTION_SERVICE_CONNECTION_ID is set without the service principal",
				"; pipelines: a client ID and a tenant are set with DOCKER_CREDENTIAL_ACR_CLIENT_ID and DOCKER_CREDENTIAL_ACR_TENANT_ID",
				"; set DOCKER_CREDENTIAL_ACR_SOURCES to choose a source (see 'docker-credential-acr help')"}},
		{name: "no source, remembered", err: rememberedNoSource(t, unavailable),
			exact: "no Azure identity available for myreg.azurecr.io: none of the identity sources (managed) was available a moment ago, and that is remembered for 30s; " +
				"set DOCKER_CREDENTIAL_ACR_SOURCES to choose a source, or set DOCKER_CREDENTIAL_ACR_NO_CACHE=1 to retry at once"},
		{name: "no source, remembered, sources chosen", err: rememberedNoSource(t, unavailable), a: adviceContext{sourcesChosen: true},
			want: []string{"remembered for 30s; check the settings of the sources you chose (DOCKER_CREDENTIAL_ACR_SOURCES or the config file), or choose others, or set DOCKER_CREDENTIAL_ACR_NO_CACHE=1 to retry at once"}},
		{name: "an error with no facts", err: errors.New("plain"), exact: "plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := advise(tc.err, tc.a)
			text := got.Error()
			t.Logf("advised: %s", text)
			if tc.exact != "" && text != tc.exact {
				t.Errorf("advised text\n%s\nwant\n%s", text, tc.exact)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("advised text lacks %q", w)
				}
			}
			for _, w := range tc.noneOf {
				if strings.Contains(text, w) {
					t.Errorf("advised text has %q", w)
				}
			}
			// The cause comes first, unchanged, and stays in the chain.
			if !strings.HasPrefix(text, tc.err.Error()) || !errors.Is(got, tc.err) {
				t.Errorf("advise(%v) = %v: the cause is not kept", tc.err, got)
			}
			var se *token.SourceError
			if errors.As(tc.err, &se) && (!errors.As(got, &se) || se == nil) {
				t.Error("errors.As no longer finds the *token.SourceError")
			}
			if errors.Is(tc.err, token.ErrNoSource) != errors.Is(got, token.ErrNoSource) {
				t.Error("errors.Is(err, token.ErrNoSource) changed")
			}
		})
	}
	if advise(nil, adviceContext{}) != nil {
		t.Error("advise(nil) is not nil")
	}
}

// failing is a source that always fails with err.
type failing struct{ err error }

func (f failing) Name() string     { return "managed" }
func (f failing) Identity() string { return "managed:system" }
func (f failing) EntraToken(context.Context, token.Cloud, string) (token.EntraToken, error) {
	return token.EntraToken{}, f.err
}

// rememberedNoSource is the error of a second get within the negative
// cache's time after a first one found no source.
func rememberedNoSource(t *testing.T, err error) error {
	t.Helper()
	cache := &negativeCache{}
	noSource(t, []token.Source{failing{err}}, nil, cache)
	got := noSource(t, []token.Source{failing{errors.New("must not be tried")}}, nil, cache)
	var nse *token.NoSourceError
	if !errors.As(got, &nse) || !nse.Remembered || nse.TTL != token.DefaultNegativeTTL {
		t.Fatalf("err = %#v, want a remembered NoSourceError", got)
	}
	return got
}

// negativeCache remembers only "no source"; it is for one goroutine.
type negativeCache struct {
	token.NoCache
	until map[string]time.Time
}

func (c *negativeCache) GetNegative(_ context.Context, set string) bool {
	return time.Now().Before(c.until[set])
}

func (c *negativeCache) PutNegative(_ context.Context, set string, until time.Time) error {
	if c.until == nil {
		c.until = map[string]time.Time{}
	}
	c.until[set] = until
	return nil
}

// TestAdviceThroughGet runs a get whose Azure CLI answers AADSTS500011:
// the text docker prints names the audience setting, as it did when the
// token package gave that advice itself.
func TestAdviceThroughGet(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'ERROR: AADSTS500011: The resource principal named https://containerregistry.azure.net was not found in the tenant.' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	env := map[string]string{config.EnvSources: "cli", config.EnvConfig: filepath.Join(dir, "absent.yaml")}
	h := New(Options{Getenv: func(k string) string { return env[k] }})
	_, _, err := h.GetContext(context.Background(), "myreg.azurecr.io")
	if err == nil {
		t.Fatal("want an error")
	}
	t.Logf("error: %v", err)
	for _, w := range []string{"myreg.azurecr.io: cli source: the Azure CLI could not get a token", "AADSTS500011",
		"DOCKER_CREDENTIAL_ACR_AUDIENCE=acr-then-arm", "or arm", "(audience: in the config file)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	var se *token.SourceError
	if !errors.As(err, &se) || se.Kind != token.KindRefused || se.Code != "AADSTS500011" || se.Login != "az login" {
		t.Errorf("SourceError = %+v, want kind refused, code AADSTS500011, login \"az login\"", se)
	}
}

// TestDeadlineAdvice: where the call's own deadline ended it, the advice
// names what hung, from the error's facts, and the setting to raise, as
// it was set; a timeout that was not ours (an embedder's, or one
// request's own) gets no such advice.
func TestDeadlineAdvice(t *testing.T) {
	imds := fmt.Errorf("myreg.azurecr.io: %w", &token.SourceError{Kind: token.KindCanceled, Source: "managed",
		Endpoint: "IMDS at 169.254.169.254", Reason: "IMDS did not answer before the deadline", Err: context.DeadlineExceeded})
	exchange := &acr.Error{Kind: acr.KindNetwork, LoginServer: "myreg.azurecr.io", Step: "exchange",
		Endpoint: "https://myreg.azurecr.io/oauth2/exchange", Tries: 1, Err: context.DeadlineExceeded}
	bare := fmt.Errorf("myreg.azurecr.io: %w", context.DeadlineExceeded)
	entry := `the entry for "myreg.azurecr.io" in the config file /etc/acr.yaml`
	for _, tt := range []struct {
		name string
		err  error
		a    adviceContext
		want string // "" for no deadline advice
	}{
		{"IMDS hung, default", imds, adviceContext{deadlinePassed: true, timeout: 10 * time.Second, timeoutFrom: "the default"},
			"the managed source's IMDS at 169.254.169.254 did not answer within the 10s this helper may take; if it is only slow, raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 10s, the default) or timeout: in the config file"},
		{"exchange hung, variable", exchange, adviceContext{deadlinePassed: true, timeout: 2 * time.Second, timeoutFrom: config.EnvTimeout},
			"the registry's exchange (https://myreg.azurecr.io/oauth2/exchange) did not answer within the 2s this helper may take; if it is only slow, raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 2s)"},
		{"config entry", exchange, adviceContext{deadlinePassed: true, timeout: 20 * time.Second, timeoutFrom: entry},
			"raise timeout: in " + entry + " (now 20s), or set DOCKER_CREDENTIAL_ACR_TIMEOUT"},
		{"no facts", bare, adviceContext{deadlinePassed: true, timeout: 10 * time.Second, timeoutFrom: "the default"},
			"the step in progress did not answer within the 10s"},
		{"not our deadline", exchange, adviceContext{timeout: 10 * time.Second, timeoutFrom: "the default"}, ""},
	} {
		got := advise(tt.err, tt.a).Error()
		if tt.want == "" {
			if strings.Contains(got, config.EnvTimeout) {
				t.Errorf("%s: %q names %s", tt.name, got, config.EnvTimeout)
			}
			continue
		}
		if !strings.HasPrefix(got, tt.err.Error()+"; ") || !strings.Contains(got, tt.want) {
			t.Errorf("%s:\n got  %q\n want %q after the cause", tt.name, got, tt.want)
		}
	}
}
