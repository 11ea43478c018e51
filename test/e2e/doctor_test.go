//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// doctorReport is the documented --json schema, decoded strictly.
type doctorReport struct {
	Registry *string `json:"registry"`
	OK       bool    `json:"ok"`
	Sources  []struct {
		Name      string `json:"name"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
	} `json:"sources"`
	Chosen *string `json:"chosen"`
	Steps  []struct {
		Name   string  `json:"name"`
		OK     bool    `json:"ok"`
		MS     float64 `json:"ms"`
		Detail string  `json:"detail"`
	} `json:"steps"`
	Checks []struct {
		Name   string  `json:"name"`
		OK     bool    `json:"ok"`
		MS     float64 `json:"ms"`
		Detail string  `json:"detail"`
	} `json:"checks"`
	Problem *struct {
		Code    string `json:"code"`
		Summary string `json:"summary"`
		Fix     string `json:"fix"`
	} `json:"problem"`
}

// TestDoctor runs the real binary's `doctor --json` in the namespace, with
// the machine's managed identity and with no usable identity.
func TestDoctor(t *testing.T) {
	helper, err := harness.FindHelper()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		opts    harness.UserOptions
		args    []string
		code    int
		problem string
	}{
		{"with an identity", harness.UserOptions{Sources: "managed"}, []string{harness.Registry1, "--repository", "hello"}, 0, ""},
		{"with an identity, machine only", harness.UserOptions{Sources: "managed"}, nil, 0, ""},
		{"without an identity", harness.UserOptions{Sources: "workload"}, []string{harness.Registry1}, 1, "no-identity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(t, tt.opts)
			r := u.Run(ctxFor(t), "", helper, append([]string{"doctor", "--json"}, tt.args...)...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.Code, tt.code, r.Failure())
			}
			if world.Sim.ContainsEntraToken(r.Stdout+r.Stderr) || harness.Redact(r.Stdout) != r.Stdout {
				t.Errorf("doctor printed something token-shaped: %s", r.Failure())
			}
			dec := json.NewDecoder(strings.NewReader(r.Stdout))
			dec.DisallowUnknownFields()
			var rep doctorReport
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("not the documented JSON: %v\n%s", err, r.Stdout)
			}
			got := ""
			if rep.Problem != nil {
				got = rep.Problem.Code
			}
			if got != tt.problem || rep.OK != (tt.code == 0) || len(rep.Sources) == 0 {
				t.Errorf("problem %q ok %v, want %q: %s", got, rep.OK, tt.problem, r.Stdout)
			}
			if (rep.Registry == nil) != (len(tt.args) == 0) {
				t.Errorf("registry %v for args %v", rep.Registry, tt.args)
			}
		})
	}
}
