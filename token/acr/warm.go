package acr

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
)

// This file is the Exchanger's connection to the login server: its own
// transport, whose TLS dial can be started before the Entra token exists
// (Prepare) and then handed to the exchange's request, so that the
// handshake overlaps the identity source's requests instead of following
// them.

// warmMaxAge is how long a connection dialled ahead may wait for its
// request. A server may drop a connection that sends nothing; an identity
// source slower than this has made the handshake's saving small anyway, so
// such a connection is closed and the exchange dials afresh.
const warmMaxAge = 15 * time.Second

// conn is what the Exchanger sends with: the client, and the dialler that
// warms its transport (nil when the caller's RoundTripper is not an
// *http.Transport, whose dialling this package cannot reach).
type conn struct {
	client *http.Client
	warm   *warmDialer
}

// newConn builds the Exchanger's client on its own transport: a clone of
// the caller's *http.Transport (or of http.DefaultTransport), so that
// installing the warm dialler changes nobody else's transport. Redirects are
// refused (see Options.HTTPClient).
func newConn(caller *http.Client) *conn {
	var c http.Client
	var base *http.Transport
	switch {
	case caller == nil:
		base = httpx.CloneDefaultTransport()
	default:
		c = *caller
		rt := caller.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		t, ok := rt.(*http.Transport)
		if !ok {
			c.CheckRedirect = httpx.NoRedirect
			return &conn{client: &c}
		}
		base = t.Clone()
	}
	c.CheckRedirect = httpx.NoRedirect
	c.Transport = base
	return &conn{client: &c, warm: newWarmDialer(base)}
}

// warmDialer is t's TLS dial: it hands out a connection that Prepare
// dialled ahead for the same address, else dials as t would have.
type warmDialer struct {
	t *http.Transport
	// dialTLS is t's own TLS dial: the caller's DialTLSContext or DialTLS
	// when it had one, else dialTLSLikeTransport.
	dialTLS func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	ahead map[string]*aheadConn // by host:port, as the transport names it
}

// aheadConn is one connection dialled ahead of its request.
type aheadConn struct {
	ctx   context.Context // Prepare's: the dial and the offer end with it
	ready chan struct{}   // closed when conn, err and at are set
	conn  net.Conn
	err   error
	at    time.Time
	// claimed is set by whoever owns conn from then on: the transport, or
	// the clean-up that closes it.
	claimed atomic.Bool
}

// newWarmDialer installs a warmDialer as t's TLS dial.
func newWarmDialer(t *http.Transport) *warmDialer {
	w := &warmDialer{t: t, ahead: map[string]*aheadConn{}}
	switch {
	case t.DialTLSContext != nil:
		w.dialTLS = t.DialTLSContext
	case t.DialTLS != nil:
		dial := t.DialTLS
		w.dialTLS = func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
	default:
		// A custom TLS dial makes net/http leave HTTP/2 off unless forced;
		// force it exactly where net/http would have turned it on by itself
		// (no TLS config, no dialler, no protocol choice), so that the
		// transport negotiates what it would have without us.
		if t.TLSNextProto == nil && t.Protocols == nil && !t.ForceAttemptHTTP2 &&
			t.TLSClientConfig == nil && t.Dial == nil && t.DialContext == nil {
			t.ForceAttemptHTTP2 = true
		}
		w.dialTLS = w.dialTLSLikeTransport
	}
	t.DialTLS = nil
	t.DialTLSContext = w.dial
	// The transport sets up HTTP/2 once, on first use, and that adds "h2"
	// to TLSClientConfig.NextProtos. Run it now, before any dial ahead reads
	// the config: on a new transport there is nothing idle to close.
	t.CloseIdleConnections()
	return w
}

// dial is the transport's DialTLSContext.
func (w *warmDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	w.mu.Lock()
	a := w.ahead[addr]
	delete(w.ahead, addr)
	w.mu.Unlock()
	if a != nil {
		select {
		case <-a.ready:
		case <-ctx.Done():
			// a stays unclaimed: its clean-up closes it.
			return nil, ctx.Err()
		}
		if a.claimed.CompareAndSwap(false, true) {
			switch {
			case a.err == nil && time.Since(a.at) < warmMaxAge:
				return a.conn, nil
			case a.err == nil:
				a.conn.Close()
			case a.ctx.Err() == nil:
				// The dial ahead was this request's dial, and it failed:
				// dialling again would dial the host twice for one answer.
				return nil, a.err
			}
			// Prepare's context ended first, or the connection is stale:
			// not this request's failure.
		}
	}
	return w.dialTLS(ctx, network, addr)
}

// dialAhead starts dialling addr (host:port) under ctx, bounded by
// timeout, for the next request to addr. wg counts the work it starts.
// At most one connection per address is waiting at a time.
func (w *warmDialer) dialAhead(ctx context.Context, addr string, timeout time.Duration, wg *sync.WaitGroup) {
	a := &aheadConn{ctx: ctx, ready: make(chan struct{})}
	w.mu.Lock()
	if w.ahead[addr] != nil {
		w.mu.Unlock()
		return
	}
	w.ahead[addr] = a
	w.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		dctx, cancel := context.WithTimeout(ctx, timeout)
		a.conn, a.err = w.dialTLS(dctx, "tcp", addr)
		cancel()
		a.at = time.Now()
		close(a.ready)
	}()
	// When Prepare's context ends, a connection nobody took is withdrawn
	// and closed.
	// The clean-up runs even after a hand-out (then it finds the
	// connection claimed): it is also what withdraws an offer nobody asked
	// for.
	wg.Add(1)
	context.AfterFunc(ctx, func() {
		defer wg.Done()
		w.mu.Lock()
		if w.ahead[addr] == a {
			delete(w.ahead, addr)
		}
		w.mu.Unlock()
		<-a.ready // the dial ends with ctx
		if a.claimed.CompareAndSwap(false, true) && a.conn != nil {
			a.conn.Close()
		}
	})
}

// errTLSHandshakeTimeout is net/http's "TLS handshake timeout", for
// Transport.TLSHandshakeTimeout.
var errTLSHandshakeTimeout = tlsHandshakeTimeout{}

type tlsHandshakeTimeout struct{}

func (tlsHandshakeTimeout) Error() string   { return "net/http: TLS handshake timeout" }
func (tlsHandshakeTimeout) Timeout() bool   { return true }
func (tlsHandshakeTimeout) Temporary() bool { return true }

// dialTLSLikeTransport dials and handshakes as net/http's Transport does
// without a custom TLS dial: its DialContext (or Dial), then TLS with a
// copy of TLSClientConfig (RootCAs, NextProtos, MinVersion and all), the
// host as ServerName unless the config names one, within
// TLSHandshakeTimeout.
func (w *warmDialer) dialTLSLikeTransport(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var raw net.Conn
	switch t := w.t; {
	case t.DialContext != nil:
		raw, err = t.DialContext(ctx, network, addr)
	case t.Dial != nil:
		raw, err = t.Dial(network, addr)
	default:
		var d net.Dialer
		raw, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if w.t.TLSClientConfig != nil {
		cfg = w.t.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	hctx := ctx
	if d := w.t.TLSHandshakeTimeout; d > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeoutCause(ctx, d, errTLSHandshakeTimeout)
		defer cancel()
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		if ctx.Err() == nil && errors.Is(context.Cause(hctx), errTLSHandshakeTimeout) {
			return nil, errTLSHandshakeTimeout
		}
		return nil, err
	}
	return tc, nil
}
