package identity

import (
	"fmt"
	"log/slog"
	"os/exec"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The names of the identity sources, by which users choose them.
const (
	Env       = "env"       // service principal: AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH
	Workload  = "workload"  // federated token file or AZURE_FEDERATED_TOKEN (AKS, GitLab, any OIDC CI)
	GitHub    = "github"    // GitHub Actions OIDC
	Pipelines = "pipelines" // Azure Pipelines service connection with workload identity federation
	Managed   = "managed"   // managed identity: IMDS, App Service, Container Apps, Arc, ...
	CLI       = "cli"       // Azure CLI login
	Azd       = "azd"       // Azure Developer CLI login
)

// Settings selects the identity. A front end fills it from its own
// configuration (the command-line helper: its environment variables and
// per-registry entries).
type Settings struct {
	// ClientID is AZURE_CLIENT_ID: the application (env, workload, github)
	// or the user-assigned managed identity (managed). The pipelines source
	// ignores ClientID and TenantID while AZURESUBSCRIPTION_CLIENT_ID or
	// AZURESUBSCRIPTION_TENANT_ID is set: the service connection's pair
	// goes with it.
	ClientID string
	// TenantID is AZURE_TENANT_ID. The cli and azd sources pass it to the
	// tool; for the pipelines source see ClientID.
	TenantID string
	// ResourceID and ObjectID are alternatives to ClientID for a
	// user-assigned managed identity. At most one of the three may be set
	// for the managed source.
	ResourceID string
	ObjectID   string
	// FederatedTokenFile is AZURE_FEDERATED_TOKEN_FILE.
	FederatedTokenFile string
	// AuthorityHost is AZURE_AUTHORITY_HOST. Empty means the registry's
	// cloud decides. It must be https.
	AuthorityHost string
}

// Options are the process-level dependencies of the sources.
type Options struct {
	// Getenv reads the variables that carry secrets or CI context:
	// AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_*, AZURE_FEDERATED_TOKEN,
	// ACTIONS_ID_TOKEN_REQUEST_*, SYSTEM_*, AZURESUBSCRIPTION_*. Nil means an
	// empty environment; pass os.Getenv for the process's own. (Managed
	// identity's IDENTITY_ENDPOINT and friends, and the PATH used to run az
	// and azd, are read by azidentity from the process environment; the
	// managed source reads IDENTITY_HEADER and MSI_SECRET here only to
	// redact them, and also redacts the header values it sees sent.)
	Getenv func(string) string
	// Logger receives debug lines; never a token or secret. Nil discards.
	Logger *slog.Logger
	// Transport sends every HTTP request the sources make, to Entra, the
	// managed identity endpoints, and the CI token services. Nil means:
	// for Entra and the CI token services a client that honours the proxy
	// settings but follows no redirect (each request carries a secret, an
	// assertion or a bearer token); for managed identity endpoints a client
	// that never uses a proxy either (HTTP_PROXY would see the Entra token,
	// or answer with the proxy's own identity). A Transport given here is
	// used as is for all of them.
	Transport policy.Transporter
	// LookPath finds az and azd. Nil means exec.LookPath.
	LookPath func(string) (string, error)

	// dial replaces the dialer of the clients built when Transport is nil,
	// so that tests can reach 169.254.169.254 on loopback.
	dial dialFunc
}

func (o Options) normalized() Options {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	return o
}

// A configuredSource can tell from environment variables alone whether its
// environment is present and complete.
type configuredSource interface {
	token.Source
	// check returns nil when the source's environment is present and
	// complete, an error of kind KindUnavailable when it is absent, and one
	// of kind KindIncomplete when it is present but incomplete. The
	// automatic order skips the source in both cases; an explicitly listed
	// source reports the first as unavailable and the second as a failure.
	check() *token.SourceError
}

// checkError is the error a configuredSource's EntraToken returns when
// check finds its environment absent (unavailable, so that the next source
// is tried) or incomplete (a failure), and nil when it is complete.
func checkError(c configuredSource) error {
	// Not "return c.check()": a nil *token.SourceError in an error is not
	// a nil error.
	if e := c.check(); e != nil {
		return e
	}
	return nil
}

// incomplete is check's error for an environment that is present but
// lacks a value.
func incomplete(source, reason string) *token.SourceError {
	return &token.SourceError{Kind: token.KindIncomplete, Source: source, Reason: reason}
}

// Names lists the valid source names in the automatic order's
// precedence.
func Names() []string {
	names := make([]string, len(table))
	for i, e := range table {
		names[i] = e.name
	}
	return names
}

// table is the one list of sources, in the automatic order's precedence,
// so that a name cannot be valid without a constructor. Read-only.
var table = []struct {
	name string
	new  func(Settings, Options) token.Source
}{
	{Env, func(s Settings, o Options) token.Source { return &envSource{appSource{Env, s, o}} }},
	{Workload, func(s Settings, o Options) token.Source { return &workloadSource{appSource{Workload, s, o}} }},
	{GitHub, func(s Settings, o Options) token.Source { return &githubSource{appSource{GitHub, s, o}} }},
	{Pipelines, func(s Settings, o Options) token.Source { return &pipelinesSource{s: s, o: o} }},
	{Managed, func(s Settings, o Options) token.Source { return &managedSource{s: s, o: o} }},
	{CLI, func(s Settings, o Options) token.Source { return &toolSource{t: azTool, s: s, o: o} }},
	{Azd, func(s Settings, o Options) token.Source { return &toolSource{t: azdTool, s: s, o: o} }},
}

// New builds the named sources in the given order. The names are
// checked and normalised by ParseNames. Nothing is read from disk or
// network.
//
// A listed source whose environment is entirely absent (no GitHub Actions
// variables for github, say) is built all the same: its EntraToken reports
// it unavailable, so that the next listed source is tried, and the final
// error, if none is available, gives the reason. A source whose environment
// is present but incomplete fails instead, naming what is missing.
func New(names []string, s Settings, o Options) ([]token.Source, error) {
	o = o.normalized()
	names, err := ParseNames(names)
	if err != nil {
		return nil, fmt.Errorf("identity sources: %w", err)
	}
	out := make([]token.Source, 0, len(names))
	for _, n := range names {
		out = append(out, newSource(n, s, o))
	}
	return out, nil
}

// Auto returns the automatic order: in Names order, the sources
// whose environment variables are present and complete, and for each other
// one a reason for the debug log and the final error, a *token.SourceError
// of kind KindUnavailable or KindIncomplete with Skipped set ("github:
// ACTIONS_ID_TOKEN_REQUEST_URL is not set ..."). It only reads environment
// variables, so that the cached path can afford it. managed, cli and azd are
// always included: whether IMDS answers, or az and azd are on PATH, is found
// out (quickly) only when a token is needed, and a missing one is then
// reported as unavailable, so the next source is tried.
func Auto(s Settings, o Options) (sources []token.Source, skipped []error) {
	o = o.normalized()
	for _, e := range table {
		src := e.new(s, o)
		if c, ok := src.(configuredSource); ok {
			// Either kind skips the source.
			if err := c.check(); err != nil {
				err.Skipped = true
				skipped = append(skipped, err)
				continue
			}
		}
		sources = append(sources, src)
	}
	return sources, skipped
}

func newSource(name string, s Settings, o Options) token.Source {
	for _, e := range table {
		if e.name == name {
			return e.new(s, o)
		}
	}
	return nil
}

// identityEscaper is read-only after initialisation.
var identityEscaper = strings.NewReplacer("%", "%25", ",", "%2C", "=", "%3D")

// identityOf formats "name:k=v,k=v" with empty values left out. Values are
// escaped so that no two different settings give the same string.
func identityOf(name string, kv ...string) string {
	esc := identityEscaper
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+esc.Replace(kv[i+1]))
		}
	}
	if len(parts) == 0 {
		return name
	}
	return name + ":" + strings.Join(parts, ",")
}
