package config

import (
	"net/url"
	"strings"
	"time"
)

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

// ChallengeMode selects when the registry's challenge (GET /v2/) is read
// before the exchange.
type ChallengeMode string

const (
	// ChallengeAuto skips the challenge where the login server's form
	// fixes the exchange endpoint and service (name.azurecr.io and the
	// other built-in suffixes, and their DNL form name-hash.azurecr.io),
	// and reads it, concurrently with the Entra token, everywhere else
	// (regional login servers, custom clouds). The default.
	ChallengeAuto ChallengeMode = "auto"
	// ChallengeAlways reads the challenge for every registry and uses its
	// service, for a registry behind a proxy that names another.
	ChallengeAlways ChallengeMode = "always"
)

// Environment variables read by Config.Resolve and Path.
const (
	EnvConfig    = "DOCKER_CREDENTIAL_ACR_CONFIG"
	EnvSources   = "DOCKER_CREDENTIAL_ACR_SOURCES"
	EnvClientID  = "DOCKER_CREDENTIAL_ACR_CLIENT_ID"
	EnvTenantID  = "DOCKER_CREDENTIAL_ACR_TENANT_ID"
	EnvScope     = "DOCKER_CREDENTIAL_ACR_SCOPE"
	EnvAudience  = "DOCKER_CREDENTIAL_ACR_AUDIENCE"
	EnvUsername  = "DOCKER_CREDENTIAL_ACR_USERNAME"
	EnvChallenge = "DOCKER_CREDENTIAL_ACR_CHALLENGE"
	EnvTimeout   = "DOCKER_CREDENTIAL_ACR_TIMEOUT"
)

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
	// Challenge is never empty. It selects neither the identity nor the
	// token (the registry names the same service either way, unless a
	// proxy is wrong), so it is not part of Selector.
	Challenge ChallengeMode
	// Timeout bounds a whole cold get, from the process's start to its
	// exit (MinTimeout..MaxTimeout); zero means the front end's default.
	// It selects nothing, so it is not part of the Selector.
	Timeout time.Duration
	// Match is the config entry that applied: an exact host, a wildcard,
	// or "" when only the default entry and the environment did.
	Match string
	// Scopes are the Entra scopes to request, in order: Scope alone, or
	// what Audience means in the registry's cloud. Never empty, and no
	// element is empty.
	Scopes []string
	// From says where each group of settings came from, for a front end
	// that explains them. It selects nothing.
	From SettingsFrom
}

// SettingsFrom names, for each group of settings, the layer that set it:
// a DOCKER_CREDENTIAL_ACR_* variable, an entry of the config file, an
// ambient AZURE_* variable, or "the built-in default".
type SettingsFrom struct {
	Sources, Identity, Tenant, Token, Timeout string
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
