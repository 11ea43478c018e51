package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// group is a precedence group: the settings of one group come whole from
// one level (clientID, resourceID and objectID together, say), never
// merged across levels.
type group uint8

const (
	groupSources group = iota
	groupIdentity
	groupTenant
	groupToken
	groupUsername
	groupChallenge
	groupTimeout
	numGroups
)

// setting is one per-registry setting: one row of the table. Adding a
// setting means adding a row, a field to Settings and, if it selects the
// identity or the token, a field to Settings.Selector.
type setting struct {
	// key is the YAML key in the default entry and in registries entries.
	key string
	// env is the DOCKER_CREDENTIAL_ACR_* variable that overrides the file,
	// or "" for a setting only the file gives.
	env string
	// ambient is the AZURE_* variable used, unchecked, when no level sets
	// the group: it ranks below the file (see the schema comment).
	ambient string
	// group is the precedence group. Within a group the rows' variables
	// are read in table order and the first one set wins (so
	// DOCKER_CREDENTIAL_ACR_SCOPE beats _AUDIENCE).
	group group
	// parse checks one value (from the environment: without surrounding
	// white space) and stores it in s. It returns "" or the problem, in
	// the one wording both callers use after saying where the value came
	// from. A problem never quotes an ID: a secret pasted into the wrong
	// place must not reach a log. parse stores v even when it returns a
	// problem: that is how a row's ambient variable is taken unchecked.
	// Exactly one of parse and parseList is set.
	parse func(v string, s *Settings) (problem string)
	// parseList is parse for a list of names: the file gives a YAML list
	// or one comma-separated string, the environment the string (both
	// split by splitList).
	parseList func(items []string, s *Settings) (problem string)
	// has reports whether s sets the setting; take copies it from src.
	has  func(s *Settings) bool
	take func(dst, src *Settings)
	// def sets the built-in default when no level sets the group, or nil.
	def func(s *Settings)
}

// table is the settings table. A function keeps it out of mutable package
// state; its rows are built without allocating.
func table() [numRows]setting {
	return [...]setting{
		{key: "sources", env: EnvSources, group: groupSources, parseList: parseSourcesSetting,
			has:  func(s *Settings) bool { return s.Sources != nil },
			take: func(d, s *Settings) { d.Sources = slices.Clone(s.Sources) }},
		{key: "clientID", env: EnvClientID, ambient: "AZURE_CLIENT_ID", group: groupIdentity,
			parse: func(v string, s *Settings) string {
				s.ClientID = v
				return guidProblem(v, "the client (application) ID of the identity")
			},
			has:  func(s *Settings) bool { return s.ClientID != "" },
			take: func(d, s *Settings) { d.ClientID = s.ClientID }},
		{key: "resourceID", group: groupIdentity,
			parse: func(v string, s *Settings) string {
				s.ResourceID = v
				if !isIdentityResourceID(v) {
					return "not a user-assigned identity's resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
				}
				return ""
			},
			has:  func(s *Settings) bool { return s.ResourceID != "" },
			take: func(d, s *Settings) { d.ResourceID = s.ResourceID }},
		{key: "objectID", group: groupIdentity,
			parse: func(v string, s *Settings) string {
				s.ObjectID = v
				return guidProblem(v, "the principal (object) ID of the managed identity")
			},
			has:  func(s *Settings) bool { return s.ObjectID != "" },
			take: func(d, s *Settings) { d.ObjectID = s.ObjectID }},
		{key: "tenantID", env: EnvTenantID, ambient: "AZURE_TENANT_ID", group: groupTenant,
			parse: func(v string, s *Settings) string {
				s.TenantID = v
				if !token.ValidTenantID(v) {
					return "not a tenant ID; use the directory (tenant) ID, a GUID, or a domain such as contoso.onmicrosoft.com, or remove the setting"
				}
				return ""
			},
			has:  func(s *Settings) bool { return s.TenantID != "" },
			take: func(d, s *Settings) { d.TenantID = s.TenantID }},
		{key: "scope", env: EnvScope, group: groupToken,
			parse: func(v string, s *Settings) string {
				s.Scope = v
				return checkScope(v)
			},
			has:  func(s *Settings) bool { return s.Scope != "" },
			take: func(d, s *Settings) { d.Scope = s.Scope }},
		{key: "audience", env: EnvAudience, group: groupToken,
			parse: func(v string, s *Settings) string {
				a, ok := parseAudience(v)
				if !ok {
					return quote(v) + " is not one of acr, arm, acr-then-arm; use one of those, or remove the setting for acr"
				}
				s.Audience = a
				return ""
			},
			has:  func(s *Settings) bool { return s.Audience != "" },
			take: func(d, s *Settings) { d.Audience = s.Audience },
			def:  func(s *Settings) { s.Audience = AudienceACR }},
		{key: "username", env: EnvUsername, group: groupUsername,
			parse: func(v string, s *Settings) string {
				u, ok := parseUsername(v)
				if !ok {
					return quote(v) + " is not token or zero-guid; use one of those, or remove the setting for token"
				}
				s.UsernameForm = u
				return ""
			},
			has:  func(s *Settings) bool { return s.UsernameForm != "" },
			take: func(d, s *Settings) { d.UsernameForm = s.UsernameForm },
			def:  func(s *Settings) { s.UsernameForm = UsernameToken }},
		{key: "challenge", env: EnvChallenge, group: groupChallenge,
			parse: func(v string, s *Settings) string {
				switch c := ChallengeMode(safetext.Lower(v)); c {
				case ChallengeAuto, ChallengeAlways:
					s.Challenge = c
					return ""
				}
				return quote(v) + " is not auto or always; use always for a registry behind a proxy that answers for it, or remove the setting for auto"
			},
			has:  func(s *Settings) bool { return s.Challenge != "" },
			take: func(d, s *Settings) { d.Challenge = s.Challenge },
			def:  func(s *Settings) { s.Challenge = ChallengeAuto }},
		// No def: the default depends on the front end (get's 10 s, the
		// kubelet mode's 30 s), so zero stands for it.
		{key: "timeout", env: EnvTimeout, group: groupTimeout,
			parse: func(v string, s *Settings) string {
				d, problem := parseTimeout(v)
				s.Timeout = d
				return problem
			},
			has:  func(s *Settings) bool { return s.Timeout != 0 },
			take: func(d, s *Settings) { d.Timeout = s.Timeout }},
	}
}

// Bounds of the timeout setting. Under a second leaves no time for even
// one exchange; over ten minutes no caller waits (docker's user has given
// up, the kubelet kills a plugin after one).
const (
	MinTimeout = time.Second
	MaxTimeout = 10 * time.Minute
)

// parseTimeout is the timeout row's check: a Go duration (with its unit)
// within MinTimeout..MaxTimeout.
func parseTimeout(v string) (time.Duration, string) {
	shown := "the value"
	// A duration is short; anything long is not repeated, in case it is a
	// secret pasted into the wrong place.
	if len(v) <= 32 {
		shown = quote(v)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, shown + " is not a duration; use a number with its unit between 1s and 10m, such as 10s, 30s or 1m30s, or remove the setting for the default"
	}
	if d < MinTimeout || d > MaxTimeout {
		return 0, shown + " is outside 1s to 10m; use a duration in that range, such as 10s, 30s or 1m30s, or remove the setting for the default"
	}
	return d, ""
}

// parseSourcesSetting is the sources row's check.
func parseSourcesSetting(items []string, s *Settings) string {
	if len(items) == 0 {
		// Non-nil, so that the file's other checks see sources as set.
		s.Sources = []string{}
		return "no identity source is named; name one or more of " + strings.Join(sourceNames(), ", ") + ", or remove the setting for the automatic order"
	}
	names, err := parseSourceNames(items)
	if err != nil {
		return err.Error()
	}
	s.Sources = names
	return ""
}

// parseSourceNames and sourceNames are the one place this package asks
// the identity sources for their names.
func parseSourceNames(names []string) ([]string, error) { return identity.ParseNames(names) }
func sourceNames() []string                             { return identity.Names() }

// splitList is the one comma-list rule, for DOCKER_CREDENTIAL_ACR_SOURCES
// and the file's sources: "a,b". Stray commas ("a,,b", a trailing one) and
// the spaces around items are forgiven, as shells and CI templates make
// them; the row's check judges the rest.
func splitList(list string) []string {
	var items []string
	for item := range strings.SplitSeq(list, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// ParseSources parses a comma-separated list of source names, as in
// DOCKER_CREDENTIAL_ACR_SOURCES. Names are case-insensitive; an unknown
// or repeated name is an error that lists the valid ones.
func ParseSources(list string) ([]string, error) {
	return parseSourceNames(splitList(list))
}

// quote quotes a value that is safe to repeat (an enumeration, a scope),
// as Go does.
func quote(v string) string { return strconv.Quote(v) }

func guidProblem(v, what string) string {
	if !IsGUID(v) {
		return "not a GUID; use " + what
	}
	return ""
}

// checkScope is the check of every Entra scope: the scope setting and a
// cloud's scope and armScope.
func checkScope(v string) string {
	if why := scopeProblem(v); why != "" {
		return quote(v) + " " + why + "; use one Entra scope such as " + token.DefaultScope + ", or remove the setting"
	}
	return ""
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

func parseAudience(s string) (Audience, bool) {
	switch a := Audience(safetext.Lower(s)); a {
	case AudienceACR, AudienceARM, AudienceACRThenARM:
		return a, true
	}
	return "", false
}

func parseUsername(s string) (UsernameForm, bool) {
	switch safetext.Lower(s) {
	case string(UsernameToken), "<token>":
		return UsernameToken, true
	case string(UsernameZeroGUID), "00000000-0000-0000-0000-000000000000":
		return UsernameZeroGUID, true
	}
	return "", false
}

// IsGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form,
// as client (application) and object IDs are written.
func IsGUID(s string) bool {
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
	lower := safetext.Lower(s)
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
