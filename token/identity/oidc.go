package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// oidcRequest describes a request for a CI job's ID token (GitHub
// Actions, Azure Pipelines). Both services authenticate the request with a
// bearer token that the CI system gives the job.
type oidcRequest struct {
	source  string            // "github"
	service string            // "GitHub Actions' ID token service", for messages
	method  string            // GET or POST
	url     *url.URL          // complete, with the query
	bearer  string            // the job's request token: a secret
	header  map[string]string // extra headers
	field   string            // the JSON field holding the ID token
	hint    string            // what to do on 401/403/404
}

// fetchOIDC returns the ID token. Its errors never hold the bearer token
// or the ID token.
func fetchOIDC(ctx context.Context, o Options, r oidcRequest) (string, error) {
	// A short retry for the CI services' occasional 5xx and 429 within ctx's
	// deadline, and a per-try timeout so that a hung service fails instead
	// of hanging docker even without a deadline. The answer is capped by
	// the transport (maxAnswer).
	transport, release := noRedirectClient(o)
	defer release()
	retry, budget := budgeted(ctx, policy.RetryOptions{
		MaxRetries:    2,
		RetryDelay:    500 * time.Millisecond,
		MaxRetryDelay: 5 * time.Second,
		TryTimeout:    15 * time.Second,
	}, defaultRetryStatuses)
	rec := &netRecorder{source: r.source, log: o.Logger, secrets: []string{r.bearer}}
	pl := runtime.NewPipeline("docker-credential-acr", "v1", runtime.PipelineOptions{}, &policy.ClientOptions{
		Transport:        transport,
		Retry:            retry,
		PerRetryPolicies: []policy.Policy{rec},
		Telemetry:        policy.TelemetryOptions{ApplicationID: "docker-credential-acr"},
	})
	where := r.url.Scheme + "://" + r.url.Host + r.url.Path
	fail := func(k token.Kind, format string, a ...any) error {
		e := failf(k, r.source, "%s", safetext.Redact(fmt.Sprintf(format, a...), r.bearer))
		e.Endpoint = where
		return e
	}
	// The callers have checked; this is the last guard before the bearer
	// token leaves.
	if r.url.Scheme != "https" {
		return "", fail(token.KindInvalid, "refusing to send the job's token to %s: not https", where)
	}
	req, err := runtime.NewRequest(ctx, r.method, r.url.String())
	if err != nil {
		return "", fail(token.KindOther, "building the ID token request for %s: %v", where, err)
	}
	req.Raw().Header.Set("Authorization", "Bearer "+r.bearer)
	req.Raw().Header.Set("Accept", "application/json")
	for k, v := range r.header {
		req.Raw().Header.Set(k, v)
	}
	// We read the body ourselves, with a cap.
	runtime.SkipBodyDownload(req)
	o.Logger.Debug("requesting the CI job's ID token", "source", r.source, "url", where)
	resp, err := pl.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if cerr := canceledError(ctx, r.source, where, "requesting the job's ID token from "+r.service, rec); cerr != nil {
		return "", cerr
	}
	if tl, ok := asTooLarge(err); ok {
		return "", fail(token.KindRefused, "%s at %s answered with more than %d bytes: this is not an ID token answer", r.service, where, tl.limit)
	}
	if err != nil && resp != nil {
		return "", fail(token.KindNetwork, "reading the answer of %s at %s: %v", r.service, where, err)
	}
	if err != nil {
		return "", fail(token.KindNetwork, "requesting the job's ID token from %s at %s: %v%s: check the network and proxy settings", r.service, where, safetext.FirstLine(err.Error()), budget.note())
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("%s at %s answered HTTP %d %s%s", r.service, where, resp.StatusCode, http.StatusText(resp.StatusCode), budget.note())
		if snippet := errorSnippet(body, r.bearer); snippet != "" {
			msg += ": " + snippet
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			msg += ": " + r.hint
		}
		return "", fail(token.KindRefused, "%s", msg)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fail(token.KindRefused, "%s at %s answered with something that is not JSON", r.service, where)
	}
	var tok string
	if raw, ok := m[r.field]; !ok || json.Unmarshal(raw, &tok) != nil || strings.TrimSpace(tok) == "" {
		return "", fail(token.KindRefused, "%s at %s answered without an ID token in %q", r.service, where, r.field)
	}
	return strings.TrimSpace(tok), nil
}

// errorSnippet picks a service's error message out of its body: a JSON
// "message" (GitHub, Azure DevOps), else the start of the text, with the
// secrets redacted before it is shortened. Never called on a successful
// answer, which would hold a token.
func errorSnippet(body []byte, secrets ...string) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return fmt.Sprintf("%q", safetext.RedactClip(safetext.FirstLine(m.Message), 300, secrets...))
	}
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%q", safetext.RedactClip(safetext.FirstLine(s), 200, secrets...))
}

// ciURL parses the URL of a CI system's ID token service, given in the
// variable name by the CI system (setBy), and adds query (already
// escaped) to what it carries. The job's bearer token is sent there, so
// it must be https and carry no user information.
func ciURL(source, name, value, setBy, query string) (*url.URL, error) {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" {
		return nil, failf(token.KindInvalid, source, "%s is not a URL: it is set by %s; don't override it", name, setBy)
	}
	shown := safetext.Printable(safetext.Clip(u.Scheme+"://"+u.Host+u.Path, 200))
	if u.Scheme != "https" {
		e := failf(token.KindInvalid, source, "%s (%s) is not https: the job's token would cross the network unencrypted, so it is not sent; %s sets an https URL: don't override it, or choose another source", name, shown, setBy)
		e.Remedy = token.RemedyOtherSource
		return nil, e
	}
	if u.User != nil {
		return nil, failf(token.KindInvalid, source, "%s (%s) carries a user name or password: the job's token is the only credential to send; %s sets a plain https URL: don't override it", name, shown, setBy)
	}
	if u.RawQuery == "" {
		u.RawQuery = query
	} else {
		u.RawQuery += "&" + query
	}
	return u, nil
}

// tokenWithOIDC gets an Entra token for h's identity with the CI job's ID
// token, which r fetches anew for every Entra token request, as the
// client assertion.
//
// The first ID token is requested at once, beside MSAL's tenant discovery
// at Entra, which GetToken does before it asks for the assertion
// (microsoft-authentication-library-for-go apps/internal/oauth/oauth.go,
// Client.Credential: resolveEndpoint, then cred.JWT), instead of after
// it: the assertion callback then waits for that answer. Errors are as
// they were: if GetToken fails before it asks (discovery failed), the
// early request is canceled and its result unused; if it asks, the fetch's
// own error is returned as is.
func tokenWithOIDC(ctx context.Context, h hintContext, o Options, scope string, r oidcRequest) (token.EntraToken, error) {
	early := startFetch(ctx, func(ctx context.Context) (string, error) { return fetchOIDC(ctx, o, r) })
	defer early.stop()
	return tokenWithAssertion(ctx, h, o, scope, early.get, r.bearer)
}

// earlyFetch runs fetch once, started before anyone asks, and hands its
// result to the first get; later gets fetch anew (each Entra token
// request has an assertion of its own). stop cancels it, if it is still
// running, and waits for it: no goroutine outlives the caller.
type earlyFetch struct {
	fetch  func(context.Context) (string, error)
	cancel context.CancelCauseFunc
	done   chan struct{}
	tok    string // set before done is closed
	err    error

	mu    sync.Mutex
	taken bool
}

func startFetch(ctx context.Context, fetch func(context.Context) (string, error)) *earlyFetch {
	fctx, cancel := context.WithCancelCause(ctx)
	f := &earlyFetch{fetch: fetch, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.tok, f.err = fetch(fctx)
	}()
	return f
}

func (f *earlyFetch) get(ctx context.Context) (string, error) {
	f.mu.Lock()
	first := !f.taken
	f.taken = true
	f.mu.Unlock()
	if !first {
		return f.fetch(ctx)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		// Ended with ctx's cause (its deadline, say), the fetch says so
		// in its own error, naming the service it waited for.
		f.cancel(context.Cause(ctx))
		<-f.done
	}
	return f.tok, f.err
}

func (f *earlyFetch) stop() {
	f.cancel(context.Canceled)
	<-f.done
}
