//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// TestExchangeHangEndsAtTheDeadline: the registry accepts the exchange and
// never answers. The real binary's get must end on its own, by its
// deadline, with exit status 1 and a message on stdout that names the
// exchange, its URL and the setting to raise. DOCKER_CREDENTIAL_ACR_TIMEOUT=2s
// keeps the test short; the 30 s bound is a hang detector, not a speed
// goal (how fast it ended is make bench's to report, never a test's).
func TestExchangeHangEndsAtTheDeadline(t *testing.T) {
	u := newUser(t, harness.UserOptions{Env: map[string]string{"DOCKER_CREDENTIAL_ACR_TIMEOUT": "2s"}})
	before := world.Sim.Stats()
	release := world.Sim.Hang(azuresim.EndpointExchange)
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := u.Helper(ctx, "get", harness.Registry1)
	if ctx.Err() != nil {
		t.Fatalf("the get was still running after 30 s, killed: %s", r.Failure())
	}
	release()
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.Code, r.Failure())
	}
	if world.Sim.ContainsEntraToken(r.Stdout + r.Stderr) {
		t.Errorf("the output holds an Entra token")
	}
	for _, w := range []string{
		"docker-credential-acr: exchange at " + harness.Registry1 + ": POST https://" + harness.Registry1 + "/oauth2/exchange got no answer",
		"(1 try)",
		"raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 2s)",
	} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("stdout lacks %q: %s", w, r.Failure())
		}
	}
	// The exchange was reached and held: the deadline, not a refusal,
	// ended the get.
	held := 0
	for _, req := range world.Sim.Stats().Since(before).Requests {
		if req.Endpoint == azuresim.EndpointExchange && req.Host == harness.Registry1 && req.Status == 0 {
			held++
		}
	}
	if held != 1 {
		t.Errorf("%d exchanges held without an answer, want 1", held)
	}
	t.Logf("%s (%v): %s", r.Cmd, r.Duration.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
}
