package identity

import (
	"context"
	"net"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
)

// dialFunc dials a network address, as net.Dialer.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

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
	if o.Transport != nil {
		return o.Transport, func() {}
	}
	t := httpx.CloneDefaultTransport()
	t.Proxy = nil
	if o.dial != nil {
		t.DialContext = o.dial
	}
	c := &http.Client{Transport: t, CheckRedirect: httpx.NoRedirect}
	return c, c.CloseIdleConnections
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
		return o.Transport, func() {}
	}
	t := httpx.CloneDefaultTransport()
	if o.dial != nil {
		t.DialContext = o.dial
	}
	c := &http.Client{Transport: t, CheckRedirect: httpx.NoRedirect}
	return c, c.CloseIdleConnections
}
