package token

import (
	"context"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
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

// srcConfidentialContext resolves and checks what every confidential-client
// source needs before it may touch the network.
func srcConfidentialContext(source string, s SourceSettings, c Cloud, clientID, tenantID string) (srcHintContext, error) {
	h := srcHintContext{source: source, clientID: clientID, tenantID: tenantID, net: &srcNetRecorder{}}
	authority, err := srcAuthority(s, c)
	if err != nil {
		return h, srcErrorf(source, "%v", err)
	}
	h.authority = authority
	if !ValidTenantID(tenantID) {
		return h, srcErrorf(source, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", safetext.Printable(tenantID))
	}
	return h, nil
}

// srcTokenWithAssertion gets a token for h.clientID in h.tenantID, with a
// client assertion from fetch. fetch runs once per Entra token request; its
// error, already a SourceError, is returned as is.
func srcTokenWithAssertion(ctx context.Context, h srcHintContext, o SourceOptions, scope string, fetch func(context.Context) (string, error), secrets ...string) (EntraToken, error) {
	var (
		fetchErr  error
		assertion string
		claims    *srcAssertionClaims
	)
	getAssertion := func(ctx context.Context) (string, error) {
		a, err := fetch(ctx)
		if err != nil {
			fetchErr = err
			return "", err
		}
		assertion, claims = a, srcPeekAssertion(a)
		return a, nil
	}
	cred, err := azidentity.NewClientAssertionCredential(h.tenantID, h.clientID, getAssertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            srcEntraClientOptions(h.authority, o, h.net),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return EntraToken{}, srcErrorf(h.source, "setting up the client assertion credential: %s", safetext.Redact(err.Error(), secrets...))
	}
	tok, err := srcGetToken(ctx, cred, scope)
	if err != nil {
		if fetchErr != nil {
			return EntraToken{}, fetchErr
		}
		h.assertion = claims
		return EntraToken{}, srcEntraFailure(ctx, h, err, append(secrets, assertion)...)
	}
	srcLogToken(o, h.source, tok)
	return tok, nil
}

func srcGetToken(ctx context.Context, cred azcore.TokenCredential, scope string) (EntraToken, error) {
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return EntraToken{}, err
	}
	return EntraToken{Token: at.Token, ExpiresOn: at.ExpiresOn}, nil
}

// srcLogToken logs what only the source knows about the token it got: when
// it expires. The provider logs that a token was got, with the source,
// identity and scope.
func srcLogToken(o SourceOptions, source string, tok EntraToken) {
	o.Logger.Debug("Entra token lifetime", "source", source, "expires", tok.ExpiresOn.Format(time.RFC3339), "valid_for", time.Until(tok.ExpiresOn).Round(time.Second).String())
}

// srcRequire names the first missing variable among pairs of (name, value).
func srcRequire(kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			return kv[i]
		}
	}
	return ""
}

func srcMissing(what, name, why string) string {
	return fmt.Sprintf("%s is set but %s is not: %s", what, name, why)
}
