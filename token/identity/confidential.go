package identity

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// This file holds what the confidential-client sources (env, workload,
// github, pipelines) share: they authenticate an application registration
// in a tenant at an Entra authority.
//
// Each EntraToken call builds a new azidentity credential. That costs one
// OpenID-configuration request per Entra token, and buys two things: the
// assertion is fetched afresh for every token (federated tokens are
// short-lived and rotate), and the sources hold no mutable state. The
// provider caches the ACR refresh token for hours, so Entra tokens are
// rare.
//
// Instance discovery is always disabled. For a client-credential flow it
// only adds a request per credential: to the authority's own
// /common/discovery/instance for a well-known authority, or to
// login.microsoft.com to validate any other, which fails in air-gapped and
// private clouds. Our authority comes from the registry's cloud or from the
// user's explicit configuration, so there is nothing to validate.

// confidentialContext resolves and checks what every confidential-client
// source needs before it may touch the network.
func confidentialContext(source string, s Settings, c token.Cloud, clientID, tenantID string) (hintContext, error) {
	h := hintContext{source: source, clientID: clientID, tenantID: tenantID, net: &netRecorder{source: source}}
	authority, err := authorityHost(s, c)
	if err != nil {
		return h, failf(token.KindInvalid, source, "%v", err)
	}
	h.authority = authority
	if !token.ValidTenantID(tenantID) {
		return h, failf(token.KindInvalid, source, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", safetext.Printable(tenantID))
	}
	return h, nil
}

// appSource is what env, workload and github share: each signs in as the
// settings' client in the settings' tenant, and is named and identified
// by them.
type appSource struct {
	name string
	s    Settings
	o    Options
}

func (a *appSource) Name() string { return a.name }

func (a *appSource) Identity() string {
	return identityOf(a.name, "client_id", a.s.ClientID, "tenant", a.s.TenantID, "authority", a.s.AuthorityHost)
}

// checkedContext is the first step of a source whose identity is the
// settings' client and tenant: its check (checkError), then its
// confidentialContext.
func checkedContext(src configuredSource, s Settings, c token.Cloud) (hintContext, error) {
	if err := checkError(src); err != nil {
		return hintContext{}, err
	}
	return confidentialContext(src.Name(), s, c, s.ClientID, s.TenantID)
}

// tokenWithAssertion gets a token for h.clientID in h.tenantID, with a
// client assertion from fetch. fetch runs once per Entra token request; its
// error, already a SourceError, is returned as is.
func tokenWithAssertion(ctx context.Context, h hintContext, o Options, scope string, fetch func(context.Context) (string, error), secrets ...string) (token.EntraToken, error) {
	var (
		fetchErr  error
		assertion string
		claims    *token.Assertion
	)
	getAssertion := func(ctx context.Context) (string, error) {
		a, err := fetch(ctx)
		if err != nil {
			fetchErr = err
			return "", err
		}
		assertion, claims = a, peekAssertion(a)
		return a, nil
	}
	co, release := entraClientOptions(ctx, h.authority, o, h.net)
	defer release()
	cred, err := azidentity.NewClientAssertionCredential(h.tenantID, h.clientID, getAssertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            co,
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return token.EntraToken{}, failf(token.KindInvalid, h.source, "setting up the client assertion credential: %s", safetext.Redact(err.Error(), secrets...))
	}
	tok, err := getToken(ctx, cred, scope)
	if err != nil {
		if fetchErr != nil {
			return token.EntraToken{}, fetchErr
		}
		h.assertion = claims
		return token.EntraToken{}, entraFailure(ctx, h, err, append(secrets, assertion)...)
	}
	logToken(o, h.source, tok)
	return tok, nil
}

func getToken(ctx context.Context, cred azcore.TokenCredential, scope string) (token.EntraToken, error) {
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return token.EntraToken{}, err
	}
	return token.EntraToken{Token: at.Token, ExpiresOn: at.ExpiresOn}, nil
}

// logToken logs what only the source knows about the token it got: when
// it expires. The provider logs that a token was got, with the source,
// identity and scope.
func logToken(o Options, source string, tok token.EntraToken) {
	o.Logger.Debug("Entra token lifetime", "source", source, "expires", tok.ExpiresOn.Format(time.RFC3339), "valid_for", time.Until(tok.ExpiresOn).Round(time.Second).String())
}

// firstMissing names the first missing variable among pairs of (name, value).
func firstMissing(kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			return kv[i]
		}
	}
	return ""
}

func missingText(what, name, why string) string {
	return fmt.Sprintf("%s is set but %s is not: %s", what, name, why)
}

// authorityHost returns the Entra authority host for a confidential-client
// source: the explicit override, else the registry's cloud, else the public
// cloud. It must be an absolute https URL (token.NormalizeAuthorityHost).
func authorityHost(s Settings, c token.Cloud) (string, error) {
	host, from := s.AuthorityHost, "AZURE_AUTHORITY_HOST"
	if host == "" {
		host, from = c.AuthorityHost, "the "+c.Name+" cloud's authority host"
	}
	if host == "" {
		host = token.PublicCloud().AuthorityHost
	}
	norm, problem := token.NormalizeAuthorityHost(host)
	switch problem {
	case "":
		return norm, nil
	case "is not a URL", "has no host":
		return "", fmt.Errorf("%s %q is not a URL: use e.g. https://login.microsoftonline.com/", from, safetext.Printable(host))
	case "must be https":
		return "", fmt.Errorf("%s %q is not https: Entra tokens are only requested over https; use e.g. https://login.microsoftonline.com/", from, safetext.Printable(host))
	}
	shown := host
	if u, err := url.Parse(host); err == nil {
		shown = u.Redacted()
	}
	return "", fmt.Errorf("%s %q must be a plain https://host/ URL", from, safetext.Printable(shown))
}

// entraClientOptions configures azidentity's confidential-client
// credentials. Retries are few and short: docker waits for us, and Entra's
// transient failures clear within seconds or not at all. TryTimeout bounds a
// hung connection even when the caller set no deadline; with one, the
// retries spend ctx's deadline (budgeted), and a Retry-After of a few
// seconds is honoured within it.
// The recorder, if not nil, keeps the last transport error, which MSAL
// replaces with a bare "unable to resolve an endpoint".
//
// Without a caller's Transport, requests go through noRedirectClient, not
// azcore's default client: that one follows redirects, and the token
// request carries a client secret or a client assertion (in kubelet mode,
// a pod's service-account token), which a 307 from the token endpoint
// would take to another host. release frees the client's idle connections.
func entraClientOptions(ctx context.Context, authority string, o Options, rec *netRecorder) (co azcore.ClientOptions, release func()) {
	retry, budget := budgeted(ctx, policy.RetryOptions{
		MaxRetries:    2,
		RetryDelay:    500 * time.Millisecond,
		MaxRetryDelay: 5 * time.Second,
		TryTimeout:    20 * time.Second,
	}, defaultRetryStatuses)
	var perRetry []policy.Policy
	if rec != nil {
		rec.log = o.Logger
		rec.budget = budget
		perRetry = append(perRetry, rec)
	}
	transport, release := noRedirectClient(o)
	return azcore.ClientOptions{
		PerRetryPolicies: perRetry,
		Cloud:            cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
		Retry:            retry,
		Transport:        transport,
		Telemetry:        policy.TelemetryOptions{ApplicationID: "docker-credential-acr"},
	}, release
}
