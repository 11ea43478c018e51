package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// env is a fake environment for the injected getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// privateDir is a temporary directory only this user may write, whatever
// the umask: t.TempDir's innermost directory is created 0777 &^ umask.
func privateDir(tb testing.TB) string {
	tb.Helper()
	d := tb.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		tb.Fatal(err)
	}
	return d
}

// privateTestdata copies testdata/config/name into a private directory:
// a checkout made with umask 002 has group-writable files, which
// LoadConfig rightly refuses.
func privateTestdata(tb testing.TB, name string) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "config", name))
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(privateDir(tb), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return c
}

func TestConfigPath(t *testing.T) {
	tests := []struct {
		name string
		env  env
		want string
	}{
		{"explicit", env{EnvConfig: "/etc/acr.yaml", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/etc/acr.yaml"},
		{"xdg", env{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, filepath.Join("/x", "docker-credential-acr", "config.yaml")},
		{"relative xdg is ignored", env{"XDG_CONFIG_HOME": "rel", "HOME": "/h"}, filepath.Join("/h", ".config", "docker-credential-acr", "config.yaml")},
		{"home", env{"HOME": "/h"}, filepath.Join("/h", ".config", "docker-credential-acr", "config.yaml")},
		{"nothing", env{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Path(tt.env.get); got != tt.want {
				t.Errorf("ConfigPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingIsEmpty(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "nope", "config.yaml")} {
		c, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%q): %v", p, err)
		}
		if c.Loaded() || len(c.CloudSuffixes()) != 0 {
			t.Errorf("Load(%q) = %+v, want empty", p, c)
		}
		s, err := c.Resolve("myreg.azurecr.io", env{}.get)
		if err != nil {
			t.Fatal(err)
		}
		if s.Sources != nil || s.Audience != AudienceACR || s.UsernameForm != UsernameToken || s.Match != "" || !slices.Equal(s.Scopes, []string{token.DefaultScope}) {
			t.Errorf("empty config resolves to %+v", s)
		}
	}
}

func TestLoadConfigExample(t *testing.T) {
	p := privateTestdata(t, "example.yaml")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Loaded() || c.Path() != p {
		t.Errorf("Loaded=%v Path=%q", c.Loaded(), c.Path())
	}
	clouds := c.CloudSuffixes()
	want := []loginserver.CloudSuffix{{
		Suffix: "azurecr.contoso.local",
		Cloud:  token.Cloud{Name: "stack", AuthorityHost: "https://login.contoso.local/", ARMScope: "https://management.contoso.local/.default"},
		Scope:  "https://containerregistry.contoso.local/.default",
	}}
	if !slices.Equal(clouds, want) {
		t.Errorf("clouds = %+v, want %+v", clouds, want)
	}
	reg, err := loginserver.Parse("https://edgereg.azurecr.contoso.local", clouds...)
	if err != nil {
		t.Fatalf("custom cloud host not recognised: %v", err)
	}
	if reg.Cloud.Name != "stack" || reg.Scope != want[0].Scope || reg.Cloud.ARMScope != want[0].Cloud.ARMScope {
		t.Errorf("custom registry = %+v", reg)
	}

	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	acr := []string{token.DefaultScope}
	tests := []struct {
		host string
		want Settings
	}{
		{"prodreg.azurecr.io", Settings{Sources: []string{"managed"}, ClientID: "11111111-1111-1111-1111-111111111111", TenantID: tenant, Audience: AudienceACRThenARM, UsernameForm: UsernameToken, Match: "prodreg.azurecr.io", Scopes: []string{token.DefaultScope, publicARM}}},
		{"staging-e7ggejfuhzhgedc8.azurecr.io", Settings{Sources: []string{"managed"}, ResourceID: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/staging-puller", TenantID: tenant, Audience: AudienceACR, UsernameForm: UsernameToken, Match: "staging-e7ggejfuhzhgedc8.azurecr.io", Scopes: acr}},
		{"otherreg.azurecr.io", Settings{Sources: []string{"workload"}, ClientID: "33333333-3333-3333-3333-333333333333", TenantID: tenant, Audience: AudienceACR, UsernameForm: UsernameToken, Match: "*.azurecr.io", Scopes: acr}},
		{"edgereg.azurecr.contoso.local", Settings{Sources: []string{"env"}, TenantID: "contoso.onmicrosoft.com", Audience: AudienceACR, UsernameForm: UsernameZeroGUID, Match: "edgereg.azurecr.contoso.local", Scopes: []string{"https://containerregistry.contoso.local/.default"}}},
		// The one-label wildcard does not reach regional hosts or other clouds.
		{"otherreg.eastus.geo.azurecr.io", Settings{Sources: []string{"workload", "managed", "cli"}, TenantID: tenant, Audience: AudienceACR, UsernameForm: UsernameToken, Scopes: acr}},
		{"otherreg.azurecr.cn", Settings{Sources: []string{"workload", "managed", "cli"}, TenantID: tenant, Audience: AudienceACR, UsernameForm: UsernameToken, Scopes: acr}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := c.Resolve(tt.host, env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			if !settingsEqual(got, tt.want) {
				t.Errorf("Resolve =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// The ARM scopes of the built-in clouds, written out here so that a change
// in where they come from cannot change them unnoticed.
const (
	publicARM = "https://management.azure.com/.default"
	chinaARM  = "https://management.core.chinacloudapi.cn/.default"
	usgovARM  = "https://management.core.usgovcloudapi.net/.default"
)

func settingsEqual(a, b Settings) bool {
	return slices.Equal(a.Sources, b.Sources) && (a.Sources == nil) == (b.Sources == nil) &&
		a.ClientID == b.ClientID && a.ResourceID == b.ResourceID && a.ObjectID == b.ObjectID &&
		a.TenantID == b.TenantID && a.Scope == b.Scope && a.Audience == b.Audience &&
		a.UsernameForm == b.UsernameForm && a.Match == b.Match && slices.Equal(a.Scopes, b.Scopes)
}

func TestLoadConfigErrorNamesFileAndLine(t *testing.T) {
	p := privateTestdata(t, "unknown-key.yaml")
	_, err := Load(p)
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	for _, want := range []string{p, "line 5", `unknown key "clientId"`, `did you mean "clientID"`, "valid keys are match, sources, clientID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestLoadConfigFileProblems(t *testing.T) {
	dir := privateDir(t)
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want string
		skip bool
	}{
		{"directory", dir, "is a directory", false},
		{"world-writable", write("ww.yaml", "default: {sources: [cli]}\n", 0o666), "writable by every user", runtime.GOOS == "windows"},
		{"group-writable", write("gw.yaml", "default: {sources: [cli]}\n", 0o664), "writable by its group", runtime.GOOS == "windows"},
		{"too large", write("big.yaml", "# "+strings.Repeat("x", maxConfigSize)+"\n", 0o600), "larger than", false},
		{"syntax", write("syntax.yaml", "default:\n  sources: [cli\n", 0o600), "not valid YAML", false},
		{"one problem", write("one.yaml", "default:\n  audience: x\n", 0o600), "line 2: audience: \"x\" is not one of acr, arm, acr-then-arm; use one of those, or remove the setting for acr (fix it, or set DOCKER_CREDENTIAL_ACR_CONFIG to another file)", false},
		{"several problems", write("several.yaml", "default:\n  audience: x\n  username: y\n", 0o600), "has 2 problems (fix them, or set DOCKER_CREDENTIAL_ACR_CONFIG to another file):\n  line 2: audience: \"x\" is not one of acr, arm, acr-then-arm; use one of those, or remove the setting for acr\n  line 3: username: \"y\" is not token or zero-guid", false},
		{"unreadable", write("unreadable.yaml", "default: {}\n", 0o000), "permission denied", runtime.GOOS == "windows" || os.Geteuid() == 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("not meaningful on this platform or as root")
			}
			_, err := Load(tt.path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q should mention %q and the file", err, tt.want)
			}
		})
	}
	// Readable by others is fine: the file holds IDs, not secrets. Empty
	// and comment-only files are empty configs.
	for _, p := range []string{write("gr.yaml", "default: {sources: [cli]}\n", 0o644), write("empty.yaml", "", 0o600), write("comments.yaml", "# nothing yet\n", 0o600)} {
		if _, err := Load(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top-level key", "defaults:\n  sources: [cli]\n", []string{"line 1", `unknown key "defaults" at the top level`, "valid keys are default, registries, clouds, mirrors"}},
		{"unknown key in default", "default:\n  source: [cli]\n", []string{"line 2", `unknown key "source"`}},
		{"unknown key in cloud", "clouds:\n  - name: s\n    suffix: a.b.example\n    authority: https://x/\n", []string{"line 4", `unknown key "authority" in a cloud entry`}},
		{"bad audience", "registries:\n  - match: myreg.azurecr.io\n    audience: management\n", []string{"line 3: audience: \"management\" is not one of acr, arm, acr-then-arm; use one of those, or remove the setting for acr"}},
		{"scope and audience", "default:\n  scope: https://management.azure.com/.default\n  audience: arm\n", []string{"line 2", "scope and audience are alternatives"}},
		{"bad scope", "default:\n  scope: \"https://a/.default https://b/.default\"\n", []string{"line 2", "without spaces"}},
		{"bad username", "default:\n  username: admin\n", []string{"line 2: username: \"admin\" is not token or zero-guid; use one of those, or remove the setting for token"}},
		{"unknown source", "default:\n  sources: [managed, imds]\n", []string{"line 2", `unknown identity source "imds"`, strings.Join(sourceNames(), ", ")}},
		{"unknown source in string", "default:\n  sources: managed,kubelet\n", []string{"line 2", `"kubelet"`}},
		{"repeated source", "default:\n  sources: [cli, cli]\n", []string{"line 2", "listed twice"}},
		{"empty sources", "default:\n  sources: []\n", []string{"line 2: sources: no identity source is named; name one or more of " + strings.Join(sourceNames(), ", ") + ", or remove the setting for the automatic order"}},
		{"sources wrong type", "default:\n  sources: {a: b}\n", []string{"line 2", "sources must be a list of source names"}},
		{"number for string", "default:\n  clientID: 12345\n", []string{"line 2", "clientID must be a string (quote it"}},
		{"null value", "default:\n  clientID:\n  sources: [cli]\n", []string{"line 2", "clientID has no value"}},
		{"empty string", "default:\n  clientID: \"\"\n", []string{"line 2", "clientID is empty"}},
		{"bad client id", "default:\n  clientID: my-app\n", []string{"line 2", "not a GUID"}},
		{"bad object id", "default:\n  objectID: 1234-abc\n", []string{"line 2: objectID: not a GUID; use the principal (object) ID of the managed identity"}},
		{"bad resource id", "default:\n  resourceID: /subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a\n", []string{"line 2", "user-assigned identity"}},
		{"bad tenant", "default:\n  tenantID: \"contoso tenant\"\n", []string{"line 2", "not a tenant ID"}},
		{"two identities", "default:\n  clientID: 11111111-1111-1111-1111-111111111111\n  objectID: 22222222-2222-2222-2222-222222222222\n", []string{"line 2", "alternatives; set one"}},
		{"resource id without managed", "registries:\n  - match: myreg.azurecr.io\n    sources: [workload]\n    resourceID: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id\n", []string{"line 4", "does not include managed"}},
		{"match in default", "default:\n  match: myreg.azurecr.io\n", []string{"line 2", "default entry applies to every registry"}},
		{"entry without match", "registries:\n  - sources: [cli]\n", []string{"registries entry 1 has no match"}},
		{"pattern *.*.io", "registries:\n  - match: \"*.*.io\"\n    sources: [cli]\n", []string{"line 2", `pattern "*.*.io"`}},
		{"pattern evil*", "registries:\n  - match: \"evil*\"\n    sources: [cli]\n", []string{"line 2", "may only stand for the whole first label"}},
		{"pattern my*", "registries:\n  - match: \"my*.azurecr.io\"\n    sources: [cli]\n", []string{"line 2", "may only stand for the whole first label"}},
		{"pattern *", "registries:\n  - match: \"*\"\n    sources: [cli]\n", []string{"line 2", "may only stand"}},
		{"pattern **", "registries:\n  - match: \"**.azurecr.io\"\n    sources: [cli]\n", []string{"line 2", "may only stand"}},
		{"pattern *.io", "registries:\n  - match: \"*.io\"\n    sources: [cli]\n", []string{"line 2", `pattern "*.io"`}},
		{"pattern two labels", "registries:\n  - match: \"*.myreg.azurecr.io\"\n    sources: [cli]\n", []string{"line 2", "login-server suffix"}},
		{"pattern data endpoint", "registries:\n  - match: \"*.eastus.data.azurecr.io\"\n    sources: [cli]\n", []string{"line 2", "login-server suffix"}},
		{"pattern trailing dot", "registries:\n  - match: \"*.azurecr.io.\"\n    sources: [cli]\n", []string{"line 2", "login-server suffix"}},
		{"pattern custom cloud undeclared", "registries:\n  - match: \"*.azurecr.contoso.local\"\n    sources: [cli]\n", []string{"line 2", "login-server suffix"}},
		{"match not acr", "registries:\n  - match: docker.io\n    sources: [cli]\n", []string{"line 2", `match "docker.io" is not an ACR login server`, "not under a known ACR suffix"}},
		{"match look-alike", "registries:\n  - match: myreg.azurecr.io.evil.com\n    sources: [cli]\n", []string{"line 2", "look-alike"}},
		{"duplicate match", "registries:\n  - match: myreg.azurecr.io\n    sources: [cli]\n  - match: https://MyReg.azurecr.io/\n    sources: [managed]\n", []string{"line 4", "repeats the entry at line 2"}},
		{"duplicate wildcard", "registries:\n  - match: \"*.azurecr.io\"\n    sources: [cli]\n  - match: \"*.AzureCR.io\"\n    sources: [managed]\n", []string{"line 4", "repeats the entry at line 2"}},
		{"null in a list", "default:\n  sources: [cli, ~]\n", []string{"line 2", "sources must list source names"}},
		{"null in a cloud", "clouds:\n  - name: stack\n    suffix:\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "suffix has no value"}},
		{"alias to null", "default:\n  sources: [cli]\nregistries:\n  - match: regone.azurecr.io\n    scope: &n ~\n  - match: regtwo.azurecr.io\n    scope: *n\n", []string{"line 5: scope has no value", "line 7: scope has no value"}},
		{"registries not a list", "registries: myreg.azurecr.io\n", []string{"line 1", "a list of registry entries"}},
		{"two documents", "default: {sources: [cli]}\n---\ndefault: {sources: [managed]}\n", []string{"more than one YAML document"}},
		{"cloud http authority", "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: http://login.contoso.local/\n", []string{"line 4", "must be https"}},
		{"cloud authority userinfo", "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://u:p@login.contoso.local/\n", []string{"line 4", "userinfo"}},
		{"cloud authority query", "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/?x=1\n", []string{"line 4", "query"}},
		{"cloud no authority", "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n", []string{"line 2", "no authorityHost"}},
		{"cloud suffix single label", "clouds:\n  - name: stack\n    suffix: io\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "at least two labels"}},
		{"cloud suffix public", "clouds:\n  - name: stack\n    suffix: co.uk\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "public suffix"}},
		{"cloud suffix builtin", "clouds:\n  - name: stack\n    suffix: azurecr.io\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "overlaps the built-in suffix"}},
		{"cloud suffix under builtin", "clouds:\n  - name: stack\n    suffix: x.azurecr.us\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "overlaps the built-in suffix"}},
		{"cloud suffix leading dot", "clouds:\n  - name: stack\n    suffix: .azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "leading"}},
		{"cloud suffix wildcard", "clouds:\n  - name: stack\n    suffix: \"*.contoso.local\"\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "leading"}},
		{"cloud suffix upper case", "clouds:\n  - name: stack\n    suffix: AzureCR.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "lower case"}},
		{"cloud suffix ip", "clouds:\n  - name: stack\n    suffix: 10.0.0.1\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "numeric"}},
		{"cloud suffix punycode", "clouds:\n  - name: stack\n    suffix: xn--cntoso-9ua.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 3", "at least two labels"}},
		{"cloud builtin name", "clouds:\n  - name: public\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 2", "built in"}},
		{"cloud bad name", "clouds:\n  - name: Stack Hub\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 2", "cloud name"}},
		{"cloud no name", "clouds:\n  - suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 2", "has no name"}},
		{"cloud no suffix", "clouds:\n  - name: stack\n    authorityHost: https://login.contoso.local/\n", []string{"line 2", "has no suffix"}},
		{"cloud overlap", "clouds:\n  - name: a\n    suffix: contoso.local\n    authorityHost: https://login.contoso.local/\n  - name: b\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 6", "overlaps the suffix"}},
		{"cloud duplicate name", "clouds:\n  - name: a\n    suffix: a.contoso.local\n    authorityHost: https://login.contoso.local/\n  - name: a\n    suffix: b.contoso.local\n    authorityHost: https://login.contoso.local/\n", []string{"line 5", "repeats the cloud at line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "credhelper.") || strings.Contains(err.Error(), "config.") {
				t.Errorf("error %q names Go types", err)
			}
		})
	}
}

// A secret pasted under the wrong key must not be repeated in an error,
// which docker prints and logs keep.
func TestConfigErrorsDoNotRepeatIDValues(t *testing.T) {
	const secret = "Qx8~s3cretV4lue.abc"
	for _, y := range []string{
		"default:\n  clientID: " + secret + "\n",
		"default:\n  objectID: " + secret + "\n",
		"default:\n  tenantID: \"" + secret + " x\"\n",
		"default:\n  resourceID: " + secret + "\n",
	} {
		_, err := Parse([]byte(y))
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %v for %q", err, y)
		}
	}
	for _, e := range []env{{EnvClientID: secret}, {EnvTenantID: secret + " x"}} {
		_, err := (&Config{}).Resolve("myreg.azurecr.io", e.get)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %v for %v", err, e)
		}
	}
}

func TestParseConfigReportsAllProblems(t *testing.T) {
	_, err := Parse([]byte("default:\n  audience: x\nregistries:\n  - match: evil*\n    username: y\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"line 2", "line 4", "line 5"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q misses %q", err, w)
		}
	}
}

func TestParseConfigAccepts(t *testing.T) {
	c := mustParse(t, `
default:
  sources: "Managed, CLI"
  username: "<token>"
registries:
  - match: "*.eastus.geo.azurecr.io"
    objectID: 22222222-2222-2222-2222-222222222222
  - match: "*.AZURECR.cn"
    audience: ARM
    username: 00000000-0000-0000-0000-000000000000
clouds:
  - name: stack-hub
    suffix: azsacr.local.azurestack.external
    authorityHost: https://adfs.local.azurestack.external/adfs
`)
	s, err := c.Resolve("xxxxx.eastus.geo.azurecr.io", env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Sources, []string{"managed", "cli"}) || s.ObjectID == "" || s.Match != "*.eastus.geo.azurecr.io" {
		t.Errorf("regional wildcard: %+v", s)
	}
	s, _ = c.Resolve("xxxxx.azurecr.cn", env{}.get)
	if s.Audience != AudienceARM || s.UsernameForm != UsernameZeroGUID {
		t.Errorf("china wildcard: %+v", s)
	}
	cl := c.CloudSuffixes()
	if len(cl) != 1 || cl[0].Cloud.AuthorityHost != "https://adfs.local.azurestack.external/adfs/" || cl[0].Scope != token.DefaultScope || cl[0].Cloud.ARMScope != "" {
		t.Errorf("cloud = %+v", cl)
	}
	// CloudSuffixes hands out a copy.
	cl[0].Suffix = "evil.com"
	if c.CloudSuffixes()[0].Suffix != "azsacr.local.azurestack.external" {
		t.Error("CloudSuffixes exposes the config's own slice")
	}
}

func TestParseConfigAliases(t *testing.T) {
	c := mustParse(t, "registries:\n  - match: regone.azurecr.io\n    clientID: &id 11111111-1111-1111-1111-111111111111\n  - match: regtwo.azurecr.io\n    clientID: *id\n")
	a, _ := c.Resolve("regone.azurecr.io", env{}.get)
	b, _ := c.Resolve("regtwo.azurecr.io", env{}.get)
	if a.ClientID != "11111111-1111-1111-1111-111111111111" || b.ClientID != a.ClientID {
		t.Errorf("aliased clientID: %q, %q", a.ClientID, b.ClientID)
	}
}

func TestResolvePrecedence(t *testing.T) {
	c := mustParse(t, `
default:
  sources: [cli]
  clientID: aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa
  tenantID: default.onmicrosoft.com
  audience: arm
  username: zero-guid
registries:
  - match: exactreg.azurecr.io
    sources: [managed]
    resourceID: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/exact
    scope: https://example.com/.default
  - match: "*.azurecr.io"
    sources: [workload]
    clientID: bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb
  - match: barereg.azurecr.us
    tenantID: bare.onmicrosoft.com
`)
	const (
		idA    = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
		idB    = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
		idEnv  = "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee"
		idAmb  = "cccccccc-cccc-cccc-cccc-cccccccccccc"
		exRID  = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/exact"
		exScop = "https://example.com/.default"
	)
	ambient := env{"AZURE_CLIENT_ID": idAmb, "AZURE_TENANT_ID": "ambient.onmicrosoft.com"}
	tests := []struct {
		name string
		host string
		env  env
		want Settings
	}{
		{"exact entry beats wildcard and default", "exactreg.azurecr.io", ambient,
			Settings{Sources: []string{"managed"}, ResourceID: exRID, TenantID: "default.onmicrosoft.com", Scope: exScop, UsernameForm: UsernameZeroGUID, Match: "exactreg.azurecr.io", Scopes: []string{exScop}}},
		{"wildcard beats default", "otherreg.azurecr.io", ambient,
			Settings{Sources: []string{"workload"}, ClientID: idB, TenantID: "default.onmicrosoft.com", Audience: AudienceARM, UsernameForm: UsernameZeroGUID, Match: "*.azurecr.io", Scopes: []string{publicARM}}},
		{"default fills what the entry leaves out", "barereg.azurecr.us", ambient,
			Settings{Sources: []string{"cli"}, ClientID: idA, TenantID: "bare.onmicrosoft.com", Audience: AudienceARM, UsernameForm: UsernameZeroGUID, Match: "barereg.azurecr.us", Scopes: []string{usgovARM}}},
		{"default alone", "xxxxx.azurecr.cn", ambient,
			Settings{Sources: []string{"cli"}, ClientID: idA, TenantID: "default.onmicrosoft.com", Audience: AudienceARM, UsernameForm: UsernameZeroGUID, Scopes: []string{chinaARM}}},
		{"explicit environment beats everything", "exactreg.azurecr.io", env{
			EnvSources: "github, pipelines", EnvClientID: idEnv, EnvTenantID: "env.onmicrosoft.com",
			EnvScope: "https://management.azure.com/.default", EnvAudience: "acr", EnvUsername: "token",
			"AZURE_CLIENT_ID": idAmb, "AZURE_TENANT_ID": "ambient.onmicrosoft.com",
		}, Settings{Sources: []string{"github", "pipelines"}, ClientID: idEnv, TenantID: "env.onmicrosoft.com", Scope: publicARM, UsernameForm: UsernameToken, Match: "exactreg.azurecr.io", Scopes: []string{publicARM}}},
		{"audience variable beats the file's scope", "exactreg.azurecr.io", env{EnvAudience: "acr-then-arm"},
			Settings{Sources: []string{"managed"}, ResourceID: exRID, TenantID: "default.onmicrosoft.com", Audience: AudienceACRThenARM, UsernameForm: UsernameZeroGUID, Match: "exactreg.azurecr.io", Scopes: []string{token.DefaultScope, publicARM}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Resolve(tt.host, tt.env.get)
			if err != nil {
				t.Fatal(err)
			}
			if !settingsEqual(got, tt.want) {
				t.Errorf("Resolve =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}

	// Without a config file the ambient variables apply.
	var empty *Config
	got, err := empty.Resolve("myreg.azurecr.io", ambient.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{ClientID: idAmb, TenantID: "ambient.onmicrosoft.com", Audience: AudienceACR, UsernameForm: UsernameToken, Scopes: []string{token.DefaultScope}}
	if !settingsEqual(got, want) {
		t.Errorf("nil config: %+v, want %+v", got, want)
	}
}

func TestResolveRejectsBadEnvironment(t *testing.T) {
	for _, tt := range []struct {
		env  env
		want string
	}{
		{env{EnvSources: "managed,imds"}, `unknown identity source "imds": valid sources are ` + strings.Join(sourceNames(), ", ")},
		{env{EnvSources: " , "}, "no identity source is named"},
		{env{EnvSources: "cli,CLI"}, "listed twice"},
		{env{EnvClientID: "app"}, "DOCKER_CREDENTIAL_ACR_CLIENT_ID: not a GUID; use the client (application) ID of the identity"},
		{env{EnvTenantID: "a b"}, "not a tenant ID"},
		{env{EnvAudience: "graph"}, "not one of acr, arm, acr-then-arm"},
		{env{EnvScope: "a b"}, "without spaces"},
		{env{EnvUsername: "root"}, "not token or zero-guid"},
	} {
		_, err := (&Config{}).Resolve("myreg.azurecr.io", tt.env.get)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.env, err, tt.want)
		}
	}
}

func TestSelector(t *testing.T) {
	c := mustParse(t, `
registries:
  - match: regone.azurecr.io
    sources: [managed]
    clientID: 11111111-1111-1111-1111-111111111111
  - match: regtwo.azurecr.io
    sources: [managed]
    clientID: 22222222-2222-2222-2222-222222222222
  - match: regthree.azurecr.io
    sources: [managed]
    clientID: 11111111-1111-1111-1111-111111111111
`)
	sel := func(host string, e env) string {
		s, err := c.Resolve(host, e.get)
		if err != nil {
			t.Fatal(err)
		}
		return s.Selector()
	}
	one, two, three := sel("regone.azurecr.io", env{}), sel("regtwo.azurecr.io", env{}), sel("regthree.azurecr.io", env{})
	if one == two {
		t.Errorf("two identities share a selector: %q", one)
	}
	if one != three {
		t.Errorf("one identity, two selectors: %q vs %q", one, three)
	}
	if got, want := one, "sources=managed;client_id=11111111-1111-1111-1111-111111111111;resource_id=;object_id=;tenant=;audience=acr;scope="; got != want {
		t.Errorf("selector changed format (cache keys would all miss):\n got %q\nwant %q", got, want)
	}
	// Every field that selects the identity or the token changes it.
	base := Settings{Audience: AudienceACR, UsernameForm: UsernameToken}
	seen := map[string]string{base.Selector(): "base"}
	for name, s := range map[string]Settings{
		"auto vs listed": {Sources: []string{"workload", "managed", "cli"}, Audience: AudienceACR},
		"order":          {Sources: []string{"managed", "workload", "cli"}, Audience: AudienceACR},
		"client":         {ClientID: "x", Audience: AudienceACR},
		"resource":       {ResourceID: "x", Audience: AudienceACR},
		"object":         {ObjectID: "x", Audience: AudienceACR},
		"tenant":         {TenantID: "x", Audience: AudienceACR},
		"audience":       {Audience: AudienceARM},
		"scope":          {Scope: "x"},
		"forged field":   {ClientID: "x;tenant=y", Audience: AudienceACR},
		"forged field 2": {ClientID: "x", TenantID: "y", Audience: AudienceACR},
	} {
		k := s.Selector()
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s share selector %q", name, prev, k)
		}
		seen[k] = name
	}
	// The username form does not change the token.
	if (Settings{Audience: AudienceACR, UsernameForm: UsernameZeroGUID}).Selector() != base.Selector() {
		t.Error("username form changes the selector")
	}
	// Secrets from the environment never reach it.
	s, _ := (&Config{}).Resolve("myreg.azurecr.io", env{"AZURE_CLIENT_SECRET": "sup3rs3cret", "AZURE_CLIENT_CERTIFICATE_PASSWORD": "sup3rs3cret", "SYSTEM_ACCESSTOKEN": "sup3rs3cret", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "sup3rs3cret"}.get)
	if strings.Contains(s.Selector(), "sup3rs3cret") || strings.Contains(s.Selector(), "s3cret") {
		t.Errorf("selector holds a secret: %q", s.Selector())
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources(" Workload ,managed,,cli ")
	if err != nil || !slices.Equal(got, []string{"workload", "managed", "cli"}) {
		t.Errorf("ParseSources = %v, %v", got, err)
	}
	for _, s := range sourceNames() {
		if _, err := ParseSources(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func BenchmarkLoadConfig(b *testing.B) {
	b.Run("missing", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "config.yaml")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Load(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("example", func(b *testing.B) {
		p := privateTestdata(b, "example.yaml")
		b.ReportAllocs()
		for b.Loop() {
			c, err := Load(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Resolve("prodreg.azurecr.io", env{}.get); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// stackClouds declares the custom cloud "stack" with or without an ARM
// scope, and "edge", which always has one.
func stackClouds(withARM bool) string {
	y := "clouds:\n  - name: stack\n    suffix: azurecr.contoso.local\n    authorityHost: https://login.contoso.local/\n"
	if withARM {
		y += "    armScope: https://management.contoso.local/.default\n"
	}
	return y + "  - name: edge\n    suffix: azurecr.edge.example\n    authorityHost: https://login.edge.example/\n    armScope: https://management.edge.example/.default\n"
}

// TestAudienceNeedsARMScope: the ARM audience in a custom cloud without
// armScope is refused where it is chosen: at load time for an entry (whose
// match reaches that cloud only), in Resolve for the default entry and
// the environment. Nothing ever asks Entra for an empty scope.
func TestAudienceNeedsARMScope(t *testing.T) {
	t.Run("entry", func(t *testing.T) {
		for _, tt := range []struct{ match, audience, line string }{
			{"edgereg.azurecr.contoso.local", "arm", "line 3"},
			{"edgereg.azurecr.contoso.local", "acr-then-arm", "line 3"},
			{"\"*.azurecr.contoso.local\"", "arm", "line 3"},
			{"\"*.westus.geo.azurecr.contoso.local\"", "acr-then-arm", "line 3"},
		} {
			y := "registries:\n  - match: " + tt.match + "\n    audience: " + tt.audience + "\n" + stackClouds(false)
			_, err := Parse([]byte(y))
			if err == nil {
				t.Errorf("%s with audience %s accepted without armScope", tt.match, tt.audience)
				continue
			}
			for _, w := range []string{tt.line, "audience " + tt.audience, `needs the Azure Resource Manager scope of cloud "stack", which has none; add armScope to cloud "stack" under clouds, or use audience acr`} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if _, err := Parse([]byte("registries:\n  - match: " + tt.match + "\n    audience: " + tt.audience + "\n" + stackClouds(true))); err != nil {
				t.Errorf("with armScope: %v", err)
			}
		}
		// Entries for other clouds, or with an explicit scope, are fine.
		mustParse(t, "registries:\n  - match: edgereg.azurecr.edge.example\n    audience: arm\n  - match: \"*.azurecr.io\"\n    audience: arm\n  - match: scopereg.azurecr.contoso.local\n    scope: https://management.contoso.local/.default\n"+stackClouds(false))
	})

	c := mustParse(t, "default:\n  audience: acr-then-arm\nregistries:\n  - match: acrreg.azurecr.contoso.local\n    audience: acr\n"+stackClouds(false))
	c.path = "/etc/acr.yaml"
	for _, tt := range []struct {
		name, host string
		env        env
		want       []string // an error's fragments; nil means success
		scopes     []string
	}{
		{"default entry", "stackreg.azurecr.contoso.local", env{}, []string{
			"stackreg.azurecr.contoso.local: audience acr-then-arm (from the default entry of the config file /etc/acr.yaml) needs the Azure Resource Manager scope of cloud \"stack\", which has none; add armScope to cloud \"stack\" in the config file /etc/acr.yaml, or use audience acr",
		}, nil},
		{"environment", "acrreg.azurecr.contoso.local", env{EnvAudience: "arm"}, []string{
			"acrreg.azurecr.contoso.local: audience arm (from DOCKER_CREDENTIAL_ACR_AUDIENCE) needs the Azure Resource Manager scope of cloud \"stack\"", "add armScope to cloud \"stack\"", "or use audience acr",
		}, nil},
		{"environment, acr-then-arm", "acrreg.azurecr.contoso.local", env{EnvAudience: "ACR-then-ARM"}, []string{"from DOCKER_CREDENTIAL_ACR_AUDIENCE"}, nil},
		{"entry says acr", "acrreg.azurecr.contoso.local", env{}, nil, []string{token.DefaultScope}},
		{"environment says acr", "stackreg.azurecr.contoso.local", env{EnvAudience: "acr"}, nil, []string{token.DefaultScope}},
		{"explicit scope", "stackreg.azurecr.contoso.local", env{EnvScope: "https://management.contoso.local/.default"}, nil, []string{"https://management.contoso.local/.default"}},
		{"public cloud", "myreg.azurecr.io", env{}, nil, []string{token.DefaultScope, publicARM}},
		{"cloud with armScope", "myreg.azurecr.edge.example", env{EnvAudience: "arm"}, nil, []string{"https://management.edge.example/.default"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Resolve(tt.host, tt.env.get)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(s.Scopes, tt.scopes) {
					t.Errorf("Scopes = %q, want %q", s.Scopes, tt.scopes)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n %q\ndoes not contain\n %q", err, w)
				}
			}
		})
	}
}

// TestResolveScopesNeverEmpty tries every way of choosing the token's
// audience against every kind of cloud: each either fails or gives scopes
// that are all non-empty.
func TestResolveScopesNeverEmpty(t *testing.T) {
	hosts := []string{"myreg.azurecr.io", "myreg.azurecr.cn", "myreg.azurecr.us", "myreg.eastus.geo.azurecr.io", "myreg.azurecr.contoso.local", "myreg.azurecr.edge.example"}
	entries := map[string]string{
		"none":                "",
		"default acr":         "default:\n  audience: acr\n",
		"default arm":         "default:\n  audience: arm\n",
		"default both":        "default:\n  audience: acr-then-arm\n",
		"default scope":       "default:\n  scope: api://x/.default\n",
		"wildcard arm":        "registries:\n  - match: \"*.azurecr.edge.example\"\n    audience: arm\n",
		"wildcard both":       "registries:\n  - match: \"*.azurecr.io\"\n    audience: acr-then-arm\n",
		"exact scope":         "registries:\n  - match: myreg.azurecr.contoso.local\n    scope: api://x/.default\n",
		"exact acr, def both": "default:\n  audience: acr-then-arm\nregistries:\n  - match: myreg.azurecr.contoso.local\n    audience: acr\n",
	}
	envs := []env{{}, {EnvAudience: "acr"}, {EnvAudience: "arm"}, {EnvAudience: "acr-then-arm"}, {EnvScope: "api://y/.default"}, {EnvScope: "api://y/.default", EnvAudience: "arm"}}
	refused, resolved := 0, 0
	for _, withARM := range []bool{false, true} {
		for name, y := range entries {
			c := mustParse(t, y+stackClouds(withARM))
			var nilConfig *Config
			for _, cfg := range []*Config{c, nilConfig} {
				for _, h := range hosts {
					for _, e := range envs {
						s, err := cfg.Resolve(h, e.get)
						if err != nil {
							if cfg == nil && (strings.Contains(h, ".contoso.") || strings.Contains(h, ".edge.")) {
								continue // not a login server without the clouds
							}
							// Only the cloud without armScope may refuse.
							if withARM || !strings.Contains(h, ".contoso.") || !strings.Contains(err.Error(), "add armScope") {
								t.Errorf("%s (armScope %v) %s %v: %v", name, withARM, h, e, err)
							}
							refused++
							continue
						}
						resolved++
						if len(s.Scopes) == 0 || slices.Contains(s.Scopes, "") {
							t.Errorf("%s (armScope %v) %s %v: scopes %q", name, withARM, h, e, s.Scopes)
						}
					}
				}
			}
		}
	}
	if refused == 0 || resolved == 0 {
		t.Errorf("%d refused, %d resolved: the table no longer covers both", refused, resolved)
	}
	t.Logf("%d refused, %d resolved", refused, resolved)
}

func TestResolveRefusesOtherHosts(t *testing.T) {
	for _, h := range []string{"docker.io", "myreg.azurecr.io.evil.com", ""} {
		if _, err := (&Config{}).Resolve(h, env{}.get); !errors.Is(err, loginserver.ErrNotLoginServer) {
			t.Errorf("Resolve(%q): %v, want loginserver.ErrNotLoginServer", h, err)
		}
	}
}

// Unicode case mapping turns the Kelvin sign (U+212A) into 'k': names and
// patterns are lowered in ASCII only, so such a spelling matches nothing.
func TestConfigFoldsASCIIOnly(t *testing.T) {
	if _, err := ParseSources("wor\u212aload"); err == nil {
		t.Error(`ParseSources accepted "wor\u212aload"`)
	}
	if _, err := (&Config{}).Resolve("myreg.azurecr.io", env{EnvUsername: "to\u212aen"}.get); err == nil {
		t.Error(`username "to\u212aen" accepted`)
	}
	clouds := "clouds:\n  - name: k\n    suffix: azurecr.kontoso.local\n    authorityHost: https://login.kontoso.local/\n"
	mustParse(t, "registries:\n  - match: \"*.AzureCR.Kontoso.local\"\n    sources: [cli]\n"+clouds)
	for _, y := range []string{
		"registries:\n  - match: \"*.azurecr.\u212aontoso.local\"\n    sources: [cli]\n" + clouds,
		"registries:\n  - match: myreg.azurecr.\u212aontoso.local\n    sources: [cli]\n" + clouds,
		"default:\n  sources: [wor\u212aload]\n",
		"default:\n  username: to\u212aen\n",
	} {
		if _, err := Parse([]byte(y)); err == nil {
			t.Errorf("accepted %q", y)
		}
	}
	// ResolveRegistry does not find an ASCII entry under a look-alike key.
	c := mustParse(t, "registries:\n  - match: keyreg.azurecr.io\n    sources: [cli]\n")
	s, err := c.ResolveRegistry(loginserver.Registry{Host: "\u212aeyreg.azurecr.io", Cloud: token.PublicCloud(), Scope: token.DefaultScope}, env{}.get)
	if err != nil || s.Match != "" {
		t.Errorf("look-alike host resolved to %+v, %v", s, err)
	}
}

// A loginserver.Registry built by hand, in a cloud the config does not declare and
// without an ARM scope, gets advice that does not point at the config.
func TestResolveRegistryUnknownARMScope(t *testing.T) {
	reg := loginserver.Registry{Host: "myreg.azurecr.example", Name: "myreg", Form: loginserver.FormStandard, Cloud: token.Cloud{Name: "other", AuthorityHost: "https://login.example/"}, Scope: token.DefaultScope}
	_, err := (*Config)(nil).ResolveRegistry(reg, env{EnvAudience: "arm"}.get)
	want := `myreg.azurecr.example: audience arm (from DOCKER_CREDENTIAL_ACR_AUDIENCE) needs the Azure Resource Manager scope of cloud "other", which is not known; set DOCKER_CREDENTIAL_ACR_SCOPE to that cloud's ARM scope instead, or use audience acr`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	s, err := (*Config)(nil).ResolveRegistry(reg, env{}.get)
	if err != nil || !slices.Equal(s.Scopes, []string{token.DefaultScope}) {
		t.Errorf("audience acr: %+v, %v", s, err)
	}
}

// TestSettingsFrom: each group names the layer that set it, for doctor.
func TestSettingsFrom(t *testing.T) {
	c, err := Parse([]byte("default:\n  audience: acr-then-arm\nregistries:\n  - match: myreg.azurecr.io\n    tenantID: contoso.onmicrosoft.com\n    timeout: 20s\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve("myreg.azurecr.io", env{EnvSources: "managed", "AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111"}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := SettingsFrom{Sources: EnvSources, Identity: "AZURE_CLIENT_ID",
		Tenant: `the entry for "myreg.azurecr.io" in the config file`, Token: "the default entry of the config file",
		Timeout: `the entry for "myreg.azurecr.io" in the config file`}
	if s.From != want {
		t.Errorf("From = %+v, want %+v", s.From, want)
	}
	s, err = c.Resolve("other.azurecr.io", env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if s.From.Identity != "the built-in default" || s.From.Sources != "the built-in default" || s.From.Timeout != "the built-in default" {
		t.Errorf("defaults: From = %+v", s.From)
	}
}
