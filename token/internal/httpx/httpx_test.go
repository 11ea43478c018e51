package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHeaderCap: an answer whose headers pass MaxResponseHeaderBytes is an
// error, not read whole; one just under it is read.
func TestHeaderCap(t *testing.T) {
	tests := []struct {
		name    string
		padding int
		wantErr bool
	}{
		{"ordinary headers", 4 << 10, false},
		{"headers over the cap", MaxResponseHeaderBytes + 1, true},
		{"headers of 16 MiB", 16 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Padding", strings.Repeat("a", tt.padding))
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			c := &http.Client{Transport: CloneDefaultTransport(), CheckRedirect: NoRedirect}
			resp, err := c.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("headers of %d bytes: error %v, want error: %v", tt.padding, err, tt.wantErr)
			}
		})
	}
}
