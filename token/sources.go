package token

import (
	"cmp"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The names of the identity sources, as used in DOCKER_CREDENTIAL_ACR_SOURCES
// and the config file.
const (
	SourceEnv       = "env"       // service principal: AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH
	SourceWorkload  = "workload"  // federated token file or AZURE_FEDERATED_TOKEN (AKS, GitLab, any OIDC CI)
	SourceGitHub    = "github"    // GitHub Actions OIDC
	SourcePipelines = "pipelines" // Azure Pipelines service connection with workload identity federation
	SourceManaged   = "managed"   // managed identity: IMDS, App Service, Container Apps, Arc, ...
	SourceCLI       = "cli"       // Azure CLI login
	SourceAzd       = "azd"       // Azure Developer CLI login
)

// SourceSettings selects the identity. The front end fills it from
// environment variables and the per-registry config file.
type SourceSettings struct {
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

// SourceOptions are the process-level dependencies of the sources.
type SourceOptions struct {
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
	// azcore's default transport for Entra; for managed identity endpoints
	// a client that never uses a proxy (HTTP_PROXY would see the Entra
	// token, or answer with the proxy's own identity); for the CI token
	// services a client that honours the proxy settings but follows no
	// redirect. A Transport given here is used as is for all of them.
	Transport policy.Transporter
	// LookPath finds az and azd. Nil means exec.LookPath.
	LookPath func(string) (string, error)

	// dial replaces the dialer of the clients built when Transport is nil,
	// so that tests can reach 169.254.169.254 on loopback.
	dial srcDialFunc
}

func (o SourceOptions) normalized() SourceOptions {
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
	Source
	// check returns a non-empty unavailable reason when the source's
	// environment is absent, or a non-empty misconfigured reason when it is
	// present but incomplete. The automatic order skips the source in both
	// cases; an explicitly listed source reports the first as unavailable and
	// the second as a failure.
	check() (unavailable, misconfigured string)
}

// srcCheckError is the error a configuredSource's EntraToken returns when
// check finds its environment absent (unavailable, so that the next source
// is tried) or incomplete (a failure), and nil when it is complete.
func srcCheckError(c configuredSource) error {
	unavail, misconf := c.check()
	switch {
	case unavail != "":
		return srcUnavailablef(c.Name(), "%s", unavail)
	case misconf != "":
		return srcErrorf(c.Name(), "%s", misconf)
	}
	return nil
}

// SourceNames lists the valid source names in the automatic order's
// precedence.
func SourceNames() []string {
	names := make([]string, len(srcTable))
	for i, e := range srcTable {
		names[i] = e.name
	}
	return names
}

// srcTable is the one list of sources, in the automatic order's precedence,
// so that a name cannot be valid without a constructor. Read-only.
var srcTable = []struct {
	name string
	new  func(SourceSettings, SourceOptions) Source
}{
	{SourceEnv, func(s SourceSettings, o SourceOptions) Source { return &envSource{s: s, o: o} }},
	{SourceWorkload, func(s SourceSettings, o SourceOptions) Source { return &workloadSource{s: s, o: o} }},
	{SourceGitHub, func(s SourceSettings, o SourceOptions) Source { return &githubSource{s: s, o: o} }},
	{SourcePipelines, func(s SourceSettings, o SourceOptions) Source { return &pipelinesSource{s: s, o: o} }},
	{SourceManaged, func(s SourceSettings, o SourceOptions) Source { return &managedSource{s: s, o: o} }},
	{SourceCLI, func(s SourceSettings, o SourceOptions) Source { return &toolSource{t: srcCLITool, s: s, o: o} }},
	{SourceAzd, func(s SourceSettings, o SourceOptions) Source { return &toolSource{t: srcAzdTool, s: s, o: o} }},
}

// NewSources builds the named sources in the given order. The names are
// checked and normalised by ParseSourceNames. Nothing is read from disk or
// network.
//
// A listed source whose environment is entirely absent (no GitHub Actions
// variables for github, say) is built all the same: its EntraToken reports
// it unavailable, so that the next listed source is tried, and the final
// error, if none is available, gives the reason. A source whose environment
// is present but incomplete fails instead, naming what is missing.
func NewSources(names []string, s SourceSettings, o SourceOptions) ([]Source, error) {
	o = o.normalized()
	names, err := ParseSourceNames(names)
	if err != nil {
		return nil, fmt.Errorf("identity sources: %w", err)
	}
	out := make([]Source, 0, len(names))
	for _, n := range names {
		out = append(out, newSource(n, s, o))
	}
	return out, nil
}

// AutoSources returns the automatic order: in SourceNames order, the sources
// whose environment variables are present and complete, and for each other
// one a reason for the debug log and the final error ("github:
// ACTIONS_ID_TOKEN_REQUEST_URL is not set ..."). It only reads environment
// variables, so that the cached path can afford it. managed, cli and azd are
// always included: whether IMDS answers, or az and azd are on PATH, is found
// out (quickly) only when a token is needed, and a missing one is then
// reported as unavailable, so the next source is tried.
func AutoSources(s SourceSettings, o SourceOptions) (sources []Source, skipped []string) {
	o = o.normalized()
	for _, e := range srcTable {
		src := e.new(s, o)
		if c, ok := src.(configuredSource); ok {
			// Either reason skips the source; check sets at most one.
			if unavail, misconf := c.check(); unavail != "" || misconf != "" {
				skipped = append(skipped, e.name+": "+cmp.Or(unavail, misconf))
				continue
			}
		}
		sources = append(sources, src)
	}
	return sources, skipped
}

func newSource(name string, s SourceSettings, o SourceOptions) Source {
	for _, e := range srcTable {
		if e.name == name {
			return e.new(s, o)
		}
	}
	return nil
}

// srcIdentityEscaper is read-only after initialisation.
var srcIdentityEscaper = strings.NewReplacer("%", "%25", ",", "%2C", "=", "%3D")

// srcIdentity formats "name:k=v,k=v" with empty values left out. Values are
// escaped so that no two different settings give the same string.
func srcIdentity(name string, kv ...string) string {
	esc := srcIdentityEscaper
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

// srcAuthority returns the Entra authority host for a confidential-client
// source: the explicit override, else the registry's cloud, else the public
// cloud. It must be an absolute https URL.
func srcAuthority(s SourceSettings, c Cloud) (string, error) {
	host, from := s.AuthorityHost, "AZURE_AUTHORITY_HOST"
	if host == "" {
		host, from = c.AuthorityHost, "the "+c.Name+" cloud's authority host"
	}
	if host == "" {
		host = PublicCloud().AuthorityHost
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s %q is not a URL: use e.g. https://login.microsoftonline.com/", from, safetext.Printable(host))
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%s %q is not https: Entra tokens are only requested over https; use e.g. https://login.microsoftonline.com/", from, safetext.Printable(host))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s %q must be a plain https://host/ URL", from, safetext.Printable(u.Redacted()))
	}
	if !strings.HasSuffix(host, "/") {
		host += "/"
	}
	return host, nil
}

// srcEntraClientOptions configures azidentity's confidential-client
// credentials. Retries are few and short: docker waits for us, and Entra's
// transient failures clear within seconds or not at all. TryTimeout bounds a
// hung connection even when the caller set no deadline.
// The recorder, if not nil, keeps the last transport error, which MSAL
// replaces with a bare "unable to resolve an endpoint".
func srcEntraClientOptions(authority string, o SourceOptions, rec *srcNetRecorder) azcore.ClientOptions {
	var perRetry []policy.Policy
	if rec != nil {
		perRetry = append(perRetry, rec)
	}
	return azcore.ClientOptions{
		PerRetryPolicies: perRetry,
		Cloud:            cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
		Retry: policy.RetryOptions{
			MaxRetries:    2,
			RetryDelay:    500 * time.Millisecond,
			MaxRetryDelay: 4 * time.Second,
			TryTimeout:    20 * time.Second,
		},
		Transport: o.Transport,
		Telemetry: policy.TelemetryOptions{ApplicationID: "docker-credential-acr"},
	}
}
