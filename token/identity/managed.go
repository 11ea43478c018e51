package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// managedSource is an Azure managed identity: system-assigned, or
// user-assigned by client, resource or object ID.
//
// azidentity (through MSAL) picks the endpoint from the process environment,
// not from Options.Getenv: IDENTITY_ENDPOINT and IDENTITY_HEADER (App
// Service, Container Apps, Functions), IDENTITY_SERVER_THUMBPRINT (Service
// Fabric), MSI_ENDPOINT and MSI_SECRET (Cloud Shell, Azure ML),
// IMDS_ENDPOINT or the himds agent file (Azure Arc); else IMDS. Its tokens
// sit in a process-wide MSAL cache keyed by identity and resource.
//
// For IMDS it sends no probe first (see imdsGuard): the token request is
// the first and only request.
type managedSource struct {
	s Settings
	o Options
}

func (m *managedSource) Name() string { return Managed }

func (m *managedSource) Identity() string {
	if m.s.ClientID == "" && m.s.ResourceID == "" && m.s.ObjectID == "" {
		return Managed + ":system"
	}
	return identityOf(Managed, "client_id", m.s.ClientID, "resource_id", m.s.ResourceID, "object_id", m.s.ObjectID)
}

// id picks the user-assigned identity, if any.
func (m *managedSource) id() (azidentity.ManagedIDKind, string, error) {
	n := 0
	var id azidentity.ManagedIDKind
	var desc string
	if m.s.ClientID != "" {
		n, id, desc = n+1, azidentity.ClientID(m.s.ClientID), fmt.Sprintf("user-assigned identity with client ID %q", m.s.ClientID)
	}
	if m.s.ResourceID != "" {
		n, id, desc = n+1, azidentity.ResourceID(m.s.ResourceID), fmt.Sprintf("user-assigned identity %q", m.s.ResourceID)
	}
	if m.s.ObjectID != "" {
		n, id, desc = n+1, azidentity.ObjectID(m.s.ObjectID), fmt.Sprintf("user-assigned identity with object ID %q", m.s.ObjectID)
	}
	if n > 1 {
		return nil, "", failf(token.KindInvalid, Managed, "more than one of client ID, resource ID and object ID is set: a managed identity is named by one of them")
	}
	if n == 0 {
		return nil, "the system-assigned identity", nil
	}
	return id, desc, nil
}

func (m *managedSource) EntraToken(ctx context.Context, _ token.Cloud, scope string) (token.EntraToken, error) {
	id, desc, err := m.id()
	if err != nil {
		return token.EntraToken{}, err
	}
	kind, err := managedidentity.GetSource()
	if err != nil {
		e := failf(token.KindInvalid, Managed, "detecting the managed identity endpoint from IDENTITY_ENDPOINT, IDENTITY_HEADER, MSI_ENDPOINT and IMDS_ENDPOINT: %s: fix or unset these variables (unset, IMDS is used), or choose another source", safetext.Redact(safetext.FirstLine(err.Error()), m.secrets(nil)...))
		e.Remedy = token.RemedyOtherSource
		return token.EntraToken{}, e
	}
	imds := kind == managedidentity.DefaultToIMDS
	endpoint := managedEndpointName(kind)
	m.o.Logger.Debug("using managed identity", "source", Managed, "endpoint", endpoint, "identity", desc)
	transport, release := managedTransport(m.o, kind)
	defer release()
	rec := &netRecorder{log: m.o.Logger, source: Managed}
	perRetry := []policy.Policy{rec}
	var guard *imdsGuard
	statuses := defaultRetryStatuses
	if imds {
		guard = newIMDSGuard()
		perRetry = append(perRetry, guard)
		statuses = imdsRetryStatuses
	}
	// IMDS throttles (429) and has brief 5xx and 404/410 spells while a VM
	// or identity is being set up; a few short retries ride those out
	// without the defaults' 6 retries from 2 s, within ctx's deadline.
	// MaxRetryDelay admits a Retry-After of a few seconds.
	retry, budget := budgeted(ctx, policy.RetryOptions{
		MaxRetries:    3,
		RetryDelay:    250 * time.Millisecond,
		MaxRetryDelay: 5 * time.Second,
		TryTimeout:    10 * time.Second,
	}, statuses)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			PerRetryPolicies: perRetry,
			Retry:            retry,
			Transport:        transport,
			Telemetry:        policy.TelemetryOptions{ApplicationID: "docker-credential-acr"},
		},
		ID: id,
	})
	if err != nil {
		return token.EntraToken{}, failf(token.KindInvalid, Managed, "setting up %s at the %s: %s", desc, endpoint, safetext.Redact(safetext.FirstLine(err.Error()), m.secrets(nil)...))
	}
	// tctx ends early with the late probe's verdict (see watchIMDS).
	tctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	end := func() {}
	if guard != nil {
		end = watchIMDS(tctx, stop, m.o, transport, guard)
	}
	tok, err := getToken(tctx, cred, scope)
	end()
	if err != nil {
		var late *token.SourceError
		switch {
		case errors.As(context.Cause(tctx), &late) && ctx.Err() == nil:
			return token.EntraToken{}, late
		case guard != nil && guard.verdict() != nil:
			return token.EntraToken{}, guard.verdict()
		}
		return token.EntraToken{}, m.failure(ctx, err, rec, budget, imds, endpoint, desc)
	}
	logToken(m.o, Managed, tok)
	return tok, nil
}

// failure classifies a managed identity error. Like DefaultAzureCredential,
// it treats as unavailable what azidentity reports as such (no
// system-assigned identity on this machine, Docker Desktop's IMDS stand-in)
// and a token answer at the IMDS address that is not JSON (something that
// passed the probe but is not IMDS, or a proxy in a caller's Transport);
// everything else is a failure of an identity that exists.
func (m *managedSource) failure(ctx context.Context, err error, rec *netRecorder, budget *retryBudget, imds bool, endpoint, desc string) error {
	if cerr := canceledError(ctx, Managed, "the "+endpoint, "getting a token for "+desc+" from the "+endpoint, rec); cerr != nil {
		cerr.Endpoint = endpoint
		return cerr
	}
	secrets := m.secrets(rec)
	f := describe(err, secrets...)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		text := strings.TrimPrefix(f.text, "ManagedIdentityCredential: ")
		return unavailablef(Managed, "%s", safetext.Redact(fmt.Sprintf("%s has no usable managed identity: %s: give this machine a system-assigned identity, or name a user-assigned one with AZURE_CLIENT_ID", endpoint, text), secrets...))
	}
	if imds && afe.RawResponse != nil {
		if body, _ := runtime.Payload(afe.RawResponse); !json.Valid(body) {
			return unavailablef(Managed, "%s", safetext.Redact(fmt.Sprintf("something other than Azure IMDS answered the token request at 169.254.169.254 (%s): this is not an Azure VM, scale set or AKS node, or something intercepts 169.254.169.254", f.text), secrets...))
		}
	}
	msg := fmt.Sprintf("the %s refused a token for %s: %s", endpoint, desc, f.text)
	kind := token.KindRefused
	switch {
	case f.status == http.StatusBadRequest && imds && desc != "the system-assigned identity":
		msg += ": assign this identity to the VM, scale set or AKS node pool, or fix the client, resource or object ID"
	case f.status == http.StatusTooManyRequests:
		msg += ": IMDS is throttling requests; retry in a few seconds"
	case f.status == 0:
		nerr := rec.lastError()
		kind = token.KindNetwork
		if tl, ok := asTooLarge(nerr); ok {
			kind = token.KindRefused // an answer, though not one to read
			msg = fmt.Sprintf("the %s gave an answer for %s that is too large: %v", endpoint, desc, tl)
		} else if nerr != nil {
			msg = fmt.Sprintf("could not reach the %s for %s: %s", endpoint, desc, safetext.FirstLine(nerr.Error()))
		} else if t := rec.tried(); t != "" {
			// Each try ran out of its time (TryTimeout) without an answer.
			msg = fmt.Sprintf("no answer from the %s for %s (%s)", endpoint, desc, t)
		}
	default:
		if hint := aadstsHint(f.code, hintContext{source: Managed}); hint != "" {
			msg += ": " + hint
		}
	}
	e := failf(kind, Managed, "%s", safetext.Redact(msg+budget.note(), secrets...))
	e.Code, e.Endpoint, e.ClientID = f.code, endpoint, m.s.ClientID
	if f.status == http.StatusBadRequest && imds && desc != "the system-assigned identity" {
		e.Remedy = token.RemedyAssignIdentity
	}
	return e
}

// managedTransport is the client for the managed identity endpoint kind:
// for IMDS with its connect bounded (imdsConnectTimeout), for Service
// Fabric the plain *http.Client MSAL requires, for the others
// managedClient's.
func managedTransport(o Options, kind managedidentity.Source) (policy.Transporter, func()) {
	switch {
	case kind == managedidentity.DefaultToIMDS:
		return imdsClient(o)
	case kind == managedidentity.ServiceFabric && o.Transport == nil:
		c := uncappedManagedClient(o, 0)
		return c, c.CloseIdleConnections
	case kind == managedidentity.ServiceFabric:
		return o.Transport, func() {}
	}
	return managedClient(o)
}

// secrets are what a managed identity endpoint is given to prove the
// caller runs on the machine, and may echo back: IDENTITY_HEADER (App
// Service, Container Apps, Service Fabric), MSI_SECRET (Azure ML), and
// whatever rec saw sent in a secret header (the same values as MSAL read
// them from the process environment, and Azure Arc's key). Endpoint URLs,
// client IDs and IDENTITY_SERVER_THUMBPRINT (the hash of Service Fabric's
// certificate, which the server shows to anyone) are not secret.
func (m *managedSource) secrets(rec *netRecorder) []string {
	return append([]string{m.o.Getenv("IDENTITY_HEADER"), m.o.Getenv("MSI_SECRET")}, rec.sentSecrets()...)
}

func managedEndpointName(kind managedidentity.Source) string {
	switch kind {
	case managedidentity.DefaultToIMDS:
		return "instance metadata service (IMDS)"
	case managedidentity.AppService:
		return "App Service managed identity endpoint (IDENTITY_ENDPOINT)"
	case managedidentity.ServiceFabric:
		return "Service Fabric managed identity endpoint (IDENTITY_ENDPOINT)"
	case managedidentity.AzureArc:
		return "Azure Arc managed identity endpoint"
	case managedidentity.CloudShell:
		return "Cloud Shell managed identity endpoint (MSI_ENDPOINT)"
	case managedidentity.AzureML:
		return "Azure ML managed identity endpoint (MSI_ENDPOINT)"
	}
	return string(kind) + " managed identity endpoint"
}
