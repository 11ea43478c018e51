package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Resolve returns the effective settings for the login server host, with
// the precedence described in the schema comment. host is recognised with
// the config's clouds, as by loginserver.Parse; a caller that has the
// Registry already should call ResolveRegistry.
func (c *Config) Resolve(host string, getenv func(string) string) (Settings, error) {
	var clouds []loginserver.CloudSuffix
	if c != nil {
		clouds = c.clouds
	}
	reg, err := loginserver.Parse(host, clouds...)
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
func (c *Config) ResolveRegistry(reg loginserver.Registry, getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	r := resolver{getenv: getenv, rows: table()}
	if c != nil {
		if e := c.lookup(safetext.Lower(reg.Host)); e != nil {
			r.levels = append(r.levels, e)
			r.s.Match = e.match
		}
		r.levels = append(r.levels, &c.def)
	}
	// The username comes last, after the scopes, as a problem with either
	// is reported in that order.
	for _, g := range [...]group{groupSources, groupIdentity, groupTenant, groupToken} {
		if err := r.resolve(g); err != nil {
			return Settings{}, err
		}
	}
	audFrom := "the built-in default"
	switch {
	case r.from[groupToken] == nil && r.env[groupToken] != "":
		audFrom = r.env[groupToken]
	case r.from[groupToken] != nil:
		audFrom = c.describe(r.from[groupToken])
	}
	scopes, err := c.scopes(reg, r.s, audFrom)
	if err != nil {
		return Settings{}, err
	}
	r.s.Scopes = scopes
	r.s.From = SettingsFrom{Sources: r.origin(c, groupSources), Identity: r.origin(c, groupIdentity),
		Tenant: r.origin(c, groupTenant), Token: r.origin(c, groupToken)}
	for _, g := range [...]group{groupUsername, groupChallenge, groupTimeout} {
		if err := r.resolve(g); err != nil {
			return Settings{}, err
		}
	}
	r.s.From.Timeout = r.origin(c, groupTimeout)
	return r.s, nil
}

// resolver applies the settings table's precedence to one registry.
type resolver struct {
	getenv func(string) string
	rows   [numRows]setting
	levels []*level // the registry's entry, then the default entry
	s      Settings
	// Where each group came from: a variable, a level, or neither (the
	// ambient variables or the built-in default).
	env     [numGroups]string
	from    [numGroups]*level
	ambient [numGroups]string
}

// origin names where group g came from, for Settings.From.
func (r *resolver) origin(c *Config, g group) string {
	switch {
	case r.env[g] != "":
		return r.env[g]
	case r.from[g] != nil:
		return c.describe(r.from[g])
	case r.ambient[g] != "":
		return r.ambient[g]
	}
	return "the built-in default"
}

// resolve sets the settings of group g from, highest first, the first of
// its DOCKER_CREDENTIAL_ACR_* variables that is set, the first level that
// sets any of them, the ambient AZURE_* variables, the built-in defaults.
func (r *resolver) resolve(g group) error {
	for i := range r.rows {
		row := &r.rows[i]
		if row.group != g || row.env == "" {
			continue
		}
		v := strings.TrimSpace(r.getenv(row.env))
		if v == "" {
			continue
		}
		var problem string
		if row.parseList != nil {
			problem = row.parseList(splitList(v), &r.s)
		} else {
			problem = row.parse(v, &r.s)
		}
		if problem != "" {
			return envError(row.env, problem)
		}
		r.env[g] = row.env
		return nil
	}
	for _, l := range r.levels {
		if !r.sets(l, g) {
			continue
		}
		for i := range r.rows {
			if row := &r.rows[i]; row.group == g {
				row.take(&r.s, &l.s)
			}
		}
		r.from[g] = l
		return nil
	}
	for i := range r.rows {
		row := &r.rows[i]
		if row.group != g {
			continue
		}
		if row.ambient != "" {
			// Unchecked, as before: the ambient variables belong to
			// other tools, and the sources judge them.
			if v := strings.TrimSpace(r.getenv(row.ambient)); v != "" {
				_ = row.parse(v, &r.s)
				r.ambient[g] = row.ambient
			}
		}
		if row.def != nil {
			row.def(&r.s)
		}
	}
	return nil
}

func (r *resolver) sets(l *level, g group) bool {
	for i := range r.rows {
		if row := &r.rows[i]; row.group == g && row.has(&l.s) {
			return true
		}
	}
	return false
}

// envError gives a row's problem the variable's name.
func envError(env, problem string) error {
	return errors.New(env + ": " + problem)
}

// scopes turns the chosen scope or audience into the Entra scopes to try
// for reg. No path gives an empty scope: an audience that needs the ARM
// scope of a cloud without one is an error.
func (c *Config) scopes(reg loginserver.Registry, s Settings, audFrom string) ([]string, error) {
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

// describe names an entry for messages.
func (c *Config) describe(l *level) string {
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
func (c *Config) lookup(host string) *level {
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
