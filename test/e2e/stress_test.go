//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
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
	ctx := ctxFor(t)

	type proc struct {
		cmd         *exec.Cmd
		out, errOut bytes.Buffer
	}
	procs := make([]*proc, stressProcs)
	for i := range procs {
		p := &proc{cmd: u.Command(ctx, "docker-credential-acr", "get")}
		p.cmd.Stdin = strings.NewReader(harness.Registry1 + "\n")
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errOut
		procs[i] = p
	}
	// Start them all before waiting for any, so they overlap.
	for i, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start process %d: %v", i, err)
		}
	}
	answers := map[string]int{}
	for i, p := range procs {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Errorf("process %d: %v\nstdout: %s\nstderr: %s", i, err, p.out.String(), p.errOut.String())
			continue
		}
		answers[p.out.String()]++
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
	t.Logf("%d processes: %d exchange(s), %d IMDS request(s), %d distinct answer(s)", stressProcs,
		d.Count(harness.Registry1, azuresim.EndpointExchange), d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS), len(answers))
}
