package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
)

// maxResponseBytes caps every response body the Exchanger reads. ACR's
// answers are a few KiB; a larger one is an error, never a truncated parse.
const maxResponseBytes = 1 << 20

// Retry defaults for Options.
const (
	defaultMaxRetries    = 2
	defaultRetryBackoff  = 200 * time.Millisecond
	maxRetryBackoff      = time.Second
	defaultMaxRetryAfter = 2 * time.Second
)

// minTryLeft is the least time before ctx's deadline for which a retry is
// started. A try is a TLS round trip or two to the registry; with less
// left, a retry would more likely end in a deadline error than in an
// answer, and the answer in hand (ACR's 429 or 503, with its message)
// says more than "no answer before the deadline".
const minTryLeft = time.Second

// errNotJSON stands in for the json error, whose text may quote the body.
var errNotJSON = errors.New("response body is not valid JSON")

type response struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
	// endpoint is the URL asked, without query or user information.
	endpoint string
	// tries is how many requests it took to get this answer; stopped says
	// why the retries ended before MaxRetries, or "".
	tries   int
	stopped string
}

// try describes a request that got no answer, for networkError.
type try struct {
	endpoint string
	tries    int
	took     time.Duration
}

// do sends the request built by build, retrying 429 and 5xx briefly.
// The retries spend ctx's deadline: a wait is taken only when a try can
// still follow it in time (see retryPlan); otherwise the last answer is
// returned at once. Each try is bounded by the lesser of Options.Timeout
// and the time left. secret is redacted from anything that could reach a
// log or error.
func (x *Exchanger) do(ctx context.Context, step, loginServer, secret string, build func(context.Context) (*http.Request, error)) (*response, error) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		resp, endpoint, err := x.once(ctx, build)
		if err != nil {
			x.log.DebugContext(ctx, "acr request failed", "step", step, "login_server", loginServer, "ms", time.Since(start).Milliseconds())
			return nil, x.networkError(ctx, step, loginServer, try{endpoint: endpoint, tries: attempt + 1, took: time.Since(start)}, err, secret)
		}
		resp.endpoint, resp.tries = endpoint, attempt+1
		x.log.DebugContext(ctx, "acr request", "step", step, "login_server", loginServer, "status", resp.status,
			"ms", time.Since(start).Milliseconds(), "request_id", requestID(resp.header, secret))
		if resp.status >= 300 && resp.status < 400 {
			return nil, redirectError(step, loginServer, resp, secret)
		}
		if (resp.status != http.StatusTooManyRequests && resp.status < 500) || attempt >= x.maxRetries {
			return resp, nil
		}
		asked, fromHeader := x.retryWait(attempt, resp.header)
		left, hasDeadline := timeLeft(ctx)
		wait, stop := retryPlan(asked, fromHeader, x.maxRetryAfter, left, hasDeadline)
		if stop != "" {
			resp.stopped = stop
			x.log.DebugContext(ctx, "acr request not retried", "step", step, "login_server", loginServer,
				"status", resp.status, "attempt", attempt+1, "reason", stop)
			return resp, nil
		}
		x.log.DebugContext(ctx, "acr request will be retried", "step", step, "login_server", loginServer,
			"status", resp.status, "attempt", attempt+1, "wait", wait)
		if err := x.sleep(ctx, wait); err != nil {
			return nil, x.networkError(ctx, step, loginServer, try{endpoint: endpoint, tries: attempt + 1, took: time.Since(start)}, err, secret)
		}
	}
}

// timeLeft is the time until ctx's deadline, if it has one.
func timeLeft(ctx context.Context) (time.Duration, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return time.Until(dl), true
}

// retryPlan decides the wait before a retry: asked is the Retry-After
// (fromHeader) or the backoff, capped waits at most capWait (a
// Retry-After beyond it is shortened to it), and left is the time before
// the deadline, if there is one. A wait after which less than minTryLeft
// would remain is not taken, nor is a Retry-After that asks to wait past
// the deadline: the server said when it will answer, and that is too
// late. stop then says why, and the caller returns the last answer.
func retryPlan(asked time.Duration, fromHeader bool, capWait, left time.Duration, hasDeadline bool) (wait time.Duration, stop string) {
	wait = asked
	if fromHeader {
		wait = min(asked, capWait)
	}
	if !hasDeadline {
		return wait, ""
	}
	switch {
	case fromHeader && asked+minTryLeft > left:
		return 0, fmt.Sprintf("the registry asked to retry after %s, and the deadline is %s away", asked, left.Round(time.Millisecond))
	case wait+minTryLeft > left:
		return 0, fmt.Sprintf("another try could not finish before the deadline, %s away", left.Round(time.Millisecond))
	}
	return wait, ""
}

// once sends one request under the per-request timeout (or ctx's
// deadline, if sooner) and reads the body, at most maxResponseBytes of
// it. endpoint is the URL asked, once the request is built.
func (x *Exchanger) once(ctx context.Context, build func(context.Context) (*http.Request, error)) (r *response, endpoint string, err error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return nil, "", err
	}
	// Scheme, host and path only: no query or user information.
	endpoint = (&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}).String()
	req.Header.Set("User-Agent", x.userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := x.client().Do(req)
	if err != nil {
		return nil, endpoint, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, endpoint, err
	}
	// An answer that raced the deadline may be one the server sent because
	// it saw us give up (seen with TLS close_notify): it is late either way.
	if err := ctx.Err(); err != nil {
		return nil, endpoint, err
	}
	r = &response{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) > maxResponseBytes {
		r.body, r.tooLarge = nil, true
	}
	return r, endpoint, nil
}

// retryWait is the wait the answer's Retry-After (httpx.RetryAfter) asks for
// (fromHeader), else the exponential backoff, up to maxRetryBackoff.
// retryPlan caps the former and checks both against the deadline.
func (x *Exchanger) retryWait(attempt int, h http.Header) (d time.Duration, fromHeader bool) {
	if d, ok := httpx.RetryAfter(h, time.Now()); ok {
		return d, true
	}
	d = x.backoff
	for i := 0; i < attempt && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff), false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
