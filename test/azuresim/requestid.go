package azuresim

import (
	"crypto/rand"
	"fmt"
)

// Header names the simulator stamps on answers, as the real services do:
// ACR sends a correlation id, Entra a request id, for support tickets.
const (
	HeaderACRCorrelationID = "X-Ms-Correlation-Request-Id"
	HeaderEntraRequestID   = "X-Ms-Request-Id"
)

// newRequestID is a random GUID-shaped id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
