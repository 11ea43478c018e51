// Package httpx builds the HTTP clients of the token packages: clones of
// Go's default transport that follow no redirect, because every request
// they send carries a token, an assertion or a secret that must go to the
// host it was meant for and nowhere else.
package httpx

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NoRedirect makes an http.Client return a redirect as the answer, which
// the caller then reports as an unexpected status.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// MaxResponseHeaderBytes caps the status line and headers of every answer
// read through these transports. Go's own default is 10 MiB, and reading
// that much took a get's peak RSS from 14 to 50-65 MiB (issue 12's hostile
// endpoints). No answer of IMDS, Entra, a CI token service or ACR comes
// near it: their headers are a few KiB.
const MaxResponseHeaderBytes = 256 << 10

// CloneDefaultTransport clones http.DefaultTransport (proxy settings
// included), or builds its equivalent when a program has replaced it with
// another RoundTripper, with TLS 1.2 at least and headers capped at
// MaxResponseHeaderBytes.
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
	t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	return t
}
