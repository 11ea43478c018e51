package acr

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Prepare starts, without waiting for it, what Exchange will need before
// the Entra token exists (token.Preparer):
//
//   - with r.SkipChallenge, the TLS connection to the login server, which
//     the exchange's request then takes instead of dialling (not through a
//     proxy, and not with a caller's RoundTripper that is not an
//     *http.Transport: then nothing is started);
//   - without it, the registry's challenge (GET /v2/, which sends no
//     token), whose checked answer Exchange then waits for. Its connection
//     stays open for the exchange.
//
// Everything it starts ends with ctx: a connection or answer no Exchange
// took is dropped then. r.EntraToken is not used.
func (x *Exchanger) Prepare(ctx context.Context, r token.ExchangeRequest) {
	origin, err := parseLoginServer(r.LoginServer)
	if err != nil || ctx.Err() != nil {
		return // Exchange says what is wrong
	}
	if !r.SkipChallenge {
		x.challengeEarly(ctx, r.LoginServer, origin)
		return
	}
	c := x.conn()
	if c.warm == nil {
		x.log.DebugContext(ctx, "acr connection not dialled ahead: the HTTP client's transport is not an *http.Transport", "login_server", r.LoginServer)
		return
	}
	if p := c.warm.t.Proxy; p != nil {
		// Through a proxy the connection is the proxy's, made after a
		// CONNECT with its own headers and authentication: net/http's to
		// make, with the request.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, exchangeEndpoint(origin.Host).String(), nil)
		if err != nil {
			return
		}
		if u, err := p(req); err != nil || u != nil {
			x.log.DebugContext(ctx, "acr connection not dialled ahead: a proxy applies", "login_server", r.LoginServer)
			return
		}
	}
	c.warm.dialAhead(ctx, net.JoinHostPort(origin.Hostname(), httpsPort(origin)), x.timeout, &x.work)
}

// earlyChallenge is a challenge Prepare started.
type earlyChallenge struct {
	ctx   context.Context // Prepare's
	start time.Time       // when it was sent: a hang's error tells the wait
	done  chan struct{}   // closed when the fields below are set
	// What challenge returned.
	exchangeURL *url.URL
	service     string
	err         error
}

// challengeEarly reads loginServer's challenge in the background.
func (x *Exchanger) challengeEarly(ctx context.Context, loginServer string, origin *url.URL) {
	c := &earlyChallenge{ctx: ctx, start: time.Now(), done: make(chan struct{})}
	x.mu.Lock()
	if x.early == nil {
		x.early = map[string][]*earlyChallenge{}
	}
	x.early[loginServer] = append(x.early[loginServer], c)
	x.mu.Unlock()
	x.log.DebugContext(ctx, "acr challenge started ahead of the Entra token", "login_server", loginServer)
	x.work.Add(2)
	go func() {
		defer x.work.Done()
		// No token exists yet, so there is none to redact.
		c.exchangeURL, c.service, c.err = x.challenge(ctx, loginServer, origin, "")
		close(c.done)
	}()
	// An answer no Exchange collected is dropped with its context.
	context.AfterFunc(ctx, func() {
		defer x.work.Done()
		x.takeEarly(loginServer, c)
	})
}

// takeEarly removes and returns the challenge c, or with c nil the oldest
// one started for loginServer; nil when there is none.
func (x *Exchanger) takeEarly(loginServer string, c *earlyChallenge) *earlyChallenge {
	x.mu.Lock()
	defer x.mu.Unlock()
	list := x.early[loginServer]
	for i, e := range list {
		if c == nil || e == c {
			list = append(list[:i:i], list[i+1:]...)
			if len(list) == 0 {
				delete(x.early, loginServer)
			} else {
				x.early[loginServer] = list
			}
			return e
		}
	}
	return nil
}

// collectChallenge returns the challenge's exchange URL and service: the
// one Prepare started for loginServer, else one read now. An early
// challenge that failed because Prepare's context ended is not this
// exchange's failure: it is read again.
func (x *Exchanger) collectChallenge(ctx context.Context, loginServer string, origin *url.URL, secret string) (*url.URL, string, error) {
	if c := x.takeEarly(loginServer, nil); c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			// The challenge Prepare started is the one try that hung,
			// since it was sent: that is the wait to tell.
			return nil, "", x.networkError(ctx, "challenge", loginServer, try{endpoint: origin.JoinPath("/v2/").String(), tries: 1, took: time.Since(c.start)}, ctx.Err(), secret)
		}
		// With this exchange's context ended too, reading the challenge
		// again could only fail at once: the early one's error tells the
		// wait as it was.
		if c.err == nil || c.ctx.Err() == nil || ctx.Err() != nil {
			return c.exchangeURL, c.service, c.err
		}
	}
	return x.challenge(ctx, loginServer, origin, secret)
}

// exchangeEndpoint is https://host/oauth2/exchange, for a host (and port)
// already checked: the login server's, or a realm's on it.
func exchangeEndpoint(host string) *url.URL {
	return &url.URL{Scheme: "https", Host: host, Path: "/oauth2/exchange"}
}

// loginServerService is the service ACR names in its challenge: the login
// server's host name, lower case (ACR serves no other port).
func loginServerService(origin *url.URL) string {
	return safetext.Lower(origin.Hostname())
}
