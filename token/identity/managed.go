package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// imdsEndpoint is hard-coded in MSAL too: no setting moves it.
const imdsEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"

// imdsProbeTimeout bounds the check for IMDS, as DefaultAzureCredential
// does: IMDS answers in milliseconds; where it does not exist, packets to
// 169.254.169.254 may be dropped silently and only a timeout tells.
const imdsProbeTimeout = time.Second

// managedSource is an Azure managed identity: system-assigned, or
// user-assigned by client, resource or object ID.
//
// azidentity (through MSAL) picks the endpoint from the process environment,
// not from Options.Getenv: IDENTITY_ENDPOINT and IDENTITY_HEADER (App
// Service, Container Apps, Functions), IDENTITY_SERVER_THUMBPRINT (Service
// Fabric), MSI_ENDPOINT and MSI_SECRET (Cloud Shell, Azure ML),
// IMDS_ENDPOINT or the himds agent file (Azure Arc); else IMDS. Its tokens
// sit in a process-wide MSAL cache keyed by identity and resource.
type managedSource struct {
	s Settings
	o Options

	mu       sync.Mutex
	imdsSeen bool // IMDS answered a probe: skip further probes in this process
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
	transport, release := managedClient(m.o)
	defer release()
	if imds {
		if err := m.probe(ctx, transport); err != nil {
			return token.EntraToken{}, err
		}
	}
	rec := &netRecorder{log: m.o.Logger, source: Managed}
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			PerRetryPolicies: []policy.Policy{rec},
			// IMDS throttles (429) and has brief 5xx and 404/410 spells while
			// a VM or identity is being set up; a few short retries ride
			// those out without the defaults' 6 retries from 2 s. azidentity
			// fills in its IMDS status list because StatusCodes is nil.
			Retry: policy.RetryOptions{
				MaxRetries:    3,
				RetryDelay:    250 * time.Millisecond,
				MaxRetryDelay: 2 * time.Second,
				TryTimeout:    10 * time.Second,
			},
			Transport: transport,
			Telemetry: policy.TelemetryOptions{ApplicationID: "docker-credential-acr"},
		},
		ID: id,
	})
	if err != nil {
		return token.EntraToken{}, failf(token.KindInvalid, Managed, "setting up %s at the %s: %s", desc, endpoint, safetext.Redact(safetext.FirstLine(err.Error()), m.secrets(nil)...))
	}
	tok, err := getToken(ctx, cred, scope)
	if err != nil {
		return token.EntraToken{}, m.failure(ctx, err, rec, imds, endpoint, desc)
	}
	logToken(m.o, Managed, tok)
	return tok, nil
}

// imdsProbeMaxBody caps what the probe reads: IMDS's refusal is under 100
// bytes, and whatever else answers need not be read to be told apart.
const imdsProbeMaxBody = 4 << 10

// probe asks IMDS something it refuses (no Metadata header) with a short
// timeout. Azure's IMDS answers that with 400 and a JSON error
// ({"error":"invalid_request","error_description":"Required metadata header
// not specified"}). No answer means this is not an Azure machine; any other
// answer comes from something else at 169.254.169.254 (another cloud's
// metadata service, which answers 404 or 403 with HTML or text). Either way
// the source is unavailable at once, instead of after azidentity's retries
// of the token request, so that the next source is tried.
func (m *managedSource) probe(ctx context.Context, transport policy.Transporter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.imdsSeen {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, imdsProbeTimeout)
	defer cancel()
	pl := runtime.NewPipeline("docker-credential-acr", "v1", runtime.PipelineOptions{}, &policy.ClientOptions{
		Transport: transport,
		Retry:     policy.RetryOptions{MaxRetries: -1},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	})
	req, err := runtime.NewRequest(pctx, http.MethodGet, imdsEndpoint)
	if err != nil {
		e := failf(token.KindOther, Managed, "building the IMDS probe: %v: this is a bug; choose another source", err)
		e.Remedy = token.RemedyOtherSource
		return e
	}
	// The body is read here, with a cap and within the probe's timeout.
	runtime.SkipBodyDownload(req)
	resp, err := pl.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, imdsProbeMaxBody))
		resp.Body.Close()
	}
	if err != nil {
		if cerr := ctxError(ctx, Managed, "probing IMDS"); cerr != nil {
			return cerr
		}
		why := safetext.FirstLine(err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			why = "no answer within " + imdsProbeTimeout.String()
		}
		m.o.Logger.Debug("IMDS did not answer the probe", "source", Managed, "error", why)
		return unavailablef(Managed, "no managed identity endpoint: IMDS at 169.254.169.254 did not answer (%s): this is not an Azure VM, scale set or AKS node, or IMDS is blocked; App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", safetext.Redact(why))
	}
	if !isIMDSRefusal(resp.StatusCode, body) {
		what := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			what += ", " + safetext.Printable(safetext.RedactClip(ct, 60))
		}
		m.o.Logger.Debug("something other than Azure IMDS answered the probe", "source", Managed, "status", resp.StatusCode)
		return unavailablef(Managed, "no managed identity endpoint: something other than Azure IMDS answered at 169.254.169.254 (%s, where Azure IMDS answers 400 with a JSON error): this is not an Azure VM, scale set or AKS node (another cloud's metadata service answers there); App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", what)
	}
	m.o.Logger.Debug("IMDS answered the probe", "source", Managed, "status", resp.StatusCode)
	m.imdsSeen = true
	return nil
}

// isIMDSRefusal reports whether a probe's answer is Azure IMDS's refusal
// of a request without the Metadata header: 400 and a JSON object with an
// "error" string.
func isIMDSRefusal(status int, body []byte) bool {
	if status != http.StatusBadRequest {
		return false
	}
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error != ""
}

// failure classifies a managed identity error. Like DefaultAzureCredential,
// it treats as unavailable what azidentity reports as such (no
// system-assigned identity on this machine, Docker Desktop's IMDS stand-in)
// and a token answer at the IMDS address that is not JSON (something that
// passed the probe but is not IMDS, or a proxy in a caller's Transport);
// everything else is a failure of an identity that exists.
func (m *managedSource) failure(ctx context.Context, err error, rec *netRecorder, imds bool, endpoint, desc string) error {
	if cerr := ctxError(ctx, Managed, "getting a token for "+desc+" from the "+endpoint); cerr != nil {
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
	switch {
	case f.status == http.StatusBadRequest && imds && desc != "the system-assigned identity":
		msg += ": assign this identity to the VM, scale set or AKS node pool, or fix the client, resource or object ID"
	case f.status == http.StatusTooManyRequests:
		msg += ": IMDS is throttling requests; retry in a few seconds"
	case f.status == 0:
		if nerr := rec.lastError(); nerr != nil {
			msg = fmt.Sprintf("could not reach the %s for %s: %s", endpoint, desc, safetext.FirstLine(nerr.Error()))
		}
	default:
		if hint := aadstsHint(f.code, hintContext{source: Managed}); hint != "" {
			msg += ": " + hint
		}
	}
	kind := token.KindRefused
	if f.status == 0 {
		kind = token.KindNetwork
	}
	e := failf(kind, Managed, "%s", safetext.Redact(msg, secrets...))
	e.Code, e.Endpoint, e.ClientID = f.code, endpoint, m.s.ClientID
	if f.status == http.StatusBadRequest && imds && desc != "the system-assigned identity" {
		e.Remedy = token.RemedyAssignIdentity
	}
	return e
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
