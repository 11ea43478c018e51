package identity

import (
	"context"
	"net/http"
	"net/url"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Environment of a GitHub Actions job whose workflow has
// "permissions: id-token: write".
const (
	envGitHubTokenURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	envGitHubTokenToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// federatedAudience is the audience Entra expects in federated tokens,
// and the default of azure/login and of federated identity credentials.
const federatedAudience = "api://AzureADTokenExchange"

// githubSource is GitHub Actions OIDC: the job's ID token, requested for
// Entra's audience, is the client assertion for AZURE_CLIENT_ID in
// AZURE_TENANT_ID. ID tokens live minutes, so one is requested for every
// Entra token, never kept.
type githubSource struct{ appSource }

func (g *githubSource) check() *token.SourceError {
	// The runner sets both or neither; one alone was set by hand.
	hasURL, hasToken := g.o.Getenv(envGitHubTokenURL) != "", g.o.Getenv(envGitHubTokenToken) != ""
	switch {
	case !hasURL && !hasToken:
		return unavailablef(GitHub, "%s is not set: not a GitHub Actions job, or the workflow lacks \"permissions: id-token: write\"", envGitHubTokenURL)
	case !hasToken:
		return incomplete(GitHub, missingText(envGitHubTokenURL, envGitHubTokenToken, "the GitHub Actions runner sets both when the workflow has \"permissions: id-token: write\"; don't set them by hand"))
	case !hasURL:
		return incomplete(GitHub, missingText(envGitHubTokenToken, envGitHubTokenURL, "the GitHub Actions runner sets both when the workflow has \"permissions: id-token: write\"; don't set them by hand"))
	}
	if n := firstMissing("AZURE_CLIENT_ID", g.s.ClientID, "AZURE_TENANT_ID", g.s.TenantID); n != "" {
		return incomplete(GitHub, "this GitHub Actions job can get an ID token, but "+n+" is not set: set it to the app registration or user-assigned identity that has a federated credential for this repository")
	}
	return nil
}

func (g *githubSource) EntraToken(ctx context.Context, c token.Cloud, scope string) (token.EntraToken, error) {
	h, err := checkedContext(g, g.s, c)
	if err != nil {
		return token.EntraToken{}, err
	}
	// The runner's URL already has a query (api-version): ciURL adds to
	// it, as GitHub's own toolkit does.
	u, err := ciURL(GitHub, envGitHubTokenURL, g.o.Getenv(envGitHubTokenURL), "the GitHub Actions runner", "audience="+url.QueryEscape(federatedAudience))
	if err != nil {
		return token.EntraToken{}, err
	}
	req := oidcRequest{
		source:  GitHub,
		service: "GitHub Actions' ID token service",
		method:  http.MethodGet,
		url:     u,
		bearer:  g.o.Getenv(envGitHubTokenToken),
		field:   "value",
		hint:    "the job's request token (" + envGitHubTokenToken + ") is valid only inside the running job, and the workflow or job needs \"permissions: id-token: write\"",
	}
	return tokenWithOIDC(ctx, h, g.o, scope, req)
}
