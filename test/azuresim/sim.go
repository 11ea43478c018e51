// Package azuresim is a simulated Azure for end-to-end tests of
// docker-credential-acr: the instance metadata service (IMDS) that managed
// identity uses, Microsoft Entra ID's token endpoints, and the front of
// Azure Container Registry (challenge, token exchange, access tokens) ahead
// of a real distribution registry.
//
// The simulator is meant to be reached under the real names
// (169.254.169.254, login.microsoftonline.com, myreg.azurecr.io) inside a
// private network namespace, so that the helper under test runs unmodified.
// It counts every request per endpoint and remembers which identity each
// exchange was for, so tests can assert "exactly one exchange" and "no
// Entra token went anywhere but a login server".
package azuresim

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint names used in counts and request records.
const (
	EndpointIMDS       = "imds" // token requests (with the Metadata header)
	EndpointIMDSProbe  = "imds.probe"
	EndpointDiscovery  = "entra.discovery" // instance discovery
	EndpointOpenID     = "entra.openid"    // tenant OpenID configuration
	EndpointEntraToken = "entra.token"
	EndpointChallenge  = "acr.challenge" // GET /v2/ without credentials
	EndpointExchange   = "acr.exchange"
	EndpointACRToken   = "acr.token" // /oauth2/token: access tokens for clients
	EndpointProxy      = "acr.proxy" // everything passed on to the registry
	EndpointAz         = "az"        // the fake Azure CLI asked for a token
	EndpointGitHubOIDC = "ci.github" // a GitHub Actions job asked for an ID token
	EndpointPipelines  = "ci.pipelines"
	EndpointTLSHello   = "tls.hello" // a TLS handshake began (by SNI)
	EndpointUnknown    = "unknown"   // a host or path the simulator does not serve
)

// IMDSHost is the address managed identity reaches, hard-coded in MSAL.
const IMDSHost = "169.254.169.254"

// Audiences the exchange knows.
const (
	ACRAudience = "https://containerregistry.azure.net"
	ARMAudience = "https://management.azure.com"
)

// ACRIssuer is the `iss` of ACR's refresh and access tokens.
const ACRIssuer = "Azure Container Registry"

// FederatedAudience is the audience Entra requires of federated assertions.
const FederatedAudience = "api://AzureADTokenExchange"

// Simulated CI token services, served over TLS like the rest, and the
// issuers of the ID tokens they hand out.
const (
	// GitHubTokenHost serves ACTIONS_ID_TOKEN_REQUEST_URL: GET with the
	// job's bearer token and ?audience=, answering {"value": <ID token>}.
	GitHubTokenHost = "pipelines.actions.githubusercontent.com"
	GitHubIssuer    = "https://token.actions.githubusercontent.com"
	// PipelinesHost serves SYSTEM_OIDCREQUESTURI: POST with the job's
	// bearer token and ?serviceConnectionId=, answering {"oidcToken": …}.
	PipelinesHost   = "dev.azure.com"
	PipelinesIssuer = "https://vstoken.dev.azure.com/00000000-0000-4000-8000-0000000000de"
)

// Options configure a Sim. Zero values take the defaults noted.
type Options struct {
	// Registries are the login servers of the ACR front, e.g.
	// "myreg.azurecr.io". At least one is needed.
	Registries []string
	// TenantID is the tenant of the simulated identities. Default
	// "72f988bf-0000-4000-8000-00000000d0c5".
	TenantID string
	// AuthorityHosts are the Entra hosts served. Default
	// login.microsoftonline.com.
	AuthorityHosts []string
	// OIDCIssuer is the issuer of federated (workload identity) tokens.
	// Default "https://oidc.azuresim.test/".
	OIDCIssuer string
	// NoSystemAssigned removes the VM's system-assigned identity, so IMDS
	// answers only for user-assigned ones.
	NoSystemAssigned bool
	// EntraTokenLifetime, RefreshTokenLifetime and AccessTokenLifetime set
	// token lifetimes. Defaults: 24 h (IMDS issues day-long tokens), 3 h 15
	// min (as a real ACR refresh token), 75 min.
	EntraTokenLifetime   time.Duration
	RefreshTokenLifetime time.Duration
	AccessTokenLifetime  time.Duration
	// Delay is the initial D of SetDelay (delay.go): every TLS handshake
	// and every answer waits this long. Default 0.
	Delay time.Duration
}

// Principal is an identity the simulated Entra issues tokens for.
type Principal struct {
	// Kind is "managed", "workload", "app" or "cli".
	Kind     string `json:"kind"`
	ClientID string `json:"client_id,omitempty"`
	ObjectID string `json:"object_id"`
	TenantID string `json:"tenant_id"`
}

// String names the principal in records and messages, e.g.
// "managed:system" or "workload:2222…".
func (p Principal) String() string {
	switch {
	case p.Kind == "managed" && p.ClientID == "":
		return "managed:system"
	case p.ClientID != "":
		return p.Kind + ":" + p.ClientID
	default:
		return p.Kind + ":" + p.ObjectID
	}
}

// App is an Entra application registration (service principal).
type App struct {
	ClientID string
	TenantID string // default: the Sim's tenant
	// Secret, if set, is accepted as client_secret.
	Secret string
	// Federated lists the external tokens (issuer, subject) this app
	// trusts, as a federated identity credential does.
	Federated []FederatedCredential
	// Certificates are accepted for signed client assertions (iss = sub
	// = the client ID, aud = the token endpoint, RS256 or PS256).
	Certificates []*x509.Certificate
	// Kind names the principal in records; default "app", or "workload"
	// when Federated is set.
	Kind string
	// AcceptAssertion, when set, decides which federated assertions (those
	// that are not certificate assertions) the app trusts, instead of
	// Federated and the simulated issuers' keys: for unit tests whose CI
	// fakes sign their own tokens.
	AcceptAssertion func(assertion string) bool
	// Fail, when set, is Entra's answer to every token request for the
	// app, whatever credential it presents.
	Fail *EntraFailure
}

// EntraFailure is an Entra error answer: HTTP status, OAuth error and
// AADSTS code, and the description after "AADSTSnnn: ".
type EntraFailure struct {
	Status int    // e.g. 400
	Error  string // e.g. "invalid_resource"
	Code   int    // e.g. 500011
	Text   string
}

// EntraTokenRequest is one request the simulated Entra token endpoint
// parsed, with what it presented.
type EntraTokenRequest struct {
	Tenant, ClientID, Scope string
	// Auth is "secret", "certificate" (a client assertion the app signed
	// itself: iss is its client ID) or "assertion" (a federated token).
	Auth string
	// Assertion is the client assertion as sent, for tests that check
	// which token was presented.
	Assertion string
}

// FederatedCredential is one trusted external identity: an assertion
// must match its issuer, its subject and one of its audiences.
type FederatedCredential struct {
	Issuer  string
	Subject string
	// Audiences default to Entra's api://AzureADTokenExchange.
	Audiences []string
}

// Sim is the simulated Azure. Its handlers are safe for concurrent use.
type Sim struct {
	opts Options

	entraKey *signingKey // signs Entra tokens
	acrKey   *signingKey // signs ACR refresh and access tokens; trusted by the registry
	oidcKey  *signingKey // signs federated (workload identity) tokens

	mu         sync.Mutex
	registries map[string]*registry
	managed    map[string]Principal // by client ID; "" is system-assigned
	apps       map[string]App
	principals map[string]Principal // by object ID
	cliUser    Principal
	ciJobs     map[string]ciJob          // by the job's bearer token
	clusters   map[string]*rsa.PublicKey // trusted cluster issuers' keys (cluster.go)
	assertions []Assertion               // federated assertions judged (cluster.go)
	issued     map[string]bool           // Entra tokens handed out
	counts     map[string]int
	exchanges  []Exchange
	requests   []Request
	tokenReqs  []EntraTokenRequest

	delay   atomic.Int64 // D of delay.go, in nanoseconds
	planted planted      // misbehaviour planted while serving (faults.go)
}

type registry struct {
	upstream *url.URL
	proxy    http.Handler
	allowARM bool
}

// New makes a simulator with fresh keys, a system-assigned managed
// identity (unless opts.NoSystemAssigned) and an Azure CLI user.
func New(opts Options) (*Sim, error) {
	if len(opts.Registries) == 0 {
		return nil, fmt.Errorf("azuresim: no registries given")
	}
	if opts.TenantID == "" {
		opts.TenantID = "72f988bf-0000-4000-8000-00000000d0c5"
	}
	if len(opts.AuthorityHosts) == 0 {
		opts.AuthorityHosts = []string{"login.microsoftonline.com"}
	}
	if opts.OIDCIssuer == "" {
		opts.OIDCIssuer = "https://oidc.azuresim.test/"
	}
	if opts.EntraTokenLifetime == 0 {
		opts.EntraTokenLifetime = 24 * time.Hour
	}
	if opts.RefreshTokenLifetime == 0 {
		opts.RefreshTokenLifetime = 3*time.Hour + 15*time.Minute
	}
	if opts.AccessTokenLifetime == 0 {
		opts.AccessTokenLifetime = 75 * time.Minute
	}
	s := &Sim{
		opts:       opts,
		registries: map[string]*registry{},
		managed:    map[string]Principal{},
		apps:       map[string]App{},
		principals: map[string]Principal{},
		issued:     map[string]bool{},
		counts:     map[string]int{},
		ciJobs:     map[string]ciJob{},
	}
	s.SetDelay(opts.Delay)
	var err error
	if s.entraKey, err = newSigningKey("azuresim Entra ID"); err != nil {
		return nil, err
	}
	if s.acrKey, err = newSigningKey("azuresim Azure Container Registry"); err != nil {
		return nil, err
	}
	if s.oidcKey, err = newSigningKey("azuresim OIDC issuer"); err != nil {
		return nil, err
	}
	for _, h := range opts.Registries {
		s.registries[strings.ToLower(h)] = &registry{}
	}
	if !opts.NoSystemAssigned {
		s.managed[""] = s.addPrincipal(Principal{Kind: "managed", ObjectID: newGUID(), TenantID: opts.TenantID})
	}
	s.cliUser = Principal{Kind: "cli", ObjectID: newGUID(), TenantID: opts.TenantID}
	s.principals[s.cliUser.ObjectID] = s.cliUser
	return s, nil
}

// TenantID is the simulated identities' tenant.
func (s *Sim) TenantID() string { return s.opts.TenantID }

// Registries are the login servers served, in the order given.
func (s *Sim) Registries() []string { return slices.Clone(s.opts.Registries) }

// AuthorityHosts are the Entra hosts served.
func (s *Sim) AuthorityHosts() []string { return slices.Clone(s.opts.AuthorityHosts) }

// Hosts are all the DNS names the TLS listener should have in its
// certificate and the hosts file should map to it.
func (s *Sim) Hosts() []string {
	h := append(s.Registries(), s.opts.AuthorityHosts...)
	return append(h, GitHubTokenHost, PipelinesHost)
}

// OIDCIssuer is the issuer of the tokens FederatedToken makes.
func (s *Sim) OIDCIssuer() string { return s.opts.OIDCIssuer }

// TokenCertPEM is the certificate of the key that signs ACR tokens: the
// distribution registry's rootcertbundle.
func (s *Sim) TokenCertPEM() []byte { return slices.Clone(s.acrKey.certPEM) }

// SetUpstream makes the ACR front for host pass everything but the token
// endpoints to the registry at u (e.g. http://127.0.0.1:5001).
func (s *Sim) SetUpstream(host string, u *url.URL) error {
	return s.updateRegistry(host, func(r *registry) {
		r.upstream = u
		r.proxy = newProxy(u)
	})
}

// AllowARMAudience sets host's azureADAuthenticationAsArmPolicy: when
// allowed, the exchange accepts ARM-audience Entra tokens too.
func (s *Sim) AllowARMAudience(host string, allow bool) error {
	return s.updateRegistry(host, func(r *registry) { r.allowARM = allow })
}

// updateRegistry applies change to host's registry under the lock, so that
// the handlers never see a half-made change.
func (s *Sim) updateRegistry(host string, change func(*registry)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.registries[strings.ToLower(host)]
	if !ok {
		return fmt.Errorf("azuresim: %s is not a simulated registry", host)
	}
	change(r)
	return nil
}

// SystemAssigned returns the VM's system-assigned identity; ok is false
// when the simulator was made without one.
func (s *Sim) SystemAssigned() (p Principal, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok = s.managed[""]
	return p, ok
}

// AddUserAssignedIdentity attaches a user-assigned managed identity with
// clientID to the simulated VM.
func (s *Sim) AddUserAssignedIdentity(clientID string) Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.addPrincipal(Principal{Kind: "managed", ClientID: clientID, ObjectID: newGUID(), TenantID: s.opts.TenantID})
	s.managed[clientID] = p
	return p
}

// AddApp registers an application (service principal) in Entra.
func (s *Sim) AddApp(a App) Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.TenantID == "" {
		a.TenantID = s.opts.TenantID
	}
	if a.Kind == "" {
		a.Kind = "app"
		if len(a.Federated) > 0 {
			a.Kind = "workload"
		}
	}
	s.apps[a.ClientID] = a
	return s.addPrincipal(Principal{Kind: a.Kind, ClientID: a.ClientID, ObjectID: newGUID(), TenantID: a.TenantID})
}

// CLIUser is the user the fake Azure CLI is logged in as.
func (s *Sim) CLIUser() Principal { return s.cliUser }

func (s *Sim) addPrincipal(p Principal) Principal {
	s.principals[p.ObjectID] = p
	return p
}

func (s *Sim) appPrincipal(clientID string) (Principal, bool) {
	for _, p := range s.principals {
		if p.ClientID == clientID && p.Kind != "managed" {
			return p, true
		}
	}
	return Principal{}, false
}
