package config

import (
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// cloudEntry is one clouds entry's values, indexed like cloudKeys().
type cloudEntry [5]text

const (
	cloudName = iota
	cloudSuffix
	cloudAuthorityHost
	cloudScope
	cloudARMScope
)

// decodeClouds checks the clouds entries and returns the valid ones, for
// loginserver.Parse.
func decodeClouds(entries [][]pair, errs *problems) []loginserver.CloudSuffix {
	keys := cloudKeys()
	in := make([]cloudEntry, len(entries))
	for i, ps := range entries {
		for _, p := range ps {
			for k, key := range keys {
				if p.key == key {
					in[i][k] = stringValue(p.v, key, errs)
				}
			}
		}
	}

	var out []loginserver.CloudSuffix
	names := map[string]int{}
	for i := range in {
		cl := &in[i]
		line := firstLine(cl[cloudName].line, cl[cloudSuffix].line, cl[cloudAuthorityHost].line, cl[cloudScope].line, cl[cloudARMScope].line)
		bad := false
		fail := func(l int, format string, args ...any) {
			if l == 0 {
				l = line
			}
			errs.add(l, format, args...)
			bad = true
		}
		name := cl[cloudName].value
		switch {
		case name == "":
			fail(0, "cloud entry %d has no name", i+1)
		case !isCloudName(name):
			fail(cl[cloudName].line, "cloud name %q is not 1-32 lower-case letters, digits and '-'", name)
		case name == "public" || name == "china" || name == "usgov":
			fail(cl[cloudName].line, "cloud name %q is built in; choose another", name)
		default:
			if at, dup := names[name]; dup {
				fail(cl[cloudName].line, "cloud name %q repeats the cloud at line %d", name, at)
			}
			names[name] = cl[cloudName].line
		}
		suffix := cl[cloudSuffix].value
		if suffix == "" {
			fail(0, "cloud %q has no suffix (the login-server domain, e.g. azurecr.contoso.local)", name)
		} else if why := loginserver.SuffixProblem(suffix); why != "" {
			fail(cl[cloudSuffix].line, "cloud suffix %q %s", suffix, why)
		} else {
			for _, o := range out {
				if o.Suffix == suffix || strings.HasSuffix(suffix, "."+o.Suffix) || strings.HasSuffix(o.Suffix, "."+suffix) {
					fail(cl[cloudSuffix].line, "cloud suffix %q overlaps the suffix %q of cloud %q", suffix, o.Suffix, o.Cloud.Name)
				}
			}
		}
		authority := cl[cloudAuthorityHost].value
		if authority == "" {
			fail(0, "cloud %q has no authorityHost (its Entra or ADFS authority, https)", name)
		} else if a, why := token.NormalizeAuthorityHost(authority); why != "" {
			fail(cl[cloudAuthorityHost].line, "cloud authorityHost %q %s", authority, why)
		} else {
			authority = a
		}
		// The same check, and wording, as the scope setting.
		for _, k := range [...]int{cloudScope, cloudARMScope} {
			if v := cl[k]; v.value != "" {
				if problem := checkScope(v.value); problem != "" {
					fail(v.line, "cloud %s: %s", keys[k], problem)
				}
			}
		}
		if bad {
			continue
		}
		scope := cl[cloudScope].value
		if scope == "" {
			scope = token.DefaultScope
		}
		out = append(out, loginserver.CloudSuffix{
			Suffix: suffix,
			Cloud:  token.Cloud{Name: name, AuthorityHost: authority, ARMScope: cl[cloudARMScope].value},
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

// isCustomCloud reports whether reg is under one of the config's clouds,
// which are the only ones a user can give an armScope.
func (c *Config) isCustomCloud(reg loginserver.Registry) bool {
	if c == nil {
		return false
	}
	for _, e := range c.clouds {
		if loginserver.UnderSuffix(reg.Host, e.Suffix) {
			return true
		}
	}
	return false
}
