package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// dialFunc dials a network address, as net.Dialer.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// imdsConnectTimeout bounds the TCP connect to IMDS, standing in for the
// probe that DefaultAzureCredential sends first: IMDS is on the VM's own
// host and accepts at once; where it does not exist, packets to
// 169.254.169.254 may be dropped silently and only a timeout tells. It
// bounds the connect only, not the answer: IMDS may take seconds to mint
// a token for a new identity.
const imdsConnectTimeout = time.Second

// maxAnswer caps what is read of any answer from Entra, a managed
// identity endpoint or a CI token service. Tokens, error bodies and
// OpenID configurations are a few kilobytes; a larger answer comes from
// something else, and is not read (a 20 MB answer was read whole, and
// held in memory more than once, before).
const maxAnswer = 1 << 20

// managedClient returns the transport for managed identity endpoints,
// and a function that releases the idle connections of a client built for
// one call.
//
// When the caller gave none, it is a clone of http.DefaultTransport that
// never uses a proxy: every managed identity endpoint is on this machine or
// its host (IMDS at the link-local 169.254.169.254, App Service's and
// Container Apps' IDENTITY_ENDPOINT on loopback or link-local addresses,
// Arc's and Cloud Shell's on localhost). Through HTTP_PROXY, IMDS's answer,
// an Entra token, would cross the proxy in clear text, and a proxy that
// itself runs on an Azure VM would have its own IMDS answer: the helper would
// then act as the proxy's identity. azcore's default client honours
// HTTP_PROXY, and Go's own NO_PROXY logic exempts loopback but not
// link-local addresses, so it has to be this client.
//
// It also follows no redirect: no managed identity endpoint redirects, and
// following one would carry IDENTITY_HEADER to wherever it points.
func managedClient(o Options) (policy.Transporter, func()) {
	return managedClientWith(o, 0)
}

// imdsClient is managedClient with the connect bounded by
// imdsConnectTimeout. A caller's Transport is used as is: its dialer
// decides.
func imdsClient(o Options) (policy.Transporter, func()) {
	return managedClientWith(o, imdsConnectTimeout)
}

func managedClientWith(o Options, connectTimeout time.Duration) (policy.Transporter, func()) {
	if o.Transport != nil {
		return capped(o.Transport), func() {}
	}
	c := uncappedManagedClient(o, connectTimeout)
	return capped(c), c.CloseIdleConnections
}

// uncappedManagedClient is managedClient's own client without the cap on
// answers, for Service Fabric: MSAL pins Service Fabric's certificate on
// the client's transport, and so insists on an *http.Client holding an
// *http.Transport, which the cap would hide.
func uncappedManagedClient(o Options, connectTimeout time.Duration) *http.Client {
	t := httpx.CloneDefaultTransport()
	t.Proxy = nil
	t.DialContext = boundedDial(o.dial, connectTimeout)
	return &http.Client{Transport: t, CheckRedirect: httpx.NoRedirect}
}

// boundedDial returns dial (nil: a plain net.Dialer's) with each dial
// bounded by timeout (0: unbounded here). The bound goes on the dial's
// context, not on a net.Dialer, so that it holds for a test's dialer too.
func boundedDial(dial dialFunc, timeout time.Duration) dialFunc {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if timeout <= 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return dial(ctx, network, addr)
	}
}

// noRedirectClient returns the transport for Entra's token endpoint and
// the CI systems' ID token services (GitHub Actions, Azure DevOps). When
// the caller gave none, it is a clone of http.DefaultTransport, proxy
// settings included (these services are on the internet), that follows no
// redirect: a client secret, a client assertion or the job's bearer token
// goes only to the https URL it was meant for, and Go would resend a
// bearer header on a same-host redirect even to plain http.
func noRedirectClient(o Options) (policy.Transporter, func()) {
	if o.Transport != nil {
		return capped(o.Transport), func() {}
	}
	t := httpx.CloneDefaultTransport()
	if o.dial != nil {
		t.DialContext = o.dial
	}
	c := &http.Client{Transport: t, CheckRedirect: httpx.NoRedirect}
	return capped(c), c.CloseIdleConnections
}

// cappedTransport lets at most maxAnswer bytes of an answer's body be
// read; reading more fails with a *tooLargeError. It sits below azcore's
// pipeline, whose body download policy reads every answer whole before
// any policy sees it, so that this cap holds for azidentity's and MSAL's
// reads too, and a caller's Transport gets it as well.
type cappedTransport struct{ next policy.Transporter }

func capped(next policy.Transporter) policy.Transporter { return &cappedTransport{next: next} }

func (c *cappedTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	tl := &tooLargeError{where: safetext.Printable(req.URL.Scheme + "://" + req.URL.Host + req.URL.Path), limit: maxAnswer}
	b := &cappedBody{body: resp.Body, left: maxAnswer, tooLarge: tl}
	// Declared too large: not a byte of it is read, but the status and
	// headers stay for the error.
	b.refuse = resp.ContentLength > maxAnswer
	resp.Body = b
	return resp, nil
}

// CloseIdleConnections lets azidentity release the wrapped client's
// connections, as it does with an *http.Client.
func (c *cappedTransport) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// cappedBody reads at most left bytes of body, then fails if there is
// more.
type cappedBody struct {
	body     io.ReadCloser
	left     int64
	refuse   bool // the answer declared a length above the cap
	tooLarge *tooLargeError
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.refuse {
		return 0, b.tooLarge
	}
	if b.left <= 0 {
		// The limit is reached: one more byte means the answer is too large.
		var one [1]byte
		if n, err := b.body.Read(one[:]); n > 0 {
			return 0, b.tooLarge
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.body.Close() }

// tooLargeError is an answer larger than maxAnswer. Retrying would get
// the same, so azcore's retry policy is told not to (NonRetriable). Its
// text names the endpoint (scheme, host and path: no query).
type tooLargeError struct {
	where string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the answer of %s is larger than %d bytes, more than any token or error answer: it was not read", e.where, e.limit)
}

func (*tooLargeError) NonRetriable() {}

// asTooLarge finds a *tooLargeError in err's chain.
func asTooLarge(err error) (*tooLargeError, bool) {
	var tl *tooLargeError
	ok := errors.As(err, &tl)
	return tl, ok
}
