package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// SourceError is the error every identity source returns. Its text says what
// failed, why and what to do, and never holds a token, secret or assertion.
type SourceError struct {
	// Source is the source's name, e.g. "workload".
	Source string
	// Code is the Entra error code when Entra answered with one, e.g.
	// "AADSTS500011" (the resource is unknown in the tenant: a reason to try
	// the ARM audience).
	Code string
	// Unavailable reports that the source does not exist here; errors.Is(err,
	// ErrSourceUnavailable) says the same.
	Unavailable bool

	msg string
	err error // a context error, kept for errors.Is
}

func (e *SourceError) Error() string { return e.Source + " source: " + e.msg }

func (e *SourceError) Unwrap() []error {
	var errs []error
	if e.Unavailable {
		errs = append(errs, ErrSourceUnavailable)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// srcErrorf builds a failure. Every argument has been redacted or is known
// not to be secret.
func srcErrorf(source, format string, a ...any) *SourceError {
	return &SourceError{Source: source, msg: fmt.Sprintf(format, a...)}
}

func srcUnavailablef(source, format string, a ...any) *SourceError {
	return &SourceError{Source: source, Unavailable: true, msg: fmt.Sprintf(format, a...)}
}

// srcCtxError reports that the caller gave up, if it did.
func srcCtxError(ctx context.Context, source, doing string) error {
	if err := ctx.Err(); err != nil {
		return &SourceError{Source: source, msg: doing + ": " + err.Error(), err: err}
	}
	return nil
}

// srcFailure is what an azidentity failure says, reduced to a line.
type srcFailure struct {
	status int    // HTTP status of the answer, 0 if there was none
	code   string // "AADSTS700016"
	text   string // "invalid_client: AADSTS700016: Application with identifier ..."
}

// srcDescribe reads an azidentity error. When an endpoint answered, the text
// comes from its JSON error body ({error, error_description}); otherwise it
// is the first line of the error, which names the request that failed. The
// secrets (and anything JWT-shaped) are redacted before the text is
// shortened, so that a secret straddling the cut cannot leave its first half
// behind.
func srcDescribe(err error, secrets ...string) srcFailure {
	var f srcFailure
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		f.status = afe.RawResponse.StatusCode
		body, _ := runtime.Payload(afe.RawResponse)
		var eb struct {
			Error   string `json:"error"`
			Desc    string `json:"error_description"`
			Codes   []int  `json:"error_codes"`
			Message string `json:"message"` // App Service and other managed identity endpoints
		}
		if json.Unmarshal(body, &eb) == nil && eb.Desc == "" {
			eb.Desc = eb.Message
		}
		if json.Unmarshal(body, &eb) == nil && (eb.Error != "" || eb.Desc != "") {
			desc := eb.Desc
			// Entra appends trace and correlation IDs on new lines; the first
			// line is the explanation.
			if i := strings.Index(desc, " Trace ID:"); i >= 0 {
				desc = desc[:i]
			}
			desc = safetext.FirstLine(desc)
			switch {
			case eb.Error != "" && desc != "":
				f.text = eb.Error + ": " + desc
			case desc != "":
				f.text = desc
			default:
				f.text = eb.Error
			}
			if len(eb.Codes) > 0 {
				f.code = fmt.Sprintf("AADSTS%d", eb.Codes[0])
				// The code stays in the text, where IsAudienceUnavailable
				// and users look for it.
				if !strings.Contains(f.text, f.code) {
					f.text = f.code + ": " + f.text
				}
			}
		} else {
			f.text = fmt.Sprintf("%q", safetext.RedactClip(string(body), 200, secrets...))
		}
		f.text = fmt.Sprintf("HTTP %d %s: %s", f.status, http.StatusText(f.status), f.text)
	} else {
		f.text = safetext.FirstLine(err.Error())
		// azidentity appends a link to its own troubleshooting guide, which
		// is about its API rather than this tool.
		if i := strings.Index(f.text, " To troubleshoot, visit"); i >= 0 {
			f.text = strings.TrimRight(f.text[:i], " .")
		}
	}
	if f.code == "" {
		f.code = safetext.FindAADSTS(f.text)
	}
	f.text = safetext.RedactClip(f.text, 600, secrets...)
	return f
}

// srcHintContext is what a hint may mention. None of it is secret.
type srcHintContext struct {
	source    string
	clientID  string
	tenantID  string
	authority string
	assertion *srcAssertionClaims // the federated token's claims, if any
	net       *srcNetRecorder     // the last transport error, if recorded
}

// srcNetRecorder is an azcore per-retry policy that remembers the last
// transport error (no answer at all), so that an error can say "connection
// refused" or "no such host" where MSAL only says it could not resolve an
// endpoint. Transport errors name the URL, never a request body.
//
// It also remembers the credentials sent in request headers, so that they
// can be redacted from what the endpoint answers: managed identity endpoints
// are given a secret in a header (see srcSecretHeaders) that MSAL reads from
// the process environment or, for Azure Arc, from a key file, none of which
// this package reads itself.
type srcNetRecorder struct {
	mu      sync.Mutex
	last    error
	secrets []string
}

// srcSecretHeaders are the request headers that carry a managed identity
// endpoint's secret: App Service's and Container Apps' X-IDENTITY-HEADER
// (IDENTITY_HEADER), Service Fabric's and Azure ML's Secret
// (IDENTITY_HEADER, MSI_SECRET), and Azure Arc's Authorization (Basic and
// the key file's content). Read-only.
var srcSecretHeaders = []string{"X-Identity-Header", "Secret", "Authorization"}

func (r *srcNetRecorder) Do(req *policy.Request) (*http.Response, error) {
	r.remember(req.Raw().Header)
	resp, err := req.Next()
	if err != nil && req.Raw().Context().Err() == nil {
		r.mu.Lock()
		r.last = err
		r.mu.Unlock()
	}
	return resp, err
}

func (r *srcNetRecorder) remember(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range srcSecretHeaders {
		for _, v := range h.Values(name) {
			// The credential after an auth scheme ("Basic <key>") is the
			// secret; an echo may show it without the scheme.
			if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && name == "Authorization" {
				v = cred
			}
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(r.secrets, v) {
				r.secrets = append(r.secrets, v)
			}
		}
	}
}

// sentSecrets returns the header credentials sent so far.
func (r *srcNetRecorder) sentSecrets() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.secrets)
}

func (r *srcNetRecorder) lastError() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// srcAssertionClaims are the claims of a federated token that a federated
// identity credential must match. They identify, they don't authorise.
type srcAssertionClaims struct {
	Issuer, Subject, Audience string
}

// srcPeekAssertion decodes a JWT's payload without verifying it, for hints
// only.
func srcPeekAssertion(jwt string) *srcAssertionClaims {
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return nil
	}
	var aud string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var auds []string
		if json.Unmarshal(c.Aud, &auds) == nil {
			aud = strings.Join(auds, " ")
		}
	}
	return &srcAssertionClaims{Issuer: safetext.Clip(c.Iss, 200), Subject: safetext.Clip(c.Sub, 300), Audience: safetext.Clip(aud, 200)}
}

// srcAADSTSHint says what to do about an Entra error code.
func srcAADSTSHint(code string, h srcHintContext) string {
	switch code {
	case "AADSTS700016":
		return fmt.Sprintf("no application with client ID %q exists in tenant %q: check the client ID and tenant (DOCKER_CREDENTIAL_ACR_CLIENT_ID / _TENANT_ID, clientID / tenantID in the config file, or AZURE_CLIENT_ID / AZURE_TENANT_ID; a multi-tenant app must also be consented to in that tenant)", h.clientID, h.tenantID)
	case "AADSTS90002", "AADSTS90072", "AADSTS50128", "AADSTS50049":
		return fmt.Sprintf("tenant %q is not known at %s: check the tenant (DOCKER_CREDENTIAL_ACR_TENANT_ID, tenantID in the config file, or AZURE_TENANT_ID), and that the authority belongs to the tenant's cloud (login.microsoftonline.com is public Azure, login.chinacloudapi.cn Azure China, login.microsoftonline.us US Government); set AZURE_AUTHORITY_HOST if the registry's cloud is not the tenant's", h.tenantID, h.authority)
	case "AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213":
		msg := fmt.Sprintf("no federated identity credential of application %q matches this token", h.clientID)
		if a := h.assertion; a != nil {
			msg += fmt.Sprintf(" (issuer %q, subject %q, audience %q)", a.Issuer, a.Subject, a.Audience)
		}
		return msg + ": add a federated credential with exactly this issuer and subject and audience api://AzureADTokenExchange to the app registration or managed identity"
	case "AADSTS700024":
		return "the federated token has expired or is not yet valid: federated tokens live minutes; provide a fresh one (AZURE_FEDERATED_TOKEN) or check the clock"
	case "AADSTS7000215":
		return "the client secret is wrong: AZURE_CLIENT_SECRET must hold the secret's value, not its ID"
	case "AADSTS7000222":
		return "the client secret has expired: create a new one (az ad app credential reset --id <client id>) and update AZURE_CLIENT_SECRET"
	case "AADSTS700027", "AADSTS700023":
		return "Entra could not verify the certificate assertion: upload this certificate (its public part) to the app registration, and check that the file holds the matching private key"
	case "AADSTS500011", "AADSTS50001":
		return "this tenant or cloud cannot issue tokens for the registry's audience (containerregistry.azure.net): set DOCKER_CREDENTIAL_ACR_AUDIENCE=acr-then-arm to fall back to the cloud's ARM audience, or arm to use it only (audience: in the config file); the registry must then accept ARM tokens (azureADAuthenticationAsArmPolicy enabled)"
	case "AADSTS7000229":
		return fmt.Sprintf("application %q has no service principal in tenant %q: create one (az ad sp create --id %s)", h.clientID, h.tenantID, h.clientID)
	case "AADSTS7000112":
		return "the application is disabled in this tenant: ask its owner to enable it"
	case "AADSTS50059", "AADSTS900023":
		return "Entra needs a valid tenant: set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file, or AZURE_TENANT_ID) to the tenant's ID"
	case "AADSTS53003":
		return "a Conditional Access policy blocks this sign-in: ask your Entra administrator"
	case "AADSTS700082", "AADSTS50173", "AADSTS70043", "AADSTS50076", "AADSTS50078", "AADSTS50079", "AADSTS50158":
		switch h.source {
		case SourceCLI:
			return `the Azure CLI's login has expired or needs MFA: run "az login" again`
		case SourceAzd:
			return `the Azure Developer CLI's login has expired or needs MFA: run "azd auth login" again`
		}
		return "the sign-in has expired or needs interaction, which this helper cannot do"
	}
	return ""
}

// srcEntraFailure turns an azidentity error from a confidential-client flow
// (env, workload, github, pipelines) into a SourceError.
func srcEntraFailure(ctx context.Context, h srcHintContext, err error, secrets ...string) error {
	if cerr := srcCtxError(ctx, h.source, "getting an Entra token"); cerr != nil {
		return cerr
	}
	f := srcDescribe(err, secrets...)
	var msg string
	if f.status != 0 {
		msg = fmt.Sprintf("Entra ID at %s refused client %q in tenant %q: %s", h.authority, h.clientID, h.tenantID, f.text)
	} else {
		why := f.text
		if nerr := h.net.lastError(); nerr != nil {
			why = safetext.FirstLine(nerr.Error())
		}
		msg = fmt.Sprintf("could not reach Entra ID at %s for client %q in tenant %q: %s", h.authority, h.clientID, h.tenantID, why)
	}
	msg = strings.TrimRight(msg, ".")
	if hint := srcAADSTSHint(f.code, h); hint != "" {
		msg += ": " + hint
	} else if f.status == 0 {
		msg += ": check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and the authority host"
	}
	e := srcErrorf(h.source, "%s", safetext.Redact(msg, secrets...))
	e.Code = f.code
	return e
}
