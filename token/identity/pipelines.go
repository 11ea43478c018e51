package identity

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Environment of an Azure Pipelines job using a service connection with
// workload identity federation. The AzureCLI@2 task sets the
// AZURESUBSCRIPTION_* variables; SYSTEM_ACCESSTOKEN must be mapped by the
// pipeline (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)).
const (
	envPipelinesConnectionID = "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"
	envPipelinesClientID     = "AZURESUBSCRIPTION_CLIENT_ID"
	envPipelinesTenantID     = "AZURESUBSCRIPTION_TENANT_ID"
	envPipelinesAccessToken  = "SYSTEM_ACCESSTOKEN"
	envPipelinesOIDCURI      = "SYSTEM_OIDCREQUESTURI"
)

// pipelinesSource is an Azure Pipelines service connection: Azure DevOps
// issues an ID token for the service connection, which is the client
// assertion for the connection's service principal.
//
// It speaks the protocol of azidentity's AzurePipelinesCredential itself
// (POST SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=…, bearer
// SYSTEM_ACCESSTOKEN, answer {"oidcToken"}) instead of calling it, because
// that credential reads SYSTEM_OIDCREQUESTURI from the process environment
// and puts whole response bodies in its errors; here every variable comes
// through Options.Getenv and errors are short and redacted.
//
// The service connection names its service principal, and its ID token is
// issued for that principal's federated credential alone, so the client and
// tenant go with the connection: when AZURESUBSCRIPTION_CLIENT_ID or
// AZURESUBSCRIPTION_TENANT_ID is set (the AzureCLI@2 task sets both), both
// come from there and Settings' ClientID and TenantID are ignored,
// however they were set; one without the other is a misconfiguration, not a
// reason to pair the connection's client with another tenant. Only when
// neither is set (a step that names the connection by hand) do ClientID and
// TenantID apply, both of them.
type pipelinesSource struct {
	s Settings
	o Options
}

func (p *pipelinesSource) Name() string { return Pipelines }

// ids returns the identity used and whether it is the service
// connection's (AZURESUBSCRIPTION_*) rather than Settings'.
func (p *pipelinesSource) ids() (clientID, tenantID, connectionID string, fromConnection bool) {
	connectionID = p.o.Getenv(envPipelinesConnectionID)
	clientID, tenantID = p.o.Getenv(envPipelinesClientID), p.o.Getenv(envPipelinesTenantID)
	if clientID != "" || tenantID != "" {
		return clientID, tenantID, connectionID, true
	}
	return p.s.ClientID, p.s.TenantID, connectionID, false
}

func (p *pipelinesSource) Identity() string {
	clientID, tenantID, conn, _ := p.ids()
	return identityOf(Pipelines, "client_id", clientID, "tenant", tenantID, "service_connection", conn, "authority", p.s.AuthorityHost)
}

func (p *pipelinesSource) check() *token.SourceError {
	if p.o.Getenv(envPipelinesOIDCURI) == "" {
		return unavailablef(Pipelines, "%s is not set: not an Azure Pipelines job", envPipelinesOIDCURI)
	}
	clientID, tenantID, conn, fromConnection := p.ids()
	if conn == "" {
		return unavailablef(Pipelines, "%s is not set: run the helper in an AzureCLI@2 task with a service connection, or set it to the service connection's ID", envPipelinesConnectionID)
	}
	if n := firstMissing(envPipelinesClientID, clientID, envPipelinesTenantID, tenantID); n != "" {
		if fromConnection {
			e := incomplete(Pipelines, fmt.Sprintf("%s is set but %s is not: the service connection's client and tenant are used together; set both to the service connection's service principal (client) ID and tenant, or neither to use the client ID and tenant given to the source (AZURE_CLIENT_ID and AZURE_TENANT_ID)", otherHalf(n), n))
			e.Remedy = token.RemedyClientTenant
			return e
		}
		e := incomplete(Pipelines, envPipelinesConnectionID+" is set without the service principal it stands for: set "+envPipelinesClientID+" and "+envPipelinesTenantID+", or a client ID and a tenant (AZURE_CLIENT_ID and AZURE_TENANT_ID), to the service connection's service principal (client) ID and tenant")
		e.Remedy = token.RemedyClientTenant
		return e
	}
	if p.o.Getenv(envPipelinesAccessToken) == "" {
		return incomplete(Pipelines, missingText(envPipelinesConnectionID, envPipelinesAccessToken, "map it in the step: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)"))
	}
	return nil
}

func (p *pipelinesSource) EntraToken(ctx context.Context, c token.Cloud, scope string) (token.EntraToken, error) {
	if err := checkError(p); err != nil {
		return token.EntraToken{}, err
	}
	clientID, tenantID, conn, fromConnection := p.ids()
	if fromConnection && (p.s.ClientID != "" && p.s.ClientID != clientID || p.s.TenantID != "" && p.s.TenantID != tenantID) {
		p.o.Logger.Info("using the service connection's client and tenant (AZURESUBSCRIPTION_CLIENT_ID, AZURESUBSCRIPTION_TENANT_ID), not the configured ones",
			"source", Pipelines, "client_id", clientID, "tenant", tenantID, "ignored_client_id", p.s.ClientID, "ignored_tenant", p.s.TenantID)
	}
	h, err := confidentialContext(Pipelines, p.s, c, clientID, tenantID)
	if err != nil {
		return token.EntraToken{}, err
	}
	u, err := ciURL(Pipelines, envPipelinesOIDCURI, p.o.Getenv(envPipelinesOIDCURI), "the Azure Pipelines agent", "api-version=7.1&serviceConnectionId="+url.QueryEscape(conn))
	if err != nil {
		return token.EntraToken{}, err
	}
	req := oidcRequest{
		source:  Pipelines,
		service: "Azure DevOps' OIDC token service",
		method:  http.MethodPost,
		url:     u,
		bearer:  p.o.Getenv(envPipelinesAccessToken),
		// Ask for a 401 rather than a redirect to a sign-in page when the
		// access token is refused.
		header: map[string]string{"X-TFS-FedAuthRedirect": "Suppress"},
		field:  "oidcToken",
		hint:   "check " + envPipelinesConnectionID + ", that this pipeline is authorised to use the service connection, and that SYSTEM_ACCESSTOKEN is mapped from $(System.AccessToken)",
	}
	return tokenWithOIDC(ctx, h, p.o, scope, req)
}

// otherHalf names the other half of the service connection's identity.
func otherHalf(name string) string {
	if name == envPipelinesClientID {
		return envPipelinesTenantID
	}
	return envPipelinesClientID
}
