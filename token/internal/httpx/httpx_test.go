package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResponseHeadersCapped: an answer whose headers pass
// MaxResponseHeaderBytes fails at the transport, before anything reads it;
// one within the cap is read.
func TestResponseHeadersCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := MaxResponseHeaderBytes / 2
		if r.URL.Path == "/huge" {
			n = 1 << 20
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="`+strings.Repeat("a", n)+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	tr := CloneDefaultTransport()
	if tr.MaxResponseHeaderBytes != MaxResponseHeaderBytes {
		t.Fatalf("MaxResponseHeaderBytes = %d", tr.MaxResponseHeaderBytes)
	}
	tr.Proxy = nil
	c := &http.Client{Transport: tr, CheckRedirect: NoRedirect}
	defer c.CloseIdleConnections()

	resp, err := c.Get(srv.URL + "/huge")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a 1 MiB header was read: %d", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "server response headers exceeded 65536 bytes") {
		t.Fatalf("err = %v", err)
	}
	resp, err = c.Get(srv.URL + "/small")
	if err != nil {
		t.Fatalf("a 32 KiB header was refused: %v", err)
	}
	resp.Body.Close()
}

// TestCloneKeepsASmallerCap: a program's own smaller cap on
// http.DefaultTransport is kept.
func TestCloneKeepsASmallerCap(t *testing.T) {
	dt := http.DefaultTransport.(*http.Transport)
	saved := dt.MaxResponseHeaderBytes
	t.Cleanup(func() { dt.MaxResponseHeaderBytes = saved })
	dt.MaxResponseHeaderBytes = 4096
	if got := CloneDefaultTransport().MaxResponseHeaderBytes; got != 4096 {
		t.Fatalf("MaxResponseHeaderBytes = %d, want the program's 4096", got)
	}
}
