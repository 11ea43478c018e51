package azuresim

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are failures a test plants in front of the simulator's handler,
// to see how a client explains them: what an operator sees when a
// registry's network rules, role assignments or a clock are wrong
// (FIELD-NOTES §9).
type Faults struct {
	// FirewallIP, when set, makes every registry host answer 403 DENIED
	// "client with IP '<FirewallIP>' is not allowed access", as ACR's
	// network rules do.
	FirewallIP string
	// NoActions makes every registry's token endpoint (/oauth2/token)
	// grant no actions, as for an identity without a role on the
	// registry: the exchange succeeds, the access token's access claim is
	// empty.
	NoActions bool
	// DateSkew moves the Date header of every answer by this much.
	DateSkew time.Duration
}

// FaultyHandler is Handler with the faults f planted.
func (s *Sim) FaultyHandler(f Faults) http.Handler {
	next := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.DateSkew != 0 {
			w.Header().Set("Date", time.Now().Add(f.DateSkew).UTC().Format(http.TimeFormat))
		}
		isRegistry := s.registry(hostOnly(r.Host)) != nil
		if isRegistry && f.FirewallIP != "" {
			acrError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", f.FirewallIP))
			return
		}
		if isRegistry && f.NoActions && r.URL.Path == "/oauth2/token" {
			if r.Method == http.MethodPost {
				if err := r.ParseForm(); err == nil {
					r.PostForm.Del("scope")
					r.Form.Del("scope")
				}
			} else {
				q := r.URL.Query()
				q.Del("scope")
				r.URL.RawQuery = q.Encode()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Planted misbehaviour: hostile or broken answers switched on and off
// while the servers run, so that the end-to-end tests can show the real
// binary a misbehaving IMDS, Entra, CI token service or registry under the
// real names. Handler, IMDSHandler, CatchHandler and TLSConfig consult
// what is planted; nothing is planted unless a test calls Plant or
// PlantTLS.

// EndpointCaught names requests that CatchHandler saw: anything sent to
// the plain-http catcher (a redirect target on http, say).
const EndpointCaught = "caught"

// Misbehaviour is one planted answer. Host and Endpoint (an Endpoint*
// name) choose the requests it applies to, "" matching any; the latest
// planted match wins. Then, in this order of precedence: Hang, Trickle,
// Redirect, HugeBody, Status; HugeHeader and Header add to whichever
// answer is given, the simulator's own when nothing else is set; Skew
// changes the simulator's own exchange answer.
type Misbehaviour struct {
	Host     string
	Endpoint string
	// Times limits it to the first Times matching requests (410 then OK);
	// 0 means every one.
	Times int
	// Hang accepts the request and never answers, until the client gives
	// up or the misbehaviour is removed.
	Hang bool
	// Trickle sends the simulator's own answer, status line and headers
	// included, one byte a second.
	Trickle bool
	// Redirect answers 307 with this Location: a 307 tells a client to
	// repeat the request, body and all, there.
	Redirect string
	// HugeBody answers Status (default 200) with Body, then HugeBody bytes
	// of 'A', then `"}`: with Body `{"access_token":"` it is a JSON answer
	// whose token is HugeBody bytes long. It is streamed, never held.
	HugeBody int
	// Status and Body are the answer (with Content-Type application/json
	// when Body starts with '{').
	Status int
	Body   string
	// HugeHeader adds a header of this many bytes to the answer.
	HugeHeader int
	// Header adds (replaces) these headers in the answer.
	Header http.Header
	// Skew moves the iat, nbf and exp of the refresh token an exchange
	// answers (re-signed with the registry's key, so it stays valid for
	// the registry), and the answer's Date header: a registry, or this
	// machine, with a clock off by that much.
	Skew time.Duration
}

// TLSMisbehaviour is a planted fault of the TLS listener for connections
// whose SNI name is Host.
type TLSMisbehaviour struct {
	Host string
	// Stall never finishes the handshake, until the client gives up or the
	// misbehaviour is removed.
	Stall bool
	// Cert, when set, is served instead of the simulator's certificate:
	// one for the wrong name, say.
	Cert *tls.Certificate
}

// Sighting is one request in which a watched text (Watch) was seen.
type Sighting struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Endpoint string `json:"endpoint"`
}

// planted is the Sim's set of planted misbehaviour; the zero value has
// none.
type planted struct {
	mu        sync.Mutex
	held      int // requests a Hang holds now
	http      []*plantedHTTP
	tls       []*plantedTLS
	watches   map[string]string // name → text
	sightings []Sighting
}

type plantedHTTP struct {
	m       Misbehaviour
	used    int
	release chan struct{}
}

type plantedTLS struct {
	m       TLSMisbehaviour
	release chan struct{}
}

// Plant makes the servers misbehave as m says until remove is called.
// Hung and trickling answers end when it is.
func (s *Sim) Plant(m Misbehaviour) (remove func()) {
	p := &plantedHTTP{m: m, release: make(chan struct{})}
	s.planted.mu.Lock()
	s.planted.http = append(s.planted.http, p)
	s.planted.mu.Unlock()
	return sync.OnceFunc(func() {
		s.planted.mu.Lock()
		s.planted.http = slices.DeleteFunc(s.planted.http, func(q *plantedHTTP) bool { return q == p })
		s.planted.mu.Unlock()
		close(p.release)
	})
}

// PlantTLS makes the TLS listener misbehave as m says until remove is
// called. Stalled handshakes end when it is.
func (s *Sim) PlantTLS(m TLSMisbehaviour) (remove func()) {
	p := &plantedTLS{m: m, release: make(chan struct{})}
	s.planted.mu.Lock()
	s.planted.tls = append(s.planted.tls, p)
	s.planted.mu.Unlock()
	return sync.OnceFunc(func() {
		s.planted.mu.Lock()
		s.planted.tls = slices.DeleteFunc(s.planted.tls, func(q *plantedTLS) bool { return q == p })
		s.planted.mu.Unlock()
		close(p.release)
	})
}

// Watch makes every server look for text (a client assertion, a job's
// bearer token, a client secret) in each request's URL, headers and first
// MiB of body, and record a Sighting named name where it is found: so a
// test can tell that a secret went nowhere but where it belongs.
func (s *Sim) Watch(name, text string) {
	s.planted.mu.Lock()
	defer s.planted.mu.Unlock()
	if s.planted.watches == nil {
		s.planted.watches = map[string]string{}
	}
	s.planted.watches[name] = text
}

// Sightings returns where watched texts were seen, in order, and forgets
// them.
func (s *Sim) Sightings() []Sighting {
	s.planted.mu.Lock()
	defer s.planted.mu.Unlock()
	out := s.planted.sightings
	s.planted.sightings = nil
	return out
}

// CatchHandler answers plain http on any host with 404, recording each
// request as EndpointCaught (an Entra token in it counts as a leak): a
// test serves it where a redirect to http would land.
func (s *Sim) CatchHandler() http.Handler {
	classify := func(*http.Request) string { return EndpointCaught }
	return s.observe(classify, s.misbehave(classify, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "azuresim: caught "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	})))
}

// misbehave puts what is planted in front of next, and looks for watched
// texts in every request.
func (s *Sim) misbehave(classify func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, endpoint := hostOnly(r.Host), classify(r)
		if err := s.lookForWatched(r, host, endpoint); err != nil {
			http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
			return
		}
		p := s.planted.take(host, endpoint)
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		p.serve(s, w, r, next)
	})
}

func (pl *planted) take(host, endpoint string) *plantedHTTP {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for i := len(pl.http) - 1; i >= 0; i-- {
		p := pl.http[i]
		if (p.m.Host != "" && !strings.EqualFold(p.m.Host, host)) || (p.m.Endpoint != "" && p.m.Endpoint != endpoint) {
			continue
		}
		if p.m.Times > 0 {
			if p.used >= p.m.Times {
				continue
			}
			p.used++
		}
		return p
	}
	return nil
}

func (s *Sim) lookForWatched(r *http.Request, host, endpoint string) error {
	s.planted.mu.Lock()
	watches := maps.Clone(s.planted.watches)
	s.planted.mu.Unlock()
	if len(watches) == 0 {
		return nil
	}
	var prefix []byte
	if r.Body != nil {
		var err error
		if prefix, err = io.ReadAll(io.LimitReader(r.Body, maxScan)); err != nil {
			return err
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
	}
	hay := []string{r.URL.String(), string(prefix)}
	for k, vs := range r.Header {
		hay = append(hay, k+": "+strings.Join(vs, ","))
	}
	var seen []Sighting
	for name, text := range watches {
		for _, h := range hay {
			// Forms encode what JWTs and GUIDs never hold; decode anyway.
			if dec, err := url.QueryUnescape(h); strings.Contains(h, text) || (err == nil && strings.Contains(dec, text)) {
				seen = append(seen, Sighting{Name: name, Host: host, Endpoint: endpoint})
				break
			}
		}
	}
	if len(seen) > 0 {
		s.planted.mu.Lock()
		s.planted.sightings = append(s.planted.sightings, seen...)
		s.planted.mu.Unlock()
	}
	return nil
}

func (p *plantedHTTP) serve(s *Sim, w http.ResponseWriter, r *http.Request, next http.Handler) {
	m := p.m
	addHeaders := func(h http.Header) {
		for k, vs := range m.Header {
			h[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
		}
		if m.HugeHeader > 0 {
			h.Set("X-Azuresim-Padding", strings.Repeat("a", m.HugeHeader))
		}
	}
	switch {
	case m.Hang:
		s.planted.mu.Lock()
		s.planted.held++
		s.planted.mu.Unlock()
		defer func() {
			s.planted.mu.Lock()
			s.planted.held--
			s.planted.mu.Unlock()
		}()
		select {
		case <-r.Context().Done():
		case <-p.release:
			http.Error(w, "azuresim: the hang was lifted", http.StatusServiceUnavailable)
		}
	case m.Trickle:
		p.trickle(s, w, r, next)
	case m.Redirect != "":
		addHeaders(w.Header())
		w.Header().Set("Location", m.Redirect)
		w.WriteHeader(http.StatusTemporaryRedirect)
	case m.HugeBody > 0:
		addHeaders(w.Header())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(cmp.Or(m.Status, http.StatusOK))
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		if _, err := io.WriteString(w, m.Body); err != nil {
			return
		}
		for left := m.HugeBody; left > 0; left -= len(chunk) {
			if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
	case m.Status != 0:
		addHeaders(w.Header())
		if strings.HasPrefix(m.Body, "{") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.WriteHeader(m.Status)
		_, _ = io.WriteString(w, m.Body)
	default:
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if m.Skew != 0 {
			body = s.skewExchange(rec, body, m.Skew)
		}
		maps.Copy(w.Header(), rec.Header())
		addHeaders(w.Header())
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}

// trickle sends next's answer through the hijacked connection one byte a
// second, until the client hangs up or the misbehaviour is removed.
func (p *plantedHTTP) trickle(s *Sim, w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	h := rec.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	h.Set("Connection", "close")
	_ = h.Write(&raw)
	raw.WriteString("\r\n")
	raw.Write(rec.Body.Bytes())
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "azuresim: cannot trickle: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for _, b := range raw.Bytes() {
		if _, err := conn.Write([]byte{b}); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-p.release:
			return
		}
	}
}

// skewExchange re-signs the refresh token of an exchange answer with its
// times moved by d, and moves the Date header with them.
func (s *Sim) skewExchange(rec *httptest.ResponseRecorder, body []byte, d time.Duration) []byte {
	rec.Header().Set("Date", time.Now().Add(d).UTC().Format(http.TimeFormat))
	var ans map[string]string
	if rec.Code != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans["refresh_token"] == "" {
		return body
	}
	claims, ok := unverifiedClaims(ans["refresh_token"])
	if !ok {
		return body
	}
	for _, k := range []string{"iat", "nbf", "exp"} {
		if v, ok := claims[k].(float64); ok {
			claims[k] = int64(v) + int64(d/time.Second)
		}
	}
	tok, err := s.sign(s.acrKey, claims)
	if err != nil {
		return body
	}
	ans["refresh_token"] = tok
	out, err := json.Marshal(ans)
	if err != nil {
		return body
	}
	return append(out, '\n')
}

// tlsMisbehave is what the TLS listener does for hello instead of its own
// configuration; ok is false when nothing is planted for its name.
func (s *Sim) tlsMisbehave(hello *tls.ClientHelloInfo, base *tls.Config) (cfg *tls.Config, ok bool, err error) {
	host := strings.ToLower(hello.ServerName)
	s.planted.mu.Lock()
	var p *plantedTLS
	for i := len(s.planted.tls) - 1; i >= 0; i-- {
		if strings.EqualFold(s.planted.tls[i].m.Host, host) {
			p = s.planted.tls[i]
			break
		}
	}
	s.planted.mu.Unlock()
	switch {
	case p == nil:
		return nil, false, nil
	case p.m.Stall:
		select {
		case <-hello.Context().Done():
		case <-p.release:
		}
		return nil, true, fmt.Errorf("azuresim: stalled the TLS handshake for %s", host)
	case p.m.Cert != nil:
		c := base.Clone()
		c.Certificates = []tls.Certificate{*p.m.Cert}
		return c, true, nil
	}
	return nil, false, nil
}
