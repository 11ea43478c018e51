package azuresim

import (
	"context"
	"time"
)

// The latency switch: every TLS handshake and every answer the simulator
// gives (IMDS, Entra, the CI token services, the ACR front) waits the same
// amount D, so that a client's cold path can be measured in units of D
// ("hops") rather than in the few microseconds loopback takes. D stands for
// one round trip to a real Azure endpoint; what a client does in parallel
// then shows as overlapping hops. The control endpoint is not delayed: it
// is the tests' own.

// SetDelay sets D from now on (0: no delay, the default unless
// Options.Delay says otherwise). Requests and handshakes already waiting
// keep the D they started with.
func (s *Sim) SetDelay(d time.Duration) { s.delay.Store(int64(max(d, 0))) }

// Delay is the current D.
func (s *Sim) Delay() time.Duration { return time.Duration(s.delay.Load()) }

// pause waits D, or until ctx ends (the client went away).
func (s *Sim) pause(ctx context.Context) {
	d := s.Delay()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
