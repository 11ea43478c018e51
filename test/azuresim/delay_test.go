package azuresim

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestDelay: with D set, every answer and every TLS handshake is recorded
// as lasting at least D, from its arrival to its answer, and each request
// records when it arrived. Only lower bounds are checked: a timer never
// fires early, whereas how late it fires depends on the machine.
func TestDelay(t *testing.T) {
	const d = 30 * time.Millisecond
	w := newWorld(t)
	if got := w.sim.Delay(); got != 0 {
		t.Fatalf("a new simulator delays by %v; want 0 unless Options.Delay says so", got)
	}
	w.sim.SetDelay(d)
	if code, _ := w.imdsToken(t, "", true); code != http.StatusOK {
		t.Fatalf("IMDS token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+reg1+"/v2/", nil)
	if code, _, _ := w.do(t, req); code != http.StatusUnauthorized {
		t.Fatalf("challenge: %d", code)
	}
	// Same host again: the connection is reused, so no second handshake.
	req, _ = http.NewRequest(http.MethodGet, "https://"+reg1+"/v2/", nil)
	w.do(t, req)

	seen := map[string]int{}
	for _, r := range w.sim.Stats().Requests {
		seen[r.Endpoint]++
		if took := r.Time.Sub(r.Start); took < d {
			t.Errorf("%s %s: recorded from %v to %v, %v; want at least D = %v", r.Host, r.Endpoint, r.Start, r.Time, took, d)
		}
	}
	want := map[string]int{EndpointIMDS: 1, EndpointTLSHello: 1, EndpointChallenge: 2}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("%d %s record(s), want %d: %v", seen[k], k, n, seen)
		}
	}

	// D = 0 again: records still carry their arrival, equal to or before
	// the answer.
	w.sim.Reset()
	w.sim.SetDelay(0)
	w.imdsToken(t, "", true)
	for _, r := range w.sim.Stats().Requests {
		if r.Start.IsZero() || r.Time.Before(r.Start) {
			t.Errorf("%s: start %v, answered %v", r.Endpoint, r.Start, r.Time)
		}
	}
}

// TestPauseEndsWithTheClient: a request whose client has gone does not
// hold its handler for D.
func TestPauseEndsWithTheClient(t *testing.T) {
	sim, err := New(Options{Registries: []string{reg1}, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if sim.Delay() != time.Hour {
		t.Fatalf("Options.Delay not applied: %v", sim.Delay())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sim.pause(ctx) // returns: the test would otherwise time out
	sim.SetDelay(-time.Second)
	if sim.Delay() != 0 {
		t.Errorf("a negative D is %v, want 0", sim.Delay())
	}
}
