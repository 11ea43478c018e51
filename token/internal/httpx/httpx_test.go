package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestResponseHeadersCapped: an answer whose headers pass
// MaxResponseHeaderBytes fails at the transport, before anything reads it;
// one within the cap is read.
func TestResponseHeadersCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := MaxResponseHeaderBytes / 2
		if r.URL.Path == "/huge" {
			n = 1 << 20
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="`+strings.Repeat("a", n)+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	tr := CloneDefaultTransport()
	if tr.MaxResponseHeaderBytes != MaxResponseHeaderBytes {
		t.Fatalf("MaxResponseHeaderBytes = %d", tr.MaxResponseHeaderBytes)
	}
	tr.Proxy = nil
	c := &http.Client{Transport: tr, CheckRedirect: NoRedirect}
	defer c.CloseIdleConnections()

	resp, err := c.Get(srv.URL + "/huge")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a 1 MiB header was read: %d", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "server response headers exceeded 65536 bytes") {
		t.Fatalf("err = %v", err)
	}
	resp, err = c.Get(srv.URL + "/small")
	if err != nil {
		t.Fatalf("a 32 KiB header was refused: %v", err)
	}
	resp.Body.Close()
}

// TestCloneKeepsASmallerCap: a program's own smaller cap on
// http.DefaultTransport is kept.
func TestCloneKeepsASmallerCap(t *testing.T) {
	dt := http.DefaultTransport.(*http.Transport)
	saved := dt.MaxResponseHeaderBytes
	t.Cleanup(func() { dt.MaxResponseHeaderBytes = saved })
	dt.MaxResponseHeaderBytes = 4096
	if got := CloneDefaultTransport().MaxResponseHeaderBytes; got != 4096 {
		t.Fatalf("MaxResponseHeaderBytes = %d, want the program's 4096", got)
	}
}

// TestRetryAfter: the three headers azcore reads, in its order, with what
// is not a valid value ignored.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"none", http.Header{}, 0, false},
		{"empty", http.Header{"Retry-After": {""}}, 0, false},
		{"zero", http.Header{"Retry-After": {"0"}}, 0, true},
		{"seconds, spaced", http.Header{"Retry-After": {" 5 "}}, 5 * time.Second, true},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0, false},
		{"fraction", http.Header{"Retry-After": {"1.5"}}, 0, false},
		{"a word", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"overflow", http.Header{"Retry-After": {"99999999999999999999"}}, 0, false},
		{"a date", http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, 30 * time.Second, true},
		{"a date past", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"milliseconds first", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"5"}}, 250 * time.Millisecond, true},
		{"x-ms milliseconds", http.Header{"X-Ms-Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, true},
		{"bad milliseconds fall back", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"2"}}, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RetryAfter(tt.h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%v) = %v, %v; want %v, %v", tt.h, got, ok, tt.want, tt.ok)
			}
		})
	}
}
