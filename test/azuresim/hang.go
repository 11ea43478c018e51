package azuresim

import (
	"net/http"
	"slices"
	"sync"
)

// hangs is the simulator's set of endpoints that accept a request and
// never answer it, and the channel that frees the requests held.
type hangs struct {
	mu        sync.Mutex
	endpoints []string
	release   chan struct{}
	held      int // requests held now
}

// Hang makes the simulator hold every request to the given endpoints
// (EndpointExchange, EndpointChallenge, EndpointIMDS, EndpointEntraToken,
// …) without answering: it reads the request, then says nothing until the
// client gives up, as a registry, IMDS or Entra that accepts the
// connection and hangs. A held request is recorded with Status 0 (no
// answer) once the client has gone. The returned release ends the hang:
// requests still held get 503, later ones are served again. Hangs apply
// to every host: a test that plants one has the simulator to itself.
func (s *Sim) Hang(endpoints ...string) (release func()) {
	h := &s.hangs
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{})
	h.endpoints, h.release = slices.Clone(endpoints), ch
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			if h.release == ch {
				h.endpoints, h.release = nil, nil
			}
			h.mu.Unlock()
			close(ch)
		})
	}
}

// Held is the number of requests a hang holds now.
func (s *Sim) Held() int {
	s.hangs.mu.Lock()
	defer s.hangs.mu.Unlock()
	return s.hangs.held
}

// holdIfHung holds r when its endpoint hangs, and reports whether it did
// (then nothing else may answer it) and the status it answered at last:
// 0 when the client gave up first.
func (s *Sim) holdIfHung(w http.ResponseWriter, r *http.Request, endpoint string) (held bool, status int) {
	h := &s.hangs
	h.mu.Lock()
	hung, release := slices.Contains(h.endpoints, endpoint), h.release
	if hung {
		h.held++
	}
	h.mu.Unlock()
	if !hung {
		return false, 0
	}
	defer func() {
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
	}()
	select {
	case <-r.Context().Done():
		// The client went away: there is no one left to answer.
		return true, 0
	case <-release:
		http.Error(w, "azuresim: the hang was released", http.StatusServiceUnavailable)
		return true, http.StatusServiceUnavailable
	}
}
