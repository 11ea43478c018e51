package azuresim

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// What the simulator records of the traffic it sees, for the tests to read back.

// Exchange records one call of /oauth2/exchange.
type Exchange struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Status   int       `json:"status"`
	Error    string    `json:"error,omitempty"`
	Identity string    `json:"identity,omitempty"` // Principal.String of the Entra token
	Audience string    `json:"audience,omitempty"`
	Tenant   string    `json:"tenant,omitempty"` // the tenant form field
	// RefreshExpires is the exp of the refresh token answered.
	RefreshExpires time.Time `json:"refresh_expires,omitzero"`
}

// Request records one request, or one TLS handshake, the simulator saw.
type Request struct {
	// Start is when the request arrived (for a handshake, its hello);
	// Time when it was answered. Between them lies D (SetDelay).
	Start    time.Time `json:"start,omitzero"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Method   string    `json:"method,omitempty"`
	Path     string    `json:"path,omitempty"`
	Endpoint string    `json:"endpoint"`
	Status   int       `json:"status,omitempty"`
	// EntraToken is true when the request carried an Entra token the
	// simulator issued, anywhere in its headers, URL or first MiB of body.
	EntraToken bool `json:"entra_token,omitempty"`
}

// Stats is a snapshot of what the simulator saw since the last Reset.
type Stats struct {
	// Counts maps "host endpoint" to a number of requests, e.g.
	// "myreg.azurecr.io acr.exchange": 1, "169.254.169.254 imds": 1.
	Counts    map[string]int `json:"counts"`
	Exchanges []Exchange     `json:"exchanges"`
	Requests  []Request      `json:"requests"`
}

// Count returns the number of requests to endpoint on host.
func (st Stats) Count(host, endpoint string) int { return st.Counts[host+" "+endpoint] }

// Total returns the number of requests to endpoint on any host.
func (st Stats) Total(endpoint string) int {
	n := 0
	for k, v := range st.Counts {
		if strings.HasSuffix(k, " "+endpoint) {
			n += v
		}
	}
	return n
}

// Leaks returns the requests that carried an Entra token anywhere but to
// a registry's /oauth2/exchange.
func (st Stats) Leaks(registries []string) []Request {
	var out []Request
	for _, r := range st.Requests {
		if r.EntraToken && !(r.Endpoint == EndpointExchange && slices.Contains(registries, r.Host)) {
			out = append(out, r)
		}
	}
	return out
}

// Stats returns a snapshot of counts and records since the last Reset.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Counts: make(map[string]int, len(s.counts)), Exchanges: slices.Clone(s.exchanges), Requests: slices.Clone(s.requests)}
	for k, v := range s.counts {
		st.Counts[k] = v
	}
	return st
}

// Reset forgets counts and records (not identities, registries or issued
// tokens, so a leak of an old token is still seen).
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.exchanges = nil
	s.requests = nil
	s.tokenReqs = nil
	s.assertions = nil
}

// EntraTokenRequests returns the token requests Entra parsed since the
// last Reset, in order.
func (s *Sim) EntraTokenRequests() []EntraTokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenReqs)
}

// CountSummary renders non-zero counts, sorted, for messages.
func (st Stats) CountSummary() string {
	keys := make([]string, 0, len(st.Counts))
	for k := range st.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-45s %d\n", k, st.Counts[k])
	}
	return b.String()
}

func (s *Sim) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.Start.IsZero() {
		r.Start = r.Time
	}
	s.counts[r.Host+" "+r.Endpoint]++
	s.requests = append(s.requests, r)
}

func (s *Sim) recordExchange(e Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Time = time.Now()
	s.exchanges = append(s.exchanges, e)
}

// carriesEntraToken reports whether any Entra token the simulator issued
// appears in the request's URL, headers or body prefix.
func (s *Sim) carriesEntraToken(r *http.Request, body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.issued) == 0 {
		return false
	}
	hay := [][]byte{[]byte(r.URL.String()), body}
	for k, vs := range r.Header {
		hay = append(hay, []byte(k+": "+strings.Join(vs, ",")))
	}
	// Tokens may arrive form- or URL-encoded; JWTs hold only characters
	// that encoding leaves alone, so the raw text is enough.
	for tok := range s.issued {
		for _, h := range hay {
			if bytes.Contains(h, []byte(tok)) {
				return true
			}
		}
	}
	return false
}

// maxScan caps how much of a request body is searched for leaked tokens.
const maxScan = 1 << 20

// observe wraps a handler so each request is counted under the endpoint
// that classify names, with its status and whether it carried an Entra
// token.
func (s *Sim) observe(classify func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var prefix []byte
		if r.Body != nil {
			var err error
			prefix, err = io.ReadAll(io.LimitReader(r.Body, maxScan))
			if err != nil {
				http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
		}
		rec := Request{
			Start:      start,
			Host:       hostOnly(r.Host),
			Method:     r.Method,
			Path:       r.URL.Path,
			Endpoint:   classify(r),
			EntraToken: s.carriesEntraToken(r, prefix),
		}
		sw := &statusWriter{ResponseWriter: w}
		s.pause(r.Context())
		next.ServeHTTP(sw, r)
		rec.Status = sw.status
		// Nothing written: net/http answers 200 for the handler, unless the
		// client had already gone (a hang it gave up on): 0, no answer.
		if rec.Status == 0 && r.Context().Err() == nil {
			rec.Status = http.StatusOK
		}
		s.record(rec)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (the reverse proxy's flushes) reach
// the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func hostOnly(hostport string) string {
	h := hostport
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ContainsEntraToken reports whether text holds any Entra token the
// simulator issued: tests use it to check that logs and error messages
// never show one.
func (s *Sim) ContainsEntraToken(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.issued {
		if strings.Contains(text, tok) {
			return true
		}
	}
	return false
}

// Since returns what happened after before was taken: counts as
// differences, and the exchanges and requests recorded since. It assumes
// no Reset in between.
func (st Stats) Since(before Stats) Stats {
	d := Stats{Counts: map[string]int{}}
	for k, v := range st.Counts {
		if n := v - before.Counts[k]; n != 0 {
			d.Counts[k] = n
		}
	}
	if len(st.Exchanges) >= len(before.Exchanges) {
		d.Exchanges = st.Exchanges[len(before.Exchanges):]
	}
	if len(st.Requests) >= len(before.Requests) {
		d.Requests = st.Requests[len(before.Requests):]
	}
	return d
}
