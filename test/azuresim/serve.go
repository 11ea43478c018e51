package azuresim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TLSConfig returns a server TLS configuration with cert that records
// every handshake's SNI name, so a connection to a look-alike host is seen
// even if it never sends a request. Each handshake waits D (SetDelay).
func (s *Sim) TLSConfig(cert tls.Certificate) *tls.Config {
	base := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			// Recorded once the delay is over, with Start at the hello:
			// the span is the handshake's share of the timeline.
			start := time.Now()
			s.pause(hello.Context())
			s.record(Request{Start: start, Host: strings.ToLower(hello.ServerName), Endpoint: EndpointTLSHello})
			if cfg, ok, err := s.tlsMisbehave(hello, base); ok {
				return cfg, err
			}
			return base, nil
		},
	}
}

// ControlHandler serves the simulator's own API, for tools outside the Go
// process (the demo's reader, the fake az):
//
//	GET  /stats                    Stats as JSON
//	POST /reset                    forget counts and records
//	GET  /az?resource=R&tenant=T   an `az account get-access-token` answer
//	GET  /federated-token?sub=S    a workload identity token for subject S
func (s *Sim) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /az", func(w http.ResponseWriter, r *http.Request) {
		resource := r.URL.Query().Get("resource")
		if resource == "" {
			resource = r.URL.Query().Get("scope")
		}
		tok, err := s.CLIToken(resource, r.URL.Query().Get("tenant"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, tok)
	})
	mux.HandleFunc("GET /federated-token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.FederatedToken(r.URL.Query().Get("sub"), time.Hour)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(tok))
	})
	return mux
}

// ServeOptions say where to listen. Empty addresses are not served.
type ServeOptions struct {
	// TLSAddr serves Entra and the ACR front, e.g. "127.0.0.1:443".
	TLSAddr string
	// Cert is the TLS certificate; it must name every host in Sim.Hosts.
	Cert tls.Certificate
	// IMDSAddr serves IMDS, e.g. "169.254.169.254:80".
	IMDSAddr string
	// ControlAddr serves ControlHandler, e.g. "127.0.0.1:0".
	ControlAddr string
	// ErrorLog receives the HTTP servers' own errors (TLS handshake
	// failures and the like); nil discards them.
	ErrorLog *log.Logger
}

// Servers are the simulator's running listeners.
type Servers struct {
	TLSAddr, IMDSAddr, ControlAddr string

	servers []*http.Server
	wg      sync.WaitGroup
	errMu   sync.Mutex
	err     error
}

// Serve starts the listeners. Close stops them.
func (s *Sim) Serve(opts ServeOptions) (*Servers, error) {
	sv := &Servers{}
	errLog := opts.ErrorLog
	if errLog == nil {
		errLog = log.New(io.Discard, "", 0)
	}
	start := func(addr string, h http.Handler, tlsCfg *tls.Config) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("azuresim: listen on %s: %w", addr, err)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog}
		sv.servers = append(sv.servers, hs)
		sv.wg.Add(1)
		go func() {
			defer sv.wg.Done()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				sv.errMu.Lock()
				sv.err = errors.Join(sv.err, err)
				sv.errMu.Unlock()
			}
		}()
		return ln.Addr().String(), nil
	}
	var err error
	if opts.TLSAddr != "" {
		if sv.TLSAddr, err = start(opts.TLSAddr, s.Handler(), s.TLSConfig(opts.Cert)); err != nil {
			sv.Close()
			return nil, err
		}
	}
	if opts.IMDSAddr != "" {
		if sv.IMDSAddr, err = start(opts.IMDSAddr, s.IMDSHandler(), nil); err != nil {
			sv.Close()
			return nil, err
		}
	}
	if opts.ControlAddr != "" {
		if sv.ControlAddr, err = start(opts.ControlAddr, s.ControlHandler(), nil); err != nil {
			sv.Close()
			return nil, err
		}
	}
	return sv, nil
}

// Close stops the listeners and returns any error they ended with.
func (sv *Servers) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range sv.servers {
		_ = hs.Shutdown(ctx)
	}
	sv.wg.Wait()
	sv.errMu.Lock()
	defer sv.errMu.Unlock()
	return sv.err
}

// FetchStats reads Stats from a simulator's control address.
func FetchStats(ctx context.Context, controlAddr string) (Stats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+controlAddr+"/stats", nil)
	if err != nil {
		return Stats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("azuresim stats: %w", err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Stats{}, fmt.Errorf("azuresim stats: %w", err)
	}
	return st, nil
}
