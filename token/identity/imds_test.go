package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// imdsAnswer is one answer of a fake at the IMDS address.
type imdsAnswer struct {
	status      int
	contentType string
	body        string
	retryAfter  string
}

func (a imdsAnswer) write(w http.ResponseWriter) {
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	fmt.Fprint(w, a.body)
}

// TestManagedSourceTellsIMDSApartByItsAnswer: without a probe, the token
// request's own answer tells Azure IMDS from something else at
// 169.254.169.254 (other clouds' metadata services, Docker Desktop's
// stand-in, an intercepting proxy). Something else makes the source
// unavailable after exactly that one request: azcore retries 404, 410,
// 429 and 5xx for IMDS, and must not retry these.
func TestManagedSourceTellsIMDSApartByItsAnswer(t *testing.T) {
	clearManagedIdentityEnv(t)
	entra := newEntra(t)
	tests := []struct {
		name     string
		script   []imdsAnswer
		isIMDS   bool
		requests int      // token requests made
		want     []string // in the error, when not IMDS
	}{
		{name: "Azure IMDS", isIMDS: true, requests: 1},
		{name: "Azure IMDS, 410 while the identity is set up", isIMDS: true, requests: 2,
			script: []imdsAnswer{{status: 410, contentType: "application/json", body: `{"error":"unavailable","error_description":"Identity is being set up"}`}}},
		{name: "Azure IMDS, 404 without a body while it updates", isIMDS: true, requests: 2, script: []imdsAnswer{{status: 404}}},
		{name: "Azure IMDS, 503 asking to retry after a second", isIMDS: true, requests: 2,
			script: []imdsAnswer{{status: 503, contentType: "application/json", body: `{"error":"busy"}`, retryAfter: "1"}}},
		{name: "404 HTML (GCP, AWS IMDSv1, OpenStack)", requests: 1, script: []imdsAnswer{{status: 404, contentType: "text/html", body: "<html><body>404 Not Found</body></html>"}},
			want: []string{"HTTP 404", "text/html"}},
		{name: "401 empty (AWS IMDSv2 only)", requests: 1, script: []imdsAnswer{{status: 401}}, want: []string{"HTTP 401"}},
		{name: "403 text (Docker Desktop)", requests: 1, script: []imdsAnswer{{status: 403, contentType: "text/plain", body: "connecting to 169.254.169.254:80: unreachable network"}},
			want: []string{"HTTP 403"}},
		{name: "502 HTML (a proxy)", requests: 1, script: []imdsAnswer{{status: 502, contentType: "text/html", body: "<html>Bad gateway</html>"}}, want: []string{"HTTP 502"}},
		{name: "503 text", requests: 1, script: []imdsAnswer{{status: 503, contentType: "text/plain", body: "Service Unavailable"}}, want: []string{"HTTP 503"}},
		{name: "200 HTML", requests: 1, script: []imdsAnswer{{status: 200, contentType: "text/html", body: "<html>hello</html>"}}, want: []string{"HTTP 200"}},
		{name: "400 HTML", requests: 1, script: []imdsAnswer{{status: 400, contentType: "text/html", body: "<html>Bad Request</html>"}}, want: []string{"HTTP 400"}},
		{name: "400 JSON array", requests: 1, script: []imdsAnswer{{status: 400, contentType: "application/json", body: `["error"]`}}, want: []string{"HTTP 400"}},
		{name: "400 empty", requests: 1, script: []imdsAnswer{{status: 400}}, want: []string{"HTTP 400"}},
		{name: "200 JSON of more than the cap", requests: 1,
			script: []imdsAnswer{{status: 200, contentType: "application/json", body: `{"access_token":"` + strings.Repeat("x", maxAnswer) + `"}`}},
			want:   []string{fmt.Sprintf("more than %d bytes", maxAnswer)}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imds := &fakeIMDS{entra: entra, identities: map[string]string{"": "system-mi"}, script: tc.script}
			srv := httptest.NewServer(imds)
			t.Cleanup(srv.Close)
			tr := &imdsTransport{imds: srv, next: entra.Client()}
			src, _ := New([]string{"managed"}, Settings{}, testOptions(fakeEnv{}, tr, &logBuffer{}))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), fmt.Sprintf("https://answer-%d.example/.default", i))
			probes, tokens := imds.counts()
			if probes != 0 || tokens != tc.requests {
				t.Errorf("%d probes and %d token requests; want no probe and %d token requests", probes, tokens, tc.requests)
			}
			if tc.isIMDS {
				if err != nil {
					t.Fatalf("err = %v, want a token", err)
				}
				return
			}
			assertError(t, err, true, append(tc.want, "something other than Azure IMDS answered the token request at 169.254.169.254", "not an Azure VM")...)
		})
	}
}

// TestManagedSourceIMDSDialFailures: the connect timeout stands in for
// the probe. Where nothing answers at 169.254.169.254, the one dial fails
// (dropped packets: at the connect timeout; refused: at once) and the
// source is unavailable, so that the next source is tried, without retries.
// 169.254.169.254 is dialed through Options.dial, on loopback or not at
// all.
func TestManagedSourceIMDSDialFailures(t *testing.T) {
	clearManagedIdentityEnv(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		dial func(ctx context.Context, network string) (net.Conn, error)
		want string
	}{
		{name: "dropped packets (no answer to SYN)", want: "no connection within 1s", dial: func(ctx context.Context, network string) (net.Conn, error) {
			// A blackhole: the dial ends only with its context, as the
			// kernel's does when SYNs go unanswered.
			<-ctx.Done()
			return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
		}},
		{name: "connection refused", want: "connection refused", dial: func(ctx context.Context, network string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, refusedAddr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var dials []string
			var bound time.Duration // how far ahead of the dial its deadline was
			o := testOptions(fakeEnv{}, nil, &logBuffer{})
			o.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dials = append(dials, addr)
				if d, ok := ctx.Deadline(); ok {
					bound = time.Until(d)
				}
				mu.Unlock()
				if addr != "169.254.169.254:80" {
					return nil, fmt.Errorf("test dialer: %s is not a route of this test", addr)
				}
				return tc.dial(ctx, network)
			}
			src, _ := New([]string{"managed"}, Settings{}, o)
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), "https://dial-failure.example/.default")
			assertError(t, err, true, "169.254.169.254 did not answer", tc.want)
			mu.Lock()
			defer mu.Unlock()
			if len(dials) != 1 {
				t.Errorf("dialed %q; want one dial of 169.254.169.254:80", dials)
			}
			// The caller's context allows minutes (hangGuard): the dial's
			// deadline is the connect timeout's, not the caller's.
			if bound <= 0 || bound > imdsConnectTimeout {
				t.Errorf("the dial's deadline was %v ahead; want the connect timeout, at most %v", bound, imdsConnectTimeout)
			}
		})
	}
}

// TestManagedSourceIMDSHangs: something at 169.254.169.254 accepts the
// token request and does not answer it. The late probe (watchIMDS) tells:
// when the probe is not answered either, this is no IMDS and the source is
// unavailable, at once (the caller's context allows minutes); when Azure
// IMDS answers the probe, the token request goes on, and a hang ends at
// ctx's deadline, naming IMDS and what was tried; a slow token comes.
func TestManagedSourceIMDSHangs(t *testing.T) {
	clearManagedIdentityEnv(t)
	entra := newEntra(t)
	for _, tc := range []struct {
		name     string
		probe    string // "hang" or "answer"
		token    string // "hang" or "after the probe"
		deadline time.Duration
	}{
		{name: "nothing answered: no IMDS", probe: "hang", token: "hang"},
		{name: "IMDS hangs on the token", probe: "answer", token: "hang", deadline: 2 * time.Second},
		{name: "IMDS slow to mint the token", probe: "answer", token: "after the probe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			probed := make(chan struct{})
			var mu sync.Mutex
			var probes, tokens int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Metadata") != "true" {
					mu.Lock()
					probes++
					mu.Unlock()
					close(probed)
					if tc.probe == "answer" {
						imdsAnswer{status: 400, contentType: "application/json", body: imdsRefusal}.write(w)
						return
					}
				} else {
					mu.Lock()
					tokens++
					mu.Unlock()
					if tc.token == "after the probe" {
						<-probed
						(&fakeIMDS{entra: entra, identities: map[string]string{"": "system-mi"}}).ServeHTTP(w, r)
						return
					}
				}
				select {
				case <-stop:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(stop) })
			o := testOptions(fakeEnv{}, nil, &logBuffer{})
			o.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
			}
			src, _ := New([]string{"managed"}, Settings{}, o)
			ctx := hangGuard(t)
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err := src[0].EntraToken(ctx, token.PublicCloud(), "https://imds-hang-"+strings.ReplaceAll(tc.name, " ", "-")+".example/.default")
			switch tc.name {
			case "nothing answered: no IMDS":
				assertError(t, err, true, "169.254.169.254 did not answer")
			case "IMDS hangs on the token":
				assertDeadlineError(t, err, "instance metadata service (IMDS)", "GET http://169.254.169.254/metadata/identity/oauth2/token: no answer")
			default:
				if err != nil {
					t.Fatalf("err = %v, want a token", err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if probes != 1 || tokens != 1 {
				t.Errorf("%d probes and %d token requests, want 1 and 1", probes, tokens)
			}
		})
	}
}

// assertDeadlineError checks err is the deadline's: KindCanceled,
// matching context.DeadlineExceeded, with endpoint as its Endpoint and
// the text naming what was tried.
func assertDeadlineError(t *testing.T, err error, endpoint string, want ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	var se *token.SourceError
	if !errors.As(err, &se) || se.Kind != token.KindCanceled {
		t.Fatalf("err = %v, want a KindCanceled SourceError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, token.ErrSourceUnavailable) {
		t.Errorf("errors.Is(err, context.DeadlineExceeded) = %v, unavailable = %v; want true, false", errors.Is(err, context.DeadlineExceeded), errors.Is(err, token.ErrSourceUnavailable))
	}
	if se.Endpoint != endpoint {
		t.Errorf("Endpoint = %q, want %q", se.Endpoint, endpoint)
	}
	assertMentions(t, err, append(want, "before the deadline")...)
	assertNoFrontEnd(t, err)
}

// TestManagedSourceRetriesWithinDeadline: a Retry-After that, with one
// more try, would not fit before ctx's deadline is not waited for; the
// error is the answer's, and says why it was not retried.
func TestManagedSourceRetriesWithinDeadline(t *testing.T) {
	clearManagedIdentityEnv(t)
	entra := newEntra(t)
	imds := &fakeIMDS{entra: entra, identities: map[string]string{"": "system-mi"}, script: []imdsAnswer{{status: 503, contentType: "application/json", body: `{"error":"busy","error_description":"try later"}`, retryAfter: "3"}}}
	srv := httptest.NewServer(imds)
	t.Cleanup(srv.Close)
	tr := &imdsTransport{imds: srv, next: entra.Client()}
	src, _ := New([]string{"managed"}, Settings{}, testOptions(fakeEnv{}, tr, &logBuffer{}))
	// 3 s of Retry-After and a try need more than the 2 s left.
	ctx, cancel := context.WithTimeout(hangGuard(t), 2*time.Second)
	defer cancel()
	_, err := src[0].EntraToken(ctx, token.PublicCloud(), "https://imds-budget.example/.default")
	assertError(t, err, false, "HTTP 503", "not retried", "before the deadline")
	if _, tokens := imds.counts(); tokens != 1 {
		t.Errorf("%d token requests, want 1", tokens)
	}
}

// TestProbeIMDS: doctor's probe still tells Azure IMDS's refusal of a
// request without the Metadata header from anything else.
func TestProbeIMDS(t *testing.T) {
	tests := []struct {
		name   string
		answer imdsAnswer
		isIMDS bool
	}{
		{name: "Azure IMDS", answer: imdsAnswer{status: 400, contentType: "application/json; charset=utf-8", body: imdsRefusal}, isIMDS: true},
		{name: "azuresim (json.Encoder adds a newline)", answer: imdsAnswer{status: 400, contentType: "application/json; charset=utf-8", body: imdsRefusal + "\n"}, isIMDS: true},
		{name: "404 HTML", answer: imdsAnswer{status: 404, contentType: "text/html", body: "<html><body>404 Not Found</body></html>"}},
		{name: "401 empty", answer: imdsAnswer{status: 401}},
		{name: "200 JSON", answer: imdsAnswer{status: 200, contentType: "application/json", body: `{"error":"x"}`}},
		{name: "400 JSON without error", answer: imdsAnswer{status: 400, contentType: "application/json", body: `{"message":"bad request"}`}},
		{name: "400 huge", answer: imdsAnswer{status: 400, contentType: "application/json", body: `{"error":"` + strings.Repeat("x", 1<<20) + `"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requests := 0
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				tc.answer.write(w)
			}))
			t.Cleanup(srv.Close)
			err := ProbeIMDS(hangGuard(t), Options{Transport: &imdsTransport{imds: srv, next: http.DefaultClient}})
			mu.Lock()
			defer mu.Unlock()
			if requests != 1 {
				t.Errorf("%d requests, want 1", requests)
			}
			if tc.isIMDS {
				if err != nil {
					t.Errorf("ProbeIMDS: %v", err)
				}
				return
			}
			assertError(t, err, true, "something other than Azure IMDS answered at 169.254.169.254", fmt.Sprintf("HTTP %d", tc.answer.status))
		})
	}
}

// countingBody is an endless body that counts what was read of it.
type countingBody struct {
	mu   sync.Mutex
	read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range p {
		p[i] = 'x'
	}
	b.read += int64(len(p))
	return len(p), nil
}

func (b *countingBody) Close() error { return nil }

type bodyTransport struct {
	body          io.ReadCloser
	contentLength int64
}

func (b *bodyTransport) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: b.body, ContentLength: b.contentLength, Request: req}, nil
}

// TestAnswersAreCapped: a 20 MB (here endless) answer is read no further
// than the cap, and one that declares itself too large not at all; the
// error names the endpoint.
func TestAnswersAreCapped(t *testing.T) {
	for _, declared := range []int64{-1, 20 << 20} {
		t.Run(fmt.Sprintf("Content-Length %d", declared), func(t *testing.T) {
			body := &countingBody{}
			tr := capped(&bodyTransport{body: body, contentLength: declared})
			req, _ := http.NewRequest(http.MethodGet, "http://169.254.169.254/metadata/identity/oauth2/token?resource=x", nil)
			resp, err := tr.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			t.Logf("error: %v", err)
			if _, ok := asTooLarge(err); !ok || !strings.Contains(err.Error(), "http://169.254.169.254/metadata/identity/oauth2/token is larger than") || strings.Contains(err.Error(), "resource=") {
				t.Errorf("err = %v, want a too-large error naming the endpoint without its query", err)
			}
			limit := int64(maxAnswer + 1)
			if declared > 0 {
				limit = 0
			}
			if resp == nil || resp.StatusCode != 200 {
				t.Errorf("the answer's status is lost: %v", resp)
			}
			if body.read > limit {
				t.Errorf("%d bytes read, want at most %d", body.read, limit)
			}
		})
	}
}
