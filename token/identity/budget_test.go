package identity

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The budget judges each retry by the wait azcore picks before it, which
// grows with the retry's number: a first retry after IMDS's 410 fits in
// a few seconds where the last one's wait would not.
func TestRetryBudgetCountsRetries(t *testing.T) {
	o := policy.RetryOptions{MaxRetries: 3, RetryDelay: 250 * time.Millisecond, MaxRetryDelay: 2 * time.Second}
	gone := &http.Response{StatusCode: http.StatusGone, Header: http.Header{}}
	ok := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	tests := []struct {
		name    string
		left    time.Duration
		answers []*http.Response
		want    []bool
	}{
		// Waits before retries 1, 2, 3: at most 325 ms, 975 ms, 2 s.
		{"ample time: every retry", time.Minute, []*http.Response{gone, gone, gone}, []bool{true, true, true}},
		{"2.5 s: the first two fit, the third's 2 s wait does not", 2500 * time.Millisecond, []*http.Response{gone, gone, gone}, []bool{true, true, false}},
		{"1.2 s: not even the first", 1200 * time.Millisecond, []*http.Response{gone}, []bool{false}},
		{"a success starts the next request's count afresh", 2500 * time.Millisecond, []*http.Response{gone, gone, ok, gone, gone}, []bool{true, true, false, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.left)
			defer cancel()
			_, b := budgeted(ctx, o, imdsRetryStatuses)
			for i, resp := range tt.answers {
				if got := b.shouldRetry(resp, nil); got != tt.want[i] {
					t.Fatalf("answer %d (HTTP %d): retry %v, want %v", i+1, resp.StatusCode, got, tt.want[i])
				}
			}
		})
	}
}
