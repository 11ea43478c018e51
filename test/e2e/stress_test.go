//go:build e2e

package e2e

import (
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// stressProcs is how many helper processes start at once.
const stressProcs = 64

// TestConcurrentProcesses starts 64 helper processes at once on one empty
// cache directory with a managed identity: exactly one of them fetches
// (one IMDS token, one exchange) and all print the same credentials.
func TestConcurrentProcesses(t *testing.T) {
	u := newUser(t, harness.UserOptions{Sources: "managed"})
	before := world.Sim.Stats()
	answers, failed := u.ConcurrentGets(ctxFor(t), stressProcs, harness.Registry1)
	for _, r := range failed {
		t.Errorf("a helper process failed: %s", r.Failure())
	}
	d := world.Sim.Stats().Since(before)
	if n := d.Count(harness.Registry1, azuresim.EndpointExchange); n != 1 {
		t.Errorf("%d processes made %d exchanges, want exactly 1: %v", stressProcs, n, identities(d.Exchanges))
	}
	if n := d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS); n != 1 {
		t.Errorf("%d processes asked IMDS %d times, want exactly 1", stressProcs, n)
	}
	if len(answers) != 1 {
		t.Errorf("%d processes gave %d different answers, want 1 identical answer", stressProcs, len(answers))
	}
	for a := range answers {
		c, err := harness.ParseGet(a)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := world.Sim.VerifyRefreshToken(harness.Registry1, c.Secret); err != nil {
			t.Errorf("answer is not a valid refresh token: %v", err)
		}
	}
	t.Logf("%d processes: %d exchange(s), %d IMDS request(s), %d distinct answer(s), %d failure(s)", stressProcs,
		d.Count(harness.Registry1, azuresim.EndpointExchange), d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS), len(answers), len(failed))
}
