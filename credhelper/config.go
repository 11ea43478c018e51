package credhelper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
)

// The config file chooses an identity per registry. Its schema, in full:
//
//	# Applies to every registry unless an entry below says otherwise.
//	default:
//	  sources: [workload, managed, cli]   # ordered; or "workload,managed,cli"
//	  tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47
//
//	registries:
//	  # An exact login server (any spelling ParseServerURL accepts) ...
//	  - match: prod.azurecr.io
//	    sources: [managed]
//	    clientID: 11111111-1111-1111-1111-111111111111   # user-assigned identity
//	    # or resourceID: /subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/name
//	    # or objectID: 22222222-2222-2222-2222-222222222222
//	    audience: acr-then-arm                           # acr (default) | arm | acr-then-arm
//	    # or scope: https://management.azure.com/.default (an explicit Entra scope)
//	    username: zero-guid                              # token (default, "<token>") | zero-guid
//	  # ... or a one-label wildcard: "*.azurecr.io" matches x.azurecr.io,
//	  # "*.eastus.geo.azurecr.io" matches x.eastus.geo.azurecr.io.
//	  - match: "*.azurecr.io"
//	    sources: [workload]
//	    clientID: 33333333-3333-3333-3333-333333333333
//
//	# Custom or air-gapped clouds (Azure Stack Hub and the like). Opt-in:
//	# without this list only azurecr.io, azurecr.cn and azurecr.us are ours.
//	clouds:
//	  - name: stack
//	    suffix: azurecr.contoso.local                  # login servers are <name>.<suffix>
//	    authorityHost: https://login.contoso.local/    # https only
//	    scope: https://containerregistry.contoso.local/.default  # default: the ACR scope
//	    armScope: https://management.contoso.local/.default      # needed for audience arm
//
// Keys are case-sensitive and unknown keys are errors. Within an entry,
// clientID, resourceID and objectID are alternatives, as are audience and
// scope.
//
// Precedence, per setting, highest first:
//
//  1. DOCKER_CREDENTIAL_ACR_* environment variables: _SOURCES, _CLIENT_ID,
//     _TENANT_ID, _SCOPE, _AUDIENCE, _USERNAME.
//  2. The registry's entry: an exact match, else the wildcard that matches.
//  3. The default entry.
//  4. The ambient AZURE_CLIENT_ID and AZURE_TENANT_ID.
//  5. Built-in defaults: automatic sources, audience acr, username <token>.
//
// The ambient AZURE_* variables rank below the file on purpose: AKS
// workload identity, GitHub Actions and azure/login set them for every
// process, and letting them win would give every registry the same
// identity and make per-registry identities impossible exactly where they
// are needed. DOCKER_CREDENTIAL_ACR_CLIENT_ID and _TENANT_ID are the
// explicit overrides. The identity (clientID, resourceID or objectID) is
// taken as a whole from the highest level that sets any of them.

// Audience selects the Entra scope used for a registry.
type Audience string

const (
	// AudienceACR is ACR's own audience (token.DefaultScope), the default.
	AudienceACR Audience = "acr"
	// AudienceARM is the cloud's Azure Resource Manager audience, which a
	// registry accepts only while its azureADAuthenticationAsArmPolicy is
	// enabled.
	AudienceARM Audience = "arm"
	// AudienceACRThenARM tries the ACR audience and falls back to ARM only
	// where the ACR audience cannot be had.
	AudienceACRThenARM Audience = "acr-then-arm"
)

// UsernameForm selects the username returned with the refresh token.
type UsernameForm string

const (
	// UsernameToken returns "<token>", which docker and the other clients
	// treat as an identity token. The default.
	UsernameToken UsernameForm = "token"
	// UsernameZeroGUID returns the zero GUID, for callers that only know
	// username and password (the kubelet, some older tools).
	UsernameZeroGUID UsernameForm = "zero-guid"
)

// Environment variables read by Config.Resolve and ConfigPath.
const (
	EnvConfig   = "DOCKER_CREDENTIAL_ACR_CONFIG"
	EnvSources  = "DOCKER_CREDENTIAL_ACR_SOURCES"
	EnvClientID = "DOCKER_CREDENTIAL_ACR_CLIENT_ID"
	EnvTenantID = "DOCKER_CREDENTIAL_ACR_TENANT_ID"
	EnvScope    = "DOCKER_CREDENTIAL_ACR_SCOPE"
	EnvAudience = "DOCKER_CREDENTIAL_ACR_AUDIENCE"
	EnvUsername = "DOCKER_CREDENTIAL_ACR_USERNAME"
)

// maxConfigSize bounds the file: a config is a few hundred bytes, and a
// huge one is a mistake, not something to parse on every get.
const maxConfigSize = 64 << 10

// Settings are the effective settings for one registry.
type Settings struct {
	// Sources are the identity sources to try, in order; nil means the
	// automatic order.
	Sources []string
	// ClientID, ResourceID and ObjectID select a user-assigned identity
	// (ClientID also the application of workload, env and CI sources). At
	// most one is set.
	ClientID   string
	ResourceID string
	ObjectID   string
	TenantID   string
	// Scope is an explicit Entra scope. When set, it replaces Audience,
	// which is then empty.
	Scope    string
	Audience Audience
	// UsernameForm is never empty.
	UsernameForm UsernameForm
	// Match is the config entry that applied: an exact host, a wildcard,
	// or "" when only the default entry and the environment did.
	Match string
	// Scopes are the Entra scopes to request, in order: Scope alone, or
	// what Audience means in the registry's cloud. Never empty, and no
	// element is empty.
	Scopes []string
}

// Selector describes everything in s that selects the identity or the
// token, for cache keys: two registries or entries that differ in any of
// them never share a cached token. It holds IDs, never secrets, and is
// stable across processes and releases of the same major version.
func (s Settings) Selector() string {
	sources := "auto"
	if s.Sources != nil {
		sources = strings.Join(s.Sources, ",")
	}
	// Values are escaped so that no value can forge a field boundary.
	var b strings.Builder
	for _, kv := range [...][2]string{
		{"sources", sources},
		{"client_id", s.ClientID},
		{"resource_id", s.ResourceID},
		{"object_id", s.ObjectID},
		{"tenant", s.TenantID},
		{"audience", string(s.Audience)},
		{"scope", s.Scope},
	} {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
	}
	return b.String()
}

// Config is a parsed, validated config file. The zero value and a nil
// *Config are an empty config.
type Config struct {
	path   string
	loaded bool
	def    cfgLayer
	exact  map[string]*cfgLayer // canonical host → entry
	wild   map[string]*cfgLayer // what follows "*." → entry
	clouds []CloudSuffix
}

// cfgLayer is one validated entry: the default or a registries entry.
type cfgLayer struct {
	match      string
	sources    []string
	clientID   string
	resourceID string
	objectID   string
	tenantID   string
	scope      string
	audience   Audience
	username   UsernameForm
}

// Path is the file the config was read from, or "" for an empty config.
func (c *Config) Path() string {
	if c == nil {
		return ""
	}
	return c.path
}

// Loaded reports whether a file was found and read.
func (c *Config) Loaded() bool { return c != nil && c.loaded }

// CloudSuffixes returns the custom clouds, validated, for ParseServerURL.
func (c *Config) CloudSuffixes() []CloudSuffix {
	if c == nil {
		return nil
	}
	return slices.Clone(c.clouds)
}

// ConfigPath returns the config file's path: DOCKER_CREDENTIAL_ACR_CONFIG,
// else $XDG_CONFIG_HOME/docker-credential-acr/config.yaml, else
// ~/.config/docker-credential-acr/config.yaml (on Windows without HOME,
// %APPDATA%\docker-credential-acr\config.yaml). It returns "" when there
// is nowhere to look. It touches no disk.
func ConfigPath(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(EnvConfig); p != "" {
		return p
	}
	const rel = "docker-credential-acr"
	// The XDG spec says relative values are to be ignored.
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, rel, "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", rel, "config.yaml")
	}
	if runtime.GOOS == "windows" {
		if a := getenv("APPDATA"); a != "" {
			return filepath.Join(a, rel, "config.yaml")
		}
	}
	return ""
}

// LoadConfig reads and validates the config file at path. A missing file
// (or an empty path) is an empty config, at the cost of one failed open. A
// file that exists but cannot be read or parsed is an error naming the
// file and, where it can, the line. On Unix, a file that another user
// could change (see configtrust.go) is an error that says what to run.
func LoadConfig(path string) (*Config, error) {
	// A relative path would depend on the directory docker happens to run
	// the helper in.
	if path != "" && !filepath.IsAbs(path) {
		return nil, fmt.Errorf("config file %q is a relative path; set %s to an absolute path", path, EnvConfig)
	}
	c := &Config{path: path}
	if path == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be opened: %w; make it readable by this user, or set %s to another file", path, cfgBareError(err), EnvConfig)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be examined: %w; check the file, or set %s to another file", path, cfgBareError(err), EnvConfig)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("config file %s is a directory; %s must name a YAML file", path, EnvConfig)
	}
	if err := checkConfigTrust(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be read: %w; check the file and its disk, or set %s to another file", path, cfgBareError(err), EnvConfig)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config file %s is larger than %d KiB, but a config is a few hundred bytes; check that %s (or the default path) names the right file", path, maxConfigSize>>10, EnvConfig)
	}
	if err := c.parse(data); err != nil {
		var errs cfgErrors
		if errors.As(err, &errs) && len(errs) > 1 {
			return nil, fmt.Errorf("config file %s has %d problems (fix them, or set %s to another file):\n  %w", path, len(errs), EnvConfig, err)
		}
		return nil, fmt.Errorf("config file %s: %w (fix it, or set %s to another file)", path, err, EnvConfig)
	}
	c.loaded = true
	return c, nil
}

// cfgBareError drops the operation and path that *fs.PathError repeats,
// since every message names the file already; errors.Is still sees the
// cause (fs.ErrPermission and the like).
func cfgBareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseConfig parses and validates config file contents, for callers
// (and tests) that hold the YAML in memory.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{}
	if err := c.parse(data); err != nil {
		return nil, err
	}
	c.loaded = true
	return c, nil
}

// Resolve returns the effective settings for the login server host, with
// the precedence described in the schema comment. host is recognised with
// the config's clouds, as by ParseServerURL; a caller that has the
// Registry already should call ResolveRegistry.
func (c *Config) Resolve(host string, getenv func(string) string) (Settings, error) {
	var clouds []CloudSuffix
	if c != nil {
		clouds = c.clouds
	}
	reg, err := ParseServerURL(host, clouds...)
	if err != nil {
		return Settings{}, err
	}
	return c.ResolveRegistry(reg, getenv)
}

// ResolveRegistry returns the effective settings for reg, with the
// precedence described in the schema comment, and the Entra scopes they
// mean in reg's cloud. A nil getenv means os.Getenv. The file was
// validated when loaded, so errors come from invalid environment
// variables, and from an audience that needs an ARM scope reg's cloud
// does not have (a custom cloud without armScope, chosen by the
// environment or by the default entry).
func (c *Config) ResolveRegistry(reg Registry, getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var layers []*cfgLayer // highest precedence first
	var s Settings
	if c != nil {
		if e := c.lookup(asciiLower(reg.Host)); e != nil {
			layers = append(layers, e)
			s.Match = e.match
		}
		layers = append(layers, &c.def)
	}

	if v := strings.TrimSpace(getenv(EnvSources)); v != "" {
		srcs, err := ParseSources(v)
		if err != nil {
			return Settings{}, fmt.Errorf("%s=%q: %w", EnvSources, v, err)
		}
		s.Sources = srcs
	} else if l := firstLayer(layers, func(l *cfgLayer) bool { return l.sources != nil }); l != nil {
		s.Sources = slices.Clone(l.sources)
	}

	if v := strings.TrimSpace(getenv(EnvClientID)); v != "" {
		if !isGUID(v) {
			return Settings{}, fmt.Errorf("%s is not a GUID; set it to the client (application) ID of the identity", EnvClientID)
		}
		s.ClientID = v
	} else if l := firstLayer(layers, func(l *cfgLayer) bool { return l.clientID != "" || l.resourceID != "" || l.objectID != "" }); l != nil {
		s.ClientID, s.ResourceID, s.ObjectID = l.clientID, l.resourceID, l.objectID
	} else {
		s.ClientID = strings.TrimSpace(getenv("AZURE_CLIENT_ID"))
	}

	if v := strings.TrimSpace(getenv(EnvTenantID)); v != "" {
		if !token.ValidTenantID(v) {
			return Settings{}, fmt.Errorf("%s is not a tenant ID; set it to the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com, or unset it", EnvTenantID)
		}
		s.TenantID = v
	} else if l := firstLayer(layers, func(l *cfgLayer) bool { return l.tenantID != "" }); l != nil {
		s.TenantID = l.tenantID
	} else {
		s.TenantID = strings.TrimSpace(getenv("AZURE_TENANT_ID"))
	}

	audFrom := "the built-in default"
	switch scope, aud := strings.TrimSpace(getenv(EnvScope)), strings.TrimSpace(getenv(EnvAudience)); {
	case scope != "":
		if why := scopeProblem(scope); why != "" {
			return Settings{}, fmt.Errorf("%s=%q: %s; set it to one Entra scope such as %s, or unset it", EnvScope, scope, why, token.DefaultScope)
		}
		s.Scope = scope
	case aud != "":
		a, ok := parseAudience(aud)
		if !ok {
			return Settings{}, fmt.Errorf("%s=%q is not one of acr, arm, acr-then-arm; set one of those, or unset it for acr", EnvAudience, aud)
		}
		s.Audience = a
		audFrom = EnvAudience
	default:
		if l := firstLayer(layers, func(l *cfgLayer) bool { return l.scope != "" || l.audience != "" }); l != nil {
			s.Scope, s.Audience = l.scope, l.audience
			audFrom = c.describe(l)
		} else {
			s.Audience = AudienceACR
		}
	}
	scopes, err := c.scopes(reg, s, audFrom)
	if err != nil {
		return Settings{}, err
	}
	s.Scopes = scopes

	if v := strings.TrimSpace(getenv(EnvUsername)); v != "" {
		u, ok := parseUsername(v)
		if !ok {
			return Settings{}, fmt.Errorf("%s=%q is not token or zero-guid; set one of those, or unset it for token", EnvUsername, v)
		}
		s.UsernameForm = u
	} else if l := firstLayer(layers, func(l *cfgLayer) bool { return l.username != "" }); l != nil {
		s.UsernameForm = l.username
	} else {
		s.UsernameForm = UsernameToken
	}
	return s, nil
}

// firstLayer returns the highest-precedence layer for which has is true,
// or nil. A setting comes whole from one layer (clientID, resourceID and
// objectID together, say), never merged across layers.
func firstLayer(layers []*cfgLayer, has func(*cfgLayer) bool) *cfgLayer {
	for _, l := range layers {
		if has(l) {
			return l
		}
	}
	return nil
}

// scopes turns the chosen scope or audience into the Entra scopes to try
// for reg. No path gives an empty scope: an audience that needs the ARM
// scope of a cloud without one is an error.
func (c *Config) scopes(reg Registry, s Settings, audFrom string) ([]string, error) {
	if s.Scope != "" {
		return []string{s.Scope}, nil
	}
	acr := reg.Scope
	if acr == "" {
		acr = token.DefaultScope
	}
	switch s.Audience {
	case AudienceACR:
		return []string{acr}, nil
	case AudienceARM, AudienceACRThenARM:
	default:
		return nil, fmt.Errorf("%s: audience %q is not one of acr, arm, acr-then-arm", reg.Host, s.Audience)
	}
	arm := reg.Cloud.ARMScope
	if arm == "" {
		if c.isCustomCloud(reg) {
			return nil, fmt.Errorf("%s: audience %s (from %s) needs the Azure Resource Manager scope of cloud %q, which has none; add armScope to cloud %q in %s, or use audience acr",
				reg.Host, s.Audience, audFrom, reg.Cloud.Name, reg.Cloud.Name, c.describeFile())
		}
		return nil, fmt.Errorf("%s: audience %s (from %s) needs the Azure Resource Manager scope of cloud %q, which is not known; set %s to that cloud's ARM scope instead, or use audience acr",
			reg.Host, s.Audience, audFrom, reg.Cloud.Name, EnvScope)
	}
	if s.Audience == AudienceARM {
		return []string{arm}, nil
	}
	return []string{acr, arm}, nil
}

// isCustomCloud reports whether reg is under one of the config's clouds,
// which are the only ones a user can give an armScope.
func (c *Config) isCustomCloud(reg Registry) bool {
	if c == nil {
		return false
	}
	for _, e := range c.clouds {
		if _, ok := hostCutSuffix(reg.Host, e.Suffix); ok {
			return true
		}
	}
	return false
}

// describe names an entry for messages.
func (c *Config) describe(l *cfgLayer) string {
	if l == &c.def {
		return "the default entry of " + c.describeFile()
	}
	return fmt.Sprintf("the entry for %q in %s", l.match, c.describeFile())
}

func (c *Config) describeFile() string {
	if c == nil || c.path == "" {
		return "the config file"
	}
	return "the config file " + c.path
}

// lookup finds the entry for a canonical host: exact beats wildcard, and
// at most one wildcard ("*." + the host minus its first label) can match.
func (c *Config) lookup(host string) *cfgLayer {
	if e, ok := c.exact[host]; ok {
		return e
	}
	if _, rest, ok := strings.Cut(host, "."); ok {
		if e, ok := c.wild[rest]; ok {
			return e
		}
	}
	return nil
}

// ParseSources parses a comma-separated list of source names, as in
// DOCKER_CREDENTIAL_ACR_SOURCES. Names are case-insensitive; an unknown
// or repeated name is an error that lists the valid ones.
func ParseSources(list string) ([]string, error) {
	// Stray commas ("a,,b", a trailing one) are forgiven here, as shells
	// and CI templates make them; identity.ParseNames judges the rest.
	var names []string
	for item := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(item) != "" {
			names = append(names, item)
		}
	}
	return identity.ParseNames(names)
}

func parseAudience(s string) (Audience, bool) {
	switch a := Audience(asciiLower(s)); a {
	case AudienceACR, AudienceARM, AudienceACRThenARM:
		return a, true
	}
	return "", false
}

func parseUsername(s string) (UsernameForm, bool) {
	switch asciiLower(s) {
	case string(UsernameToken), "<token>":
		return UsernameToken, true
	case string(UsernameZeroGUID), "00000000-0000-0000-0000-000000000000":
		return UsernameZeroGUID, true
	}
	return "", false
}

// --- YAML decoding -------------------------------------------------------

// The raw* types mirror the file for a strict decode (KnownFields). Their
// values stay yaml.Nodes so that validation knows each value's line and
// sees keys left without a value: yaml.v3 never calls an unmarshaler for
// null, and a custom unmarshaler on a struct would lose KnownFields.
type cfgFile struct {
	Default    *rawEntry  `yaml:"default"`
	Registries []rawEntry `yaml:"registries"`
	Clouds     []rawCloud `yaml:"clouds"`
}

type rawEntry struct {
	Match      yaml.Node `yaml:"match"`
	Sources    yaml.Node `yaml:"sources"`
	ClientID   yaml.Node `yaml:"clientID"`
	ResourceID yaml.Node `yaml:"resourceID"`
	ObjectID   yaml.Node `yaml:"objectID"`
	TenantID   yaml.Node `yaml:"tenantID"`
	Audience   yaml.Node `yaml:"audience"`
	Scope      yaml.Node `yaml:"scope"`
	Username   yaml.Node `yaml:"username"`
}

type rawCloud struct {
	Name          yaml.Node `yaml:"name"`
	Suffix        yaml.Node `yaml:"suffix"`
	AuthorityHost yaml.Node `yaml:"authorityHost"`
	Scope         yaml.Node `yaml:"scope"`
	ARMScope      yaml.Node `yaml:"armScope"`
}

// cfgKeys names the keys of each mapping, for "unknown key" messages.
func cfgKeys(typ string) (context string, keys []string) {
	switch typ {
	case "credhelper.cfgFile":
		return "at the top level", []string{"default", "registries", "clouds"}
	case "credhelper.rawEntry":
		// The default entry shares the type; it has no match key.
		return "in the default entry or a registry entry (match: registries only)", []string{"match", "sources", "clientID", "resourceID", "objectID", "tenantID", "audience", "scope", "username"}
	case "credhelper.rawCloud":
		return "in a cloud entry", []string{"name", "suffix", "authorityHost", "scope", "armScope"}
	}
	return "", nil
}

// cfgEntry and cfgCloud hold the values checked for shape: strings that
// are strings, sources that are a list.
type cfgEntry struct {
	Match, ClientID, ResourceID, ObjectID, TenantID, Audience, Scope, Username cfgString
	Sources                                                                    cfgSources
}

type cfgCloud struct {
	Name, Suffix, AuthorityHost, Scope, ARMScope cfgString
}

func cookEntry(r *rawEntry, errs *cfgErrors) *cfgEntry {
	return &cfgEntry{
		Match:      cfgStr(&r.Match, "match", errs),
		Sources:    cfgSrcs(&r.Sources, errs),
		ClientID:   cfgStr(&r.ClientID, "clientID", errs),
		ResourceID: cfgStr(&r.ResourceID, "resourceID", errs),
		ObjectID:   cfgStr(&r.ObjectID, "objectID", errs),
		TenantID:   cfgStr(&r.TenantID, "tenantID", errs),
		Audience:   cfgStr(&r.Audience, "audience", errs),
		Scope:      cfgStr(&r.Scope, "scope", errs),
		Username:   cfgStr(&r.Username, "username", errs),
	}
}

func cookCloud(r *rawCloud, errs *cfgErrors) cfgCloud {
	return cfgCloud{
		Name:          cfgStr(&r.Name, "name", errs),
		Suffix:        cfgStr(&r.Suffix, "suffix", errs),
		AuthorityHost: cfgStr(&r.AuthorityHost, "authorityHost", errs),
		Scope:         cfgStr(&r.Scope, "scope", errs),
		ARMScope:      cfgStr(&r.ARMScope, "armScope", errs),
	}
}

type cfgString struct {
	Value string
	Line  int
}

type cfgSources struct {
	Names []string
	Line  int
	Set   bool
}

// cfgValue follows an alias and reports a key present without a value.
func cfgValue(n *yaml.Node, key string, errs *cfgErrors) (*yaml.Node, bool) {
	if n.Kind == 0 {
		return nil, false // absent
	}
	line := n.Line
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		errs.add(line, "%s has no value; give it one or remove the key", key)
		return nil, false
	}
	return n, true
}

func cfgStr(n *yaml.Node, key string, errs *cfgErrors) cfgString {
	line := n.Line
	n, ok := cfgValue(n, key, errs)
	if !ok {
		return cfgString{}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		errs.add(line, "%s must be a string (quote it if it looks like a number or a boolean)", key)
		return cfgString{}
	}
	if n.Value == "" {
		errs.add(line, "%s is empty; remove the key instead", key)
		return cfgString{}
	}
	return cfgString{Value: n.Value, Line: line}
}

// cfgSrcs accepts a list of names or one comma-separated string, the
// same syntax as DOCKER_CREDENTIAL_ACR_SOURCES.
func cfgSrcs(n *yaml.Node, errs *cfgErrors) cfgSources {
	line := n.Line
	n, ok := cfgValue(n, "sources", errs)
	if !ok {
		return cfgSources{}
	}
	s := cfgSources{Line: line, Set: true}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		for item := range strings.SplitSeq(n.Value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				s.Names = append(s.Names, item)
			}
		}
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!str" {
				errs.add(c.Line, "sources must list source names")
				return cfgSources{}
			}
			s.Names = append(s.Names, c.Value)
		}
	default:
		errs.add(line, "sources must be a list of source names")
		return cfgSources{}
	}
	return s
}

// cfgErrors collects every problem, so that one run shows them all.
type cfgErrors []string

func (e *cfgErrors) add(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = "line " + strconv.Itoa(line) + ": " + msg
	}
	*e = append(*e, msg)
}

func (e cfgErrors) Error() string { return strings.Join(e, "\n  ") }

func (e cfgErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (c *Config) parse(data []byte) error {
	var f cfgFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return cfgDecodeError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return cfgErrors{"more than one YAML document; keep the whole configuration in one"}
	}

	var errs cfgErrors
	clouds := make([]cfgCloud, len(f.Clouds))
	for i := range f.Clouds {
		clouds[i] = cookCloud(&f.Clouds[i], &errs)
	}
	c.clouds = validateClouds(clouds, &errs)
	if f.Default != nil {
		d := cookEntry(f.Default, &errs)
		if d.Match.Value != "" {
			errs.add(d.Match.Line, "the default entry applies to every registry and has no match; remove match from it, or move the settings to a registries entry")
		}
		c.def = validateEntry(d, &errs)
	}
	c.exact = map[string]*cfgLayer{}
	c.wild = map[string]*cfgLayer{}
	lines := map[string]int{}
	for i := range f.Registries {
		e := cookEntry(&f.Registries[i], &errs)
		if e.Match.Value == "" {
			errs.add(0, "registries entry %d has no match; give it a login server or a pattern such as \"*.azurecr.io\"", i+1)
			continue
		}
		l := validateEntry(e, &errs)
		key, wild, cloud, ok := c.validateMatch(e.Match, &errs)
		if !ok {
			continue
		}
		// An entry's match reaches one cloud only, so an ARM audience it
		// cannot have is known now. The default entry's is found per
		// registry, by Resolve.
		if (l.audience == AudienceARM || l.audience == AudienceACRThenARM) && cloud.Cloud.ARMScope == "" {
			if c.isCustomCloud(cloud) {
				errs.add(e.Audience.Line, "audience %s for %q needs the Azure Resource Manager scope of cloud %q, which has none; add armScope to cloud %q under clouds, or use audience acr", l.audience, e.Match.Value, cloud.Cloud.Name, cloud.Cloud.Name)
			} else {
				errs.add(e.Audience.Line, "audience %s for %q needs the Azure Resource Manager scope of cloud %q, which is not known; give that scope with scope instead, or use audience acr", l.audience, e.Match.Value, cloud.Cloud.Name)
			}
		}
		l.match = e.Match.Value
		if at, dup := lines[key]; dup {
			errs.add(e.Match.Line, "match %q repeats the entry at line %d; merge the two", e.Match.Value, at)
			continue
		}
		lines[key] = e.Match.Line
		if wild {
			c.wild[strings.TrimPrefix(key, "*.")] = &l
		} else {
			c.exact[key] = &l
		}
	}
	return errs.err()
}

// cfgDecodeError turns yaml.v3's messages, which name Go types, into ones
// that name the file's keys.
func cfgDecodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return cfgErrors{"not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var errs cfgErrors
	for _, m := range te.Errors {
		errs = append(errs, cfgRewrite(m))
	}
	return errs.err()
}

func cfgRewrite(m string) string {
	// "line N: field X not found in type credhelper.cfgEntry"
	if i := strings.Index(m, ": field "); i >= 0 {
		if j := strings.Index(m, " not found in type "); j > i {
			key := m[i+len(": field ") : j]
			context, keys := cfgKeys(m[j+len(" not found in type "):])
			if keys != nil {
				hint := ""
				for _, k := range keys {
					if strings.EqualFold(k, key) {
						hint = fmt.Sprintf(" (did you mean %q?)", k)
					}
				}
				return fmt.Sprintf("%s: unknown key %q %s%s; valid keys are %s", m[:i], key, context, hint, strings.Join(keys, ", "))
			}
		}
	}
	return strings.NewReplacer(
		"[]credhelper.rawEntry", "a list of registry entries",
		"[]credhelper.rawCloud", "a list of clouds",
		"*credhelper.rawEntry", "a registry entry",
		"credhelper.rawEntry", "a registry entry",
		"credhelper.rawCloud", "a cloud entry",
		"credhelper.cfgFile", "the top-level mapping",
	).Replace(m)
}

// validateEntry checks one entry. Messages quote enumerations and hosts but
// never ID values: a secret pasted into the wrong key must not reach a log.
func validateEntry(e *cfgEntry, errs *cfgErrors) cfgLayer {
	var l cfgLayer
	if e.Sources.Set {
		if len(e.Sources.Names) == 0 {
			errs.add(e.Sources.Line, "sources is empty; list at least one of %s, or remove the key for the automatic order", strings.Join(identity.Names(), ", "))
		}
		l.sources = []string{}
		if len(e.Sources.Names) > 0 {
			names, err := identity.ParseNames(e.Sources.Names)
			if err != nil {
				errs.add(e.Sources.Line, "%v", err)
			}
			l.sources = names
		}
	}

	ids := 0
	for _, id := range []cfgString{e.ClientID, e.ResourceID, e.ObjectID} {
		if id.Value != "" {
			ids++
		}
	}
	if ids > 1 {
		errs.add(cfgFirstLine(e.ClientID, e.ResourceID, e.ObjectID), "clientID, resourceID and objectID are alternatives; set one")
	}
	if v := e.ClientID; v.Value != "" {
		if !isGUID(v.Value) {
			errs.add(v.Line, "clientID is not a GUID; use the client (application) ID of the identity")
		}
		l.clientID = v.Value
	}
	if v := e.ObjectID; v.Value != "" {
		if !isGUID(v.Value) {
			errs.add(v.Line, "objectID is not a GUID; use the principal (object) ID of the managed identity")
		}
		l.objectID = v.Value
	}
	if v := e.ResourceID; v.Value != "" {
		if !isIdentityResourceID(v.Value) {
			errs.add(v.Line, "resourceID is not a user-assigned identity's resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)")
		}
		l.resourceID = v.Value
	}
	if (l.resourceID != "" || l.objectID != "") && l.sources != nil && !slices.Contains(l.sources, "managed") {
		errs.add(cfgFirstLine(e.ResourceID, e.ObjectID), "resourceID and objectID select a managed identity, but sources does not include managed; add managed to sources")
	}
	if v := e.TenantID; v.Value != "" {
		if !token.ValidTenantID(v.Value) {
			errs.add(v.Line, "tenantID is not a tenant ID; use the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com")
		}
		l.tenantID = v.Value
	}
	if e.Scope.Value != "" && e.Audience.Value != "" {
		errs.add(e.Scope.Line, "scope and audience are alternatives; set one")
	}
	if v := e.Audience; v.Value != "" {
		a, ok := parseAudience(v.Value)
		if !ok {
			errs.add(v.Line, "audience %q is not one of acr, arm, acr-then-arm", v.Value)
		}
		l.audience = a
	}
	if v := e.Scope; v.Value != "" {
		if why := scopeProblem(v.Value); why != "" {
			errs.add(v.Line, "scope %q: %s", v.Value, why)
		}
		l.scope = v.Value
	}
	if v := e.Username; v.Value != "" {
		u, ok := parseUsername(v.Value)
		if !ok {
			errs.add(v.Line, "username %q is not token or zero-guid", v.Value)
		}
		l.username = u
	}
	return l
}

func cfgFirstLine(vs ...cfgString) int {
	for _, v := range vs {
		if v.Value != "" {
			return v.Line
		}
	}
	return 0
}

// validateMatch checks a registries entry's match and returns its key
// (the canonical host, or "*." + a suffix that login servers live under)
// and a registry it matches, whose cloud is that of every registry it
// matches.
func (c *Config) validateMatch(m cfgString, errs *cfgErrors) (key string, wild bool, sample Registry, ok bool) {
	v := m.Value
	if rest, isWild := strings.CutPrefix(v, "*."); isWild {
		rest = asciiLower(rest)
		// A sample registry name turns the question into one
		// ParseServerURL answers, so patterns and hosts follow one grammar.
		if reg, err := ParseServerURL("sample."+rest, c.clouds...); err == nil {
			return "*." + rest, true, reg, true
		}
		errs.add(m.Line, "pattern %q: a wildcard is \"*.\" followed by a login-server suffix, e.g. \"*.azurecr.io\" or \"*.eastus.geo.azurecr.io\"", v)
		return "", false, Registry{}, false
	}
	if strings.Contains(v, "*") {
		errs.add(m.Line, "pattern %q: '*' may only stand for the whole first label, as in \"*.azurecr.io\"", v)
		return "", false, Registry{}, false
	}
	reg, err := ParseServerURL(v, c.clouds...)
	if err != nil {
		errs.add(m.Line, "match %q is not an ACR login server: %s", v, strings.TrimPrefix(err.Error(), ErrNotLoginServer.Error()+": "))
		return "", false, Registry{}, false
	}
	return reg.Host, false, reg, true
}

func validateClouds(in []cfgCloud, errs *cfgErrors) []CloudSuffix {
	var out []CloudSuffix
	names := map[string]int{}
	for i := range in {
		cl := &in[i]
		line := cfgFirstLine(cl.Name, cl.Suffix, cl.AuthorityHost, cl.Scope, cl.ARMScope)
		bad := false
		fail := func(l int, format string, args ...any) {
			if l == 0 {
				l = line
			}
			errs.add(l, format, args...)
			bad = true
		}
		name := cl.Name.Value
		switch {
		case name == "":
			fail(0, "cloud entry %d has no name", i+1)
		case !isCloudName(name):
			fail(cl.Name.Line, "cloud name %q is not 1-32 lower-case letters, digits and '-'", name)
		case name == "public" || name == "china" || name == "usgov":
			fail(cl.Name.Line, "cloud name %q is built in; choose another", name)
		default:
			if at, dup := names[name]; dup {
				fail(cl.Name.Line, "cloud name %q repeats the cloud at line %d", name, at)
			}
			names[name] = cl.Name.Line
		}
		suffix := cl.Suffix.Value
		if suffix == "" {
			fail(0, "cloud %q has no suffix (the login-server domain, e.g. azurecr.contoso.local)", name)
		} else if why := suffixProblem(suffix); why != "" {
			fail(cl.Suffix.Line, "cloud suffix %q %s", suffix, why)
		} else {
			for _, o := range out {
				if o.Suffix == suffix || strings.HasSuffix(suffix, "."+o.Suffix) || strings.HasSuffix(o.Suffix, "."+suffix) {
					fail(cl.Suffix.Line, "cloud suffix %q overlaps the suffix %q of cloud %q", suffix, o.Suffix, o.Cloud.Name)
				}
			}
		}
		authority := cl.AuthorityHost.Value
		if authority == "" {
			fail(0, "cloud %q has no authorityHost (its Entra or ADFS authority, https)", name)
		} else if a, why := normaliseAuthority(authority); why != "" {
			fail(cl.AuthorityHost.Line, "cloud authorityHost %q %s", authority, why)
		} else {
			authority = a
		}
		for _, sc := range []cfgString{cl.Scope, cl.ARMScope} {
			if sc.Value != "" {
				if why := scopeProblem(sc.Value); why != "" {
					fail(sc.Line, "cloud scope %q: %s", sc.Value, why)
				}
			}
		}
		if bad {
			continue
		}
		scope := cl.Scope.Value
		if scope == "" {
			scope = token.DefaultScope
		}
		out = append(out, CloudSuffix{
			Suffix: suffix,
			Cloud:  token.Cloud{Name: name, AuthorityHost: authority, ARMScope: cl.ARMScope.Value},
			Scope:  scope,
		})
	}
	return out
}

func isCloudName(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// suffixProblem says why s cannot be a custom login-server suffix, or "".
// Without the public suffix list (it would double the binary's size) it
// refuses what it can tell: single labels, numeric TLDs, two-label
// registry-style suffixes such as co.uk, and the built-in ACR domains.
func suffixProblem(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "*") {
		return "must be written without a leading '.' or '*'"
	}
	if s != asciiLower(s) {
		return "must be lower case"
	}
	if !hostUsableSuffix(s) {
		return "is not a DNS name of at least two labels (letters, digits and '-')"
	}
	labels := strings.Split(s, ".")
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "ends in a numeric label; IP addresses are never login servers"
	}
	if len(labels) == 2 {
		switch labels[0] {
		case "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nom", "ltd", "plc":
			return "is a public suffix that anybody can register names under"
		}
	}
	for _, b := range hostBuiltinSuffixes() {
		if s == b.suffix || strings.HasSuffix(s, "."+b.suffix) || strings.HasSuffix(b.suffix, "."+s) {
			return fmt.Sprintf("overlaps the built-in suffix %q", b.suffix)
		}
	}
	return ""
}

// normaliseAuthority checks an authority host URL and gives it the
// trailing slash azidentity expects.
func normaliseAuthority(s string) (string, string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", "is not a URL"
	case u.Scheme != "https":
		return "", "must be https"
	case u.Host == "" || u.Hostname() == "":
		return "", "has no host"
	case u.User != nil:
		return "", "must not have userinfo"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.Contains(s, "#"):
		return "", "must not have a query or fragment"
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, ""
}

// scopeProblem says why s cannot be an Entra scope, or "". It stays
// permissive: scopes take several forms (https://…/.default, api://…,
// a bare application ID).
func scopeProblem(s string) string {
	if len(s) > 512 {
		return "is longer than 512 bytes"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "must be one scope of printable ASCII, without spaces"
		}
	}
	return ""
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isIdentityResourceID(s string) bool {
	const marker = "/providers/microsoft.managedidentity/userassignedidentities/"
	lower := asciiLower(s)
	i := strings.Index(lower, marker)
	if !strings.HasPrefix(lower, "/subscriptions/") || i < 0 || len(lower) == i+len(marker) || len(s) > 1024 {
		return false
	}
	if strings.Contains(lower[i+len(marker):], "/") {
		return false
	}
	for j := 0; j < len(s); j++ {
		if c := s[j]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' {
			return false
		}
	}
	return true
}
