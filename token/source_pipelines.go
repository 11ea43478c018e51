package token

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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
// through SourceOptions.Getenv and errors are short and redacted.
//
// The service connection names its service principal, and its ID token is
// issued for that principal's federated credential alone, so the client and
// tenant go with the connection: when AZURESUBSCRIPTION_CLIENT_ID or
// AZURESUBSCRIPTION_TENANT_ID is set (the AzureCLI@2 task sets both), both
// come from there and SourceSettings' ClientID and TenantID are ignored,
// however they were set; one without the other is a misconfiguration, not a
// reason to pair the connection's client with another tenant. Only when
// neither is set (a step that names the connection by hand) do ClientID and
// TenantID apply, both of them.
type pipelinesSource struct {
	s SourceSettings
	o SourceOptions
}

func (p *pipelinesSource) Name() string { return SourcePipelines }

// ids returns the identity used and whether it is the service
// connection's (AZURESUBSCRIPTION_*) rather than SourceSettings'.
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
	return srcIdentity(SourcePipelines, "client_id", clientID, "tenant", tenantID, "service_connection", conn, "authority", p.s.AuthorityHost)
}

func (p *pipelinesSource) check() (unavailable, misconfigured string) {
	if p.o.Getenv(envPipelinesOIDCURI) == "" {
		return envPipelinesOIDCURI + " is not set: not an Azure Pipelines job", ""
	}
	clientID, tenantID, conn, fromConnection := p.ids()
	if conn == "" {
		return envPipelinesConnectionID + " is not set: run the helper in an AzureCLI@2 task with a service connection, or set it to the service connection's ID", ""
	}
	if n := srcRequire(envPipelinesClientID, clientID, envPipelinesTenantID, tenantID); n != "" {
		if fromConnection {
			return "", fmt.Sprintf("%s is set but %s is not: the service connection's client and tenant are used together; set both to the service connection's service principal (client) ID and tenant, or neither to use DOCKER_CREDENTIAL_ACR_CLIENT_ID and DOCKER_CREDENTIAL_ACR_TENANT_ID (or AZURE_CLIENT_ID and AZURE_TENANT_ID)", srcOther(n), n)
		}
		return "", envPipelinesConnectionID + " is set without the service principal it stands for: set " + envPipelinesClientID + " and " + envPipelinesTenantID + ", or a client ID and a tenant (DOCKER_CREDENTIAL_ACR_CLIENT_ID and DOCKER_CREDENTIAL_ACR_TENANT_ID, the config file, or AZURE_CLIENT_ID and AZURE_TENANT_ID), to the service connection's service principal (client) ID and tenant"
	}
	if p.o.Getenv(envPipelinesAccessToken) == "" {
		return "", srcMissing(envPipelinesConnectionID, envPipelinesAccessToken, "map it in the step: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)")
	}
	return "", ""
}

func (p *pipelinesSource) EntraToken(ctx context.Context, c Cloud, scope string) (EntraToken, error) {
	if err := srcCheckError(p); err != nil {
		return EntraToken{}, err
	}
	clientID, tenantID, conn, fromConnection := p.ids()
	if fromConnection && (p.s.ClientID != "" && p.s.ClientID != clientID || p.s.TenantID != "" && p.s.TenantID != tenantID) {
		p.o.Logger.Info("using the service connection's client and tenant (AZURESUBSCRIPTION_CLIENT_ID, AZURESUBSCRIPTION_TENANT_ID), not the configured ones",
			"source", SourcePipelines, "client_id", clientID, "tenant", tenantID, "ignored_client_id", p.s.ClientID, "ignored_tenant", p.s.TenantID)
	}
	h, err := srcConfidentialContext(SourcePipelines, p.s, c, clientID, tenantID)
	if err != nil {
		return EntraToken{}, err
	}
	bearer := p.o.Getenv(envPipelinesAccessToken)
	u, err := srcCIURL(SourcePipelines, envPipelinesOIDCURI, p.o.Getenv(envPipelinesOIDCURI), "the Azure Pipelines agent")
	if err != nil {
		return EntraToken{}, err
	}
	q := "api-version=7.1&serviceConnectionId=" + url.QueryEscape(conn)
	if u.RawQuery == "" {
		u.RawQuery = q
	} else {
		u.RawQuery += "&" + q
	}
	req := srcOIDCRequest{
		source:  SourcePipelines,
		service: "Azure DevOps' OIDC token service",
		method:  http.MethodPost,
		url:     u,
		bearer:  bearer,
		// Ask for a 401 rather than a redirect to a sign-in page when the
		// access token is refused.
		header: map[string]string{"X-TFS-FedAuthRedirect": "Suppress"},
		field:  "oidcToken",
		hint:   "check " + envPipelinesConnectionID + ", that this pipeline is authorised to use the service connection, and that SYSTEM_ACCESSTOKEN is mapped from $(System.AccessToken)",
	}
	fetch := func(ctx context.Context) (string, error) { return srcFetchOIDC(ctx, p.o, req) }
	return srcTokenWithAssertion(ctx, h, p.o, scope, fetch, bearer)
}

// srcOther names the other half of the service connection's identity.
func srcOther(name string) string {
	if name == envPipelinesClientID {
		return envPipelinesTenantID
	}
	return envPipelinesClientID
}
