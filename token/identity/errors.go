package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/jwtclaims"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// failf builds an error of kind k. Every argument has been redacted or is
// known not to be secret.
func failf(k token.Kind, source, format string, a ...any) *token.SourceError {
	return &token.SourceError{Kind: k, Source: source, Reason: fmt.Sprintf(format, a...)}
}

func unavailablef(source, format string, a ...any) *token.SourceError {
	return failf(token.KindUnavailable, source, format, a...)
}

// ctxError reports that the caller gave up, if it did.
func ctxError(ctx context.Context, source, doing string) *token.SourceError {
	if err := ctx.Err(); err != nil {
		return &token.SourceError{Kind: token.KindCanceled, Source: source, Reason: doing + ": " + err.Error(), Err: err}
	}
	return nil
}

// failureText is what an azidentity failure says, reduced to a line.
type failureText struct {
	status int    // HTTP status of the answer, 0 if there was none
	code   string // "AADSTS700016"
	text   string // "invalid_client: AADSTS700016: Application with identifier ..."
	// ids is what Entra names the request by, for a support ticket:
	// "trace id …, correlation id …" from its error body, else its
	// x-ms-request-id header; "" when it named none.
	ids string
}

// describe reads an azidentity error. When an endpoint answered, the text
// comes from its JSON error body ({error, error_description}); otherwise it
// is the first line of the error, which names the request that failed. The
// secrets (and anything JWT-shaped) are redacted before the text is
// shortened, so that a secret straddling the cut cannot leave its first half
// behind.
func describe(err error, secrets ...string) failureText {
	var f failureText
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		f.status = afe.RawResponse.StatusCode
		body, _ := runtime.Payload(afe.RawResponse)
		var eb struct {
			Error   string `json:"error"`
			Desc    string `json:"error_description"`
			Codes   []int  `json:"error_codes"`
			Message string `json:"message"` // App Service and other managed identity endpoints
			Trace   string `json:"trace_id"`
			Corr    string `json:"correlation_id"`
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
		f.ids = entraIDs(eb.Trace, eb.Corr, afe.RawResponse.Header.Get("X-Ms-Request-Id"), secrets)
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

// hintContext is what a hint may mention. None of it is secret.
type hintContext struct {
	source    string
	clientID  string
	tenantID  string
	authority string
	assertion *token.Assertion // the federated token's claims, if any
	net       *netRecorder     // the last transport error, if recorded
}

// netRecorder is an azcore per-retry policy that remembers the last
// transport error (no answer at all), so that an error can say "connection
// refused" or "no such host" where MSAL only says it could not resolve an
// endpoint. Transport errors name the URL, never a request body.
//
// It also remembers the credentials sent in request headers, so that they
// can be redacted from what the endpoint answers: managed identity endpoints
// are given a secret in a header (see secretHeaders) that MSAL reads from
// the process environment or, for Azure Arc, from a key file, none of which
// this package reads itself.
//
// With a logger, it logs each request at debug: the endpoint (scheme, host
// and path; never the query or body), the status, the duration and the
// server's request id (x-ms-request-id), so that a support ticket can cite
// it. The path holds a tenant at most; nothing it logs is secret.
type netRecorder struct {
	mu      sync.Mutex
	last    error
	secrets []string
	tries   []string     // "GET https://host/path: HTTP 503", in order
	budget  *retryBudget // the pipeline's, if any: did the deadline cut retries short?
	log     *slog.Logger
	source  string
}

// maxTriesShown bounds the tries an error lists.
const maxTriesShown = 6

// secretHeaders are the request headers that carry a managed identity
// endpoint's secret: App Service's and Container Apps' X-IDENTITY-HEADER
// (IDENTITY_HEADER), Service Fabric's and Azure ML's Secret
// (IDENTITY_HEADER, MSI_SECRET), and Azure Arc's Authorization (Basic and
// the key file's content). Read-only.
var secretHeaders = []string{"X-Identity-Header", "Secret", "Authorization"}

func (r *netRecorder) Do(req *policy.Request) (*http.Response, error) {
	r.remember(req.Raw().Header)
	start := time.Now()
	resp, err := req.Next()
	u := req.Raw().URL
	endpoint := safetext.Printable(u.Scheme + "://" + u.Host + u.Path)
	if r.log != nil {
		attrs := []any{"source", r.source, "endpoint", endpoint, "ms", time.Since(start).Milliseconds()}
		if resp != nil {
			attrs = append(attrs, "status", resp.StatusCode)
			if id := resp.Header.Get("x-ms-request-id"); id != "" {
				attrs = append(attrs, "request_id", safetext.Clip(safetext.Printable(id), 64))
			}
		} else if err != nil {
			attrs = append(attrs, "error", safetext.Redact(safetext.FirstLine(err.Error()), r.secrets...))
		}
		r.log.Debug("identity request", attrs...)
	}
	try := req.Raw().Method + " " + endpoint + ": "
	switch {
	case resp != nil && err == nil:
		try += fmt.Sprintf("HTTP %d", resp.StatusCode)
	case req.Raw().Context().Err() != nil:
		try += "no answer"
	case err != nil:
		try += safetext.Clip(safetext.Redact(safetext.FirstLine(err.Error()), r.secrets...), 160)
	}
	r.mu.Lock()
	r.tries = append(r.tries, try)
	if err != nil && req.Raw().Context().Err() == nil {
		r.last = err
	}
	r.mu.Unlock()
	return resp, err
}

// tried lists the tries so far, the latest last, for an error's text:
// "tried GET http://169.254.169.254/metadata/identity/oauth2/token: HTTP
// 503, then GET ...: no answer". "" when nothing was tried.
func (r *netRecorder) tried() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tries := r.tries
	lead := "tried "
	if len(tries) > maxTriesShown {
		lead = fmt.Sprintf("tried %d times, lastly ", len(tries))
		tries = tries[len(tries)-maxTriesShown:]
	}
	if len(tries) == 0 {
		return ""
	}
	return lead + strings.Join(tries, ", then ")
}

func (r *netRecorder) remember(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range secretHeaders {
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
func (r *netRecorder) sentSecrets() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.secrets)
}

// budgetNote is the pipeline's retryBudget.note.
func (r *netRecorder) budgetNote() string {
	if r == nil {
		return ""
	}
	return r.budget.note()
}

func (r *netRecorder) lastError() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// peekAssertion reads a federated token's claims without verifying them,
// for hints only.
func peekAssertion(jwt string) *token.Assertion {
	c, ok := jwtclaims.Unverified(strings.TrimSpace(jwt))
	if !ok {
		return nil
	}
	iss, _ := c["iss"].(string)
	sub, _ := c["sub"].(string)
	var aud string
	switch v := c["aud"].(type) {
	case string:
		aud = v
	case []any:
		// Like the JSON array it came from: all strings, or none kept.
		auds := make([]string, 0, len(v))
		for _, x := range v {
			if str, ok := x.(string); ok {
				auds = append(auds, str)
			} else {
				auds = nil
				break
			}
		}
		aud = strings.Join(auds, " ")
	}
	return &token.Assertion{Issuer: safetext.Clip(iss, 200), Subject: safetext.Clip(sub, 300), Audience: safetext.Clip(aud, 200)}
}

// aadstsHint says what to do about an Entra error code.
func aadstsHint(code string, h hintContext) string {
	switch code {
	case "AADSTS700016":
		return fmt.Sprintf("no application with client ID %q exists in tenant %q: check the client ID and tenant (a multi-tenant app must also be consented to in that tenant)", h.clientID, h.tenantID)
	case "AADSTS90002", "AADSTS90072", "AADSTS50128", "AADSTS50049":
		return fmt.Sprintf("tenant %q is not known at %s: check the tenant, and that the authority belongs to the tenant's cloud (login.microsoftonline.com is public Azure, login.chinacloudapi.cn Azure China, login.microsoftonline.us US Government); set AZURE_AUTHORITY_HOST if the registry's cloud is not the tenant's", h.tenantID, h.authority)
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
		return "this tenant or cloud cannot issue tokens for the registry's audience (containerregistry.azure.net): the cloud's ARM audience may serve instead, as a fallback or alone; the registry must then accept ARM tokens (azureADAuthenticationAsArmPolicy enabled)"
	case "AADSTS7000229":
		return fmt.Sprintf("application %q has no service principal in tenant %q: create one (az ad sp create --id %s)", h.clientID, h.tenantID, h.clientID)
	case "AADSTS7000112":
		return "the application is disabled in this tenant: ask its owner to enable it"
	case "AADSTS50059", "AADSTS900023":
		return "Entra needs a valid tenant: set the tenant ID to the tenant's ID"
	case "AADSTS53003":
		return "a Conditional Access policy blocks this sign-in: ask your Entra administrator"
	case "AADSTS700082", "AADSTS50173", "AADSTS70043", "AADSTS50076", "AADSTS50078", "AADSTS50079", "AADSTS50158":
		switch h.source {
		case CLI:
			return `the Azure CLI's login has expired or needs MFA: run "az login" again`
		case Azd:
			return `the Azure Developer CLI's login has expired or needs MFA: run "azd auth login" again`
		}
		return "the sign-in has expired or needs interaction, which this helper cannot do"
	}
	return ""
}

// entraFailure turns an azidentity error from a confidential-client flow
// (env, workload, github, pipelines) into a SourceError.
func entraFailure(ctx context.Context, h hintContext, err error, secrets ...string) error {
	if cerr := canceledError(ctx, h.source, "Entra ID at "+h.authority, "getting an Entra token", h.net); cerr != nil {
		cerr.Endpoint, cerr.ClientID, cerr.TenantID = h.authority, h.clientID, h.tenantID
		return cerr
	}
	f := describe(err, secrets...)
	var msg string
	kind := token.KindRefused
	nerr := h.net.lastError()
	tl, tooLarge := asTooLarge(nerr)
	switch {
	case f.status != 0:
		msg = fmt.Sprintf("Entra ID at %s refused client %q in tenant %q: %s", h.authority, h.clientID, h.tenantID, f.text)
	case tooLarge:
		msg = fmt.Sprintf("Entra ID at %s gave an answer for client %q in tenant %q that is too large: %v: check the authority host, and whether a proxy answers instead of Entra", h.authority, h.clientID, h.tenantID, tl)
	default:
		kind = token.KindNetwork
		why := f.text
		if nerr != nil {
			why = safetext.FirstLine(nerr.Error())
		}
		msg = fmt.Sprintf("could not reach Entra ID at %s for client %q in tenant %q: %s", h.authority, h.clientID, h.tenantID, why)
	}
	msg = strings.TrimRight(msg, ".")
	if f.ids != "" {
		msg += " (Entra " + f.ids + ")"
	}
	msg += h.net.budgetNote()
	if hint := aadstsHint(f.code, h); hint != "" {
		msg += ": " + hint
	} else if kind == token.KindNetwork {
		msg += ": check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and the authority host"
	}
	e := failf(kind, h.source, "%s", safetext.Redact(msg, secrets...))
	e.Code, e.Endpoint, e.ClientID, e.TenantID, e.Assertion = f.code, h.authority, h.clientID, h.tenantID, h.assertion
	return e
}

// entraIDs names an Entra answer for a support ticket, each id printable,
// clipped and redacted.
func entraIDs(trace, correlation, requestID string, secrets []string) string {
	clean := func(s string) string { return safetext.RedactClip(safetext.Printable(s), 64, secrets...) }
	var parts []string
	if trace != "" {
		parts = append(parts, "trace id "+clean(trace))
	}
	if correlation != "" {
		parts = append(parts, "correlation id "+clean(correlation))
	}
	if len(parts) == 0 && requestID != "" {
		parts = append(parts, "request id "+clean(requestID))
	}
	return strings.Join(parts, ", ")
}
