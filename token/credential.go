package token

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// credentialSource adapts an azcore.TokenCredential chosen by an embedding
// program.
type credentialSource struct {
	name, identity string
	cred           azcore.TokenCredential
}

// FromCredential makes a Source of any azcore.TokenCredential, for programs
// that embed the helper and already hold a credential. identity must name
// the principal (it becomes part of the cache key) and hold no secret. The
// credential is used as it is: its own authority wins over the cloud of the
// registry.
func FromCredential(name, identity string, cred azcore.TokenCredential) Source {
	return credentialSource{name: name, identity: name + ":" + identity, cred: cred}
}

func (c credentialSource) Name() string     { return c.name }
func (c credentialSource) Identity() string { return c.identity }

func (c credentialSource) EntraToken(ctx context.Context, _ Cloud, scope string) (EntraToken, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return EntraToken{}, fmt.Errorf("%s: getting an Entra token for %s: %w", c.name, scope, err)
	}
	return EntraToken{Token: tok.Token, ExpiresOn: tok.ExpiresOn}, nil
}
