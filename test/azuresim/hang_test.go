package azuresim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// TestHang: a hung endpoint holds its requests until the client gives up
// (recorded with no status) or the hang is released (503); other
// endpoints and, after the release, the same one are served as usual.
func TestHang(t *testing.T) {
	sim, err := New(Options{Registries: []string{reg1}})
	if err != nil {
		t.Fatal(err)
	}
	h := sim.Handler()
	release := sim.Hang(EndpointExchange)
	defer release()

	// The challenge still answers.
	if w := serveOnce(h, http.MethodGet, "https://"+reg1+"/v2/", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("challenge during the hang: %d", w.Code)
	}

	// The client gives up: the handler returns without answering.
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "https://"+reg1+"/oauth2/exchange", strings.NewReader(url.Values{"grant_type": {"access_token"}}.Encode()))
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(w, req); close(done) }()
	cancel()
	<-done
	if w.Body.Len() != 0 || w.Flushed {
		t.Errorf("a hung exchange answered: %d %q", w.Code, w.Body)
	}

	// Release frees a held request with 503.
	req = httptest.NewRequest(http.MethodPost, "https://"+reg1+"/oauth2/exchange", strings.NewReader(""))
	w = httptest.NewRecorder()
	done = make(chan struct{})
	go func() { h.ServeHTTP(w, req); close(done) }()
	for sim.Held() == 0 {
		runtime.Gosched() // until the request is held, however long that takes
	}
	release()
	<-done
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("released exchange: %d", w.Code)
	}

	st := sim.Stats()
	var statuses []int
	for _, r := range st.Requests {
		if r.Endpoint == EndpointExchange {
			statuses = append(statuses, r.Status)
		}
	}
	if len(statuses) != 2 || statuses[0] != 0 {
		t.Errorf("recorded exchange statuses %v, want [0 503]", statuses)
	}

	// After the release the exchange is served again (400: no token).
	if w := serveOnce(h, http.MethodPost, "https://"+reg1+"/oauth2/exchange", url.Values{"grant_type": {"access_token"}}); w.Code == http.StatusServiceUnavailable || w.Code == 0 {
		t.Errorf("exchange after the release: %d", w.Code)
	}
}
