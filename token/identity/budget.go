package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
)

// minTry is the least time worth starting another try with: an answer
// from Entra, IMDS or a CI token service takes up to a second when all is
// well.
const minTry = time.Second

// Statuses azcore's retry policy retries, by default and, as azidentity
// sets them, for IMDS (whose documentation asks for retries of 404, 410,
// 429 and 5xx). A ShouldRetry replaces these lists, so they are spelled
// out here. Read-only.
var (
	defaultRetryStatuses = []int{
		http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	}
	imdsRetryStatuses = []int{
		http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusNotImplemented, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusHTTPVersionNotSupported,
		http.StatusVariantAlsoNegotiates, http.StatusInsufficientStorage, http.StatusLoopDetected,
		http.StatusNotExtended, http.StatusNetworkAuthenticationRequired,
	}
)

// retryBudget makes azcore's retries spend ctx's deadline: a retry is
// made only when the wait before it (Retry-After, or the longest backoff
// azcore may pick) and one more try still fit before the deadline. Each
// try's own timeout (RetryOptions.TryTimeout) is derived from ctx, so it
// never reaches beyond the deadline either, and azcore stops waiting when
// ctx ends.
type retryBudget struct {
	ctx      context.Context
	statuses []int
	o        policy.RetryOptions

	mu      sync.Mutex
	left    time.Duration // > 0: a retry was left out with this much time to go
	retries int           // retries granted in a row: which backoff azcore picks next
}

// budgeted returns o with its retries bounded by ctx's deadline, and the
// budget, which can tell afterwards whether it cut them short.
func budgeted(ctx context.Context, o policy.RetryOptions, statuses []int) (policy.RetryOptions, *retryBudget) {
	b := &retryBudget{ctx: ctx, statuses: statuses, o: o}
	o.ShouldRetry = b.shouldRetry
	return o, b
}

// longestBackoff is the longest wait azcore's retry policy picks before
// retry number n (1 for the first) without a Retry-After:
// ((2^n)-1) * RetryDelay with up to 30% jitter, at most MaxRetryDelay.
// Counting the retry keeps a short first wait (IMDS's 410 while an
// identity is set up) from being judged by the last one's.
func longestBackoff(o policy.RetryOptions, n int) time.Duration {
	n = min(max(n, 1), 30)
	d := time.Duration(1<<n-1) * o.RetryDelay * 13 / 10
	return min(d, o.MaxRetryDelay)
}

func (b *retryBudget) shouldRetry(resp *http.Response, err error) bool {
	// azcore has already stopped for a NonRetriable error or an ended ctx.
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil && !slices.Contains(b.statuses, resp.StatusCode) {
		// An answer that ends this request's tries: the next request of
		// the same credential (discovery, then the token) starts its
		// backoff afresh.
		b.retries = 0
		return false
	}
	deadline, ok := b.ctx.Deadline()
	if !ok {
		return true
	}
	wait := longestBackoff(b.o, b.retries+1)
	if resp != nil {
		if ra, ok := httpx.RetryAfter(resp.Header, time.Now()); ok {
			// Above MaxRetryDelay azcore does not retry at all.
			wait = ra
		}
	}
	if left := time.Until(deadline); left < wait+minTry {
		b.left = max(left, time.Millisecond)
		return false
	}
	b.retries++
	return true
}

// note says, for an error's text, that the deadline cut the retries
// short; "" when it did not.
func (b *retryBudget) note() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return ""
	}
	return fmt.Sprintf(" (not retried: %s was left before the deadline)", b.left.Round(time.Millisecond))
}

// canceledError reports that ctx ended (its deadline passed, or the
// caller canceled) while doing, which waited for endpoint; rec, if not
// nil, tells what was tried. It returns nil while ctx has not ended.
// errors.Is matches ctx's error.
func canceledError(ctx context.Context, source, endpoint, doing string, rec *netRecorder) *token.SourceError {
	if ctx.Err() == nil {
		return nil
	}
	// The cause, when one was given (earlyFetch passes on its caller's),
	// else ctx.Err().
	err := context.Cause(ctx)
	what := "no answer from " + endpoint + " before the deadline"
	if errors.Is(err, context.Canceled) {
		what = "canceled while waiting for " + endpoint
	}
	reason := doing + ": " + what
	if t := rec.tried(); t != "" {
		reason += " (" + t + ")"
	}
	return &token.SourceError{Kind: token.KindCanceled, Source: source, Endpoint: endpoint, Reason: reason + ": " + err.Error(), Err: err}
}
