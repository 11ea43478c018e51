// Package httpx builds the HTTP clients of the token packages: clones of
// Go's default transport that follow no redirect, because every request
// they send carries a token, an assertion or a secret that must go to the
// host it was meant for and nowhere else.
package httpx

import (
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// NoRedirect makes an http.Client return a redirect as the answer, which
// the caller then reports as an unexpected status.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// MaxResponseHeaderBytes caps the headers of every answer our transports
// read. Go's default is 10 MiB, held in memory before any of our code sees
// the answer. The services we talk to (ACR, Entra with its cookies and
// security headers, IMDS, the CI token services) send a few KiB at most,
// so 64 KiB refuses nothing real while
// keeping a hostile or broken endpoint, or a proxy in between, from making
// a credential helper hold megabytes of headers.
const MaxResponseHeaderBytes = 64 << 10

// CloneDefaultTransport clones http.DefaultTransport (proxy settings
// included), or builds its equivalent when a program has replaced it with
// another RoundTripper, with TLS 1.2 at least and response headers capped
// at MaxResponseHeaderBytes (or the program's own smaller cap).
func CloneDefaultTransport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = max(t.TLSClientConfig.MinVersion, tls.VersionTLS12)
	if t.MaxResponseHeaderBytes <= 0 || t.MaxResponseHeaderBytes > MaxResponseHeaderBytes {
		t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	}
	return t
}

// RetryAfter reads the wait an answer asks for, as azcore does:
// retry-after-ms, then x-ms-retry-after-ms (milliseconds), then
// Retry-After in whole seconds or as an HTTP date (a date in the past is
// no wait). ok is false when none of them holds a valid value.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	for _, k := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.ParseUint(strings.TrimSpace(h.Get(k)), 10, 32); err == nil {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
