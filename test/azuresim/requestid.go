package azuresim

// Header names the simulator stamps on answers, as the real services do:
// ACR sends a correlation id, Entra a request id, for support tickets.
const (
	HeaderACRCorrelationID = "X-Ms-Correlation-Request-Id"
	HeaderEntraRequestID   = "X-Ms-Request-Id"
)
