package acr

import (
	"net/http"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// requestIDHeaders are where ACR names a request for its support: the
// correlation id first (what an Azure support ticket asks for), then the
// request id.
var requestIDHeaders = []string{"X-Ms-Correlation-Request-Id", "X-Ms-Request-Id"}

// maxRequestID bounds a request id taken from a header: ids are GUIDs.
const maxRequestID = 64

// requestID returns the registry's id for the request that got h, printable
// and clipped, or "".
func requestID(h http.Header, secret string) string {
	for _, name := range requestIDHeaders {
		if v := h.Get(name); v != "" {
			return safetext.RedactClip(safetext.Printable(v), maxRequestID, secret)
		}
	}
	return ""
}
