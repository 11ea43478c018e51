package azuresim

// Hang makes the simulator hold every request to the given endpoints
// (EndpointExchange, EndpointChallenge, EndpointIMDS, EndpointEntraToken,
// …) on every host without answering: it reads the request, then says
// nothing until the client gives up, as a registry, IMDS or Entra that
// accepts the connection and hangs. A request the client gave up on is
// recorded with Status 0 (no answer). The returned release ends the hang:
// requests still held get 503, later ones are served again. It is Plant
// with Misbehaviour{Endpoint: e, Hang: true} for each endpoint.
func (s *Sim) Hang(endpoints ...string) (release func()) {
	removes := make([]func(), len(endpoints))
	for i, e := range endpoints {
		removes[i] = s.Plant(Misbehaviour{Endpoint: e, Hang: true})
	}
	return func() {
		for _, remove := range removes {
			remove()
		}
	}
}

// Held is the number of requests a hang (Hang, or a planted Misbehaviour
// with Hang) holds now.
func (s *Sim) Held() int {
	s.planted.mu.Lock()
	defer s.planted.mu.Unlock()
	return s.planted.held
}
