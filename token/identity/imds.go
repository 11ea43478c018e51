package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// imdsEndpoint is hard-coded in MSAL too: no setting moves it.
const imdsEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"

// imdsProbeTimeout bounds ProbeIMDS, as DefaultAzureCredential bounds its
// probe.
const imdsProbeTimeout = imdsConnectTimeout

// The IMDS token request needs no probe before it. DefaultAzureCredential
// first sends IMDS a request it refuses (no Metadata header), with a 1 s
// timeout, to learn whether IMDS is there at all; this package did the
// same, so that a machine without IMDS fails in a second instead of after
// azidentity's retries. The token request itself tells as much, and costs
// no extra round trip or connection:
//
//   - where nothing answers at 169.254.169.254 (no Azure host: the
//     packets are dropped, or refused), the connect fails, within
//     imdsConnectTimeout;
//   - where something else answers there (another cloud's metadata
//     service, Docker Desktop's stand-in, an intercepting proxy), its
//     answer is not Azure IMDS's JSON.
//
// imdsGuard turns both into the source's unavailability at the first
// try, and into an error azcore's retry policy does not retry
// (NonRetriable), so that the next source is tried at once. Everything
// else (Azure IMDS's own JSON errors, 410 while an identity is set up,
// 429, 5xx) is retried as before. A probe sent beside every token request
// would save no time, and would cost a second request and a second
// connection to IMDS on every cold get, in the automatic order too.
//
// A host that accepts the connection and never answers is told apart by
// the late probe (watchIMDS), sent only when the token request has had no
// answer for imdsAnswerWait.

// imdsGuard is the per-retry policy of IMDS token requests that tells
// Azure IMDS from no IMDS or from something else at its address; see
// above. verdict keeps the source's error, because azidentity keeps only
// the text of what the pipeline returned.
type imdsGuard struct {
	mu       sync.Mutex
	v        *token.SourceError
	answered chan struct{} // closed at the first answer or failure of a try
	sent     chan struct{} // closed when a try's request has been written
	once     sync.Once
	sentOnce sync.Once
}

func newIMDSGuard() *imdsGuard {
	return &imdsGuard{answered: make(chan struct{}), sent: make(chan struct{})}
}

// notIMDSError ends azcore's retries: nothing that is not IMDS becomes it
// on a second try.
type notIMDSError struct{ e *token.SourceError }

func (n *notIMDSError) Error() string { return n.e.Reason }
func (*notIMDSError) NonRetriable()   {}

func (g *imdsGuard) Do(req *policy.Request) (*http.Response, error) {
	// The late probe (watchIMDS) waits for the request to be on a
	// connection: until then the connect timeout bounds the wait.
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		g.sentOnce.Do(func() { close(g.sent) })
	}}
	req = req.Clone(httptrace.WithClientTrace(req.Raw().Context(), trace))
	resp, err := req.Next()
	if err == nil || req.Raw().Context().Err() == nil {
		g.once.Do(func() { close(g.answered) })
	}
	var v *token.SourceError
	switch {
	case err != nil && req.Raw().Context().Err() != nil:
		// The caller's or the try's time ran out: not a verdict.
	case err != nil:
		if tl, ok := asTooLarge(err); ok {
			v = notIMDS(fmt.Sprintf("an answer of more than %d bytes", tl.limit))
		} else if why, ok := dialFailure(err); ok {
			v = noIMDS(why)
		}
	default:
		body, berr := runtime.Payload(resp)
		if tl, ok := asTooLarge(berr); ok {
			v = notIMDS(fmt.Sprintf("an answer of more than %d bytes", tl.limit))
		} else if berr == nil && !plausibleIMDSAnswer(resp.StatusCode, body) {
			v = notIMDS(answerSummary(resp) + ", where Azure IMDS answers with JSON")
		}
	}
	if v == nil {
		return resp, err
	}
	if resp != nil {
		resp.Body.Close()
	}
	g.mu.Lock()
	g.v = v
	g.mu.Unlock()
	return nil, &notIMDSError{v}
}

// verdict is the unavailability the guard found, or nil.
func (g *imdsGuard) verdict() *token.SourceError {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v
}

// dialFailure reports whether err is a failure to connect (no route,
// refused, the connect timeout), and how to say it.
func dialFailure(err error) (string, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return "", false
	}
	if op.Timeout() {
		return fmt.Sprintf("no connection within %s", imdsConnectTimeout), true
	}
	return safetext.FirstLine(op.Error()), true
}

func noIMDS(why string) *token.SourceError {
	return unavailablef(Managed, "no managed identity endpoint: IMDS at 169.254.169.254 did not answer (%s): this is not an Azure VM, scale set or AKS node, or IMDS is blocked; App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", safetext.Redact(why))
}

func notIMDS(what string) *token.SourceError {
	return unavailablef(Managed, "no managed identity endpoint: something other than Azure IMDS answered the token request at 169.254.169.254 (%s): this is not an Azure VM, scale set or AKS node (another cloud's metadata service answers there), or something intercepts 169.254.169.254; App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", what)
}

// plausibleIMDSAnswer reports whether an answer to a token request may be
// Azure IMDS's: a JSON object (a token, or IMDS's JSON error), or no body
// with a status IMDS documents for a passing state (404 or 410 while it
// updates or sets up an identity, 429, 5xx), which azcore then retries.
// Another cloud's metadata service answers with HTML or text, AWS's
// IMDSv2 with an empty 401, Docker Desktop with a text 403.
func plausibleIMDSAnswer(status int, body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return slices.Contains(imdsRetryStatuses, status)
	}
	var obj map[string]json.RawMessage
	return json.Unmarshal(body, &obj) == nil
}

// answerSummary says what answered, for an error: "HTTP 404 Not Found,
// text/html".
func answerSummary(resp *http.Response) string {
	what := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		what += ", " + safetext.Printable(safetext.RedactClip(ct, 60))
	}
	return what
}

// A host at 169.254.169.254 may accept the connection and then answer
// nothing (a broken proxy, a stalled stand-in). So that this too is told
// from IMDS within about a second, as the probe told it, a token request
// without an answer after imdsAnswerWait is followed by the probe, on a
// second connection (the wait starts once the request is sent, so not
// while the connect timeout runs): Azure IMDS answers the probe at once even while it
// mints a token, and then the token request goes on waiting (until ctx's
// deadline, if IMDS hangs); when the probe gets no answer either, or not
// IMDS's, the token request is given up and the source is unavailable.
// A token that comes within imdsAnswerWait, as it nearly always does,
// costs no probe.
const (
	imdsAnswerWait   = 500 * time.Millisecond
	imdsLateProbeFor = 750 * time.Millisecond
)

// watchIMDS runs the late probe for a token request under ctx, which stop
// (cancel ctx's cause with the probe's verdict). It returns a function
// that ends the watch and waits for it.
func watchIMDS(ctx context.Context, stop context.CancelCauseFunc, o Options, transport policy.Transporter, g *imdsGuard) (end func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		// until waits for c; false: the watch has no more reason to run.
		until := func(c <-chan struct{}) bool {
			select {
			case <-c:
				return true
			case <-g.answered:
			case <-done:
			case <-ctx.Done():
			}
			return false
		}
		// The wait starts when the request is on a connection, not while
		// the connect timeout runs.
		if !until(g.sent) {
			return
		}
		waited := make(chan struct{})
		t := time.AfterFunc(imdsAnswerWait, func() { close(waited) })
		defer t.Stop()
		if !until(waited) {
			return
		}
		o.Logger.Debug("IMDS has not answered the token request yet: probing it", "source", Managed, "after", imdsAnswerWait.String())
		err := probeIMDS(ctx, o, transport, imdsLateProbeFor)
		var se *token.SourceError
		if errors.As(err, &se) && se.Kind == token.KindUnavailable {
			stop(se)
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// imdsProbeMaxBody caps what the probe reads: IMDS's refusal is under 100
// bytes, and whatever else answers need not be read to be told apart.
const imdsProbeMaxBody = 4 << 10

// probeIMDS asks IMDS something it refuses (no Metadata header) with a
// short timeout, for ProbeIMDS. Azure's IMDS answers that with 400 and a
// JSON error ({"error":"invalid_request","error_description":"Required
// metadata header not specified"}). No answer means this is not an Azure
// machine; any other answer comes from something else at 169.254.169.254
// (another cloud's metadata service, which answers 404 or 403 with HTML or
// text).
func probeIMDS(ctx context.Context, o Options, transport policy.Transporter, timeout time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
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
	if tl, ok := asTooLarge(err); ok && resp != nil {
		return unavailablef(Managed, "no managed identity endpoint: something other than Azure IMDS answered at 169.254.169.254 (%s of more than %d bytes, where Azure IMDS answers 400 with a short JSON error): this is not an Azure VM, scale set or AKS node (another cloud's metadata service answers there); App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", answerSummary(resp), tl.limit)
	}
	if err != nil {
		if cerr := canceledError(ctx, Managed, "IMDS at 169.254.169.254", "probing IMDS", nil); cerr != nil {
			return cerr
		}
		why := safetext.FirstLine(err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			why = "no answer within " + timeout.String()
		}
		o.Logger.Debug("IMDS did not answer the probe", "source", Managed, "error", why)
		return noIMDS(why)
	}
	if !isIMDSRefusal(resp.StatusCode, body) {
		o.Logger.Debug("something other than Azure IMDS answered the probe", "source", Managed, "status", resp.StatusCode)
		return unavailablef(Managed, "no managed identity endpoint: something other than Azure IMDS answered at 169.254.169.254 (%s, where Azure IMDS answers 400 with a JSON error): this is not an Azure VM, scale set or AKS node (another cloud's metadata service answers there); App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER", answerSummary(resp))
	}
	o.Logger.Debug("IMDS answered the probe", "source", Managed, "status", resp.StatusCode)
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
