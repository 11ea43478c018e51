package acr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// errNotJSON stands in for the json error, whose text may quote the body.
var errNotJSON = errors.New("response body is not valid JSON")

type response struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
}

// do sends the request built by build, retrying 429 and 5xx briefly.
// secret is redacted from anything that could reach a log or error.
func (x *Exchanger) do(ctx context.Context, step, loginServer, secret string, build func(context.Context) (*http.Request, error)) (*response, error) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		resp, err := x.once(ctx, build)
		if err != nil {
			x.log.DebugContext(ctx, "acr request failed", "step", step, "login_server", loginServer, "ms", time.Since(start).Milliseconds())
			return nil, x.networkError(ctx, step, loginServer, err, secret)
		}
		x.log.DebugContext(ctx, "acr request", "step", step, "login_server", loginServer, "status", resp.status,
			"ms", time.Since(start).Milliseconds(), "request_id", requestID(resp.header, secret))
		if resp.status >= 300 && resp.status < 400 {
			return nil, redirectError(step, loginServer, resp, secret)
		}
		if (resp.status != http.StatusTooManyRequests && resp.status < 500) || attempt >= x.maxRetries {
			return resp, nil
		}
		wait := x.retryWait(attempt, resp.header.Get("Retry-After"))
		x.log.DebugContext(ctx, "acr request will be retried", "step", step, "login_server", loginServer,
			"status", resp.status, "attempt", attempt+1, "wait", wait)
		if err := x.sleep(ctx, wait); err != nil {
			return nil, x.networkError(ctx, step, loginServer, err, secret)
		}
	}
}

// once sends one request under the per-request timeout and reads the body,
// at most maxResponseBytes of it.
func (x *Exchanger) once(ctx context.Context, build func(context.Context) (*http.Request, error)) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", x.userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := x.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	// An answer that raced the deadline may be one the server sent because
	// it saw us give up (seen with TLS close_notify): it is late either way.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) > maxResponseBytes {
		r.body, r.tooLarge = nil, true
	}
	return r, nil
}

// retryWait honours Retry-After (seconds or HTTP date) up to
// maxRetryAfter, else backs off exponentially up to maxRetryBackoff.
func (x *Exchanger) retryWait(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter, time.Now()); ok {
		return min(d, x.maxRetryAfter)
	}
	d := x.backoff
	for i := 0; i < attempt && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
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
