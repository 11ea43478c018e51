//go:build linux

package bench

import (
	"strings"
	"testing"
	"time"
)

// sink keeps the test's own memory resident while the child runs.
var sink []byte

func TestPeakRSSIsTheChildsOwn(t *testing.T) {
	sh := shell(t)
	// A parent with a large peak: ru_maxrss of a vforked child would
	// report it; the child's own VmHWM must not.
	sink = make([]byte, 96<<20)
	for i := 0; i < len(sink); i += 4096 {
		sink[i] = 1
	}
	defer func() { sink = nil }()

	tests := []struct {
		name     string
		script   string
		stdin    string
		wantCode int
		wantOut  string
	}{
		{"exits 0", "cat", "myreg.azurecr.io\n", 0, "myreg.azurecr.io\n"},
		{"exit code kept", "echo failed; exit 3", "", 3, "failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peak, s, err := PeakRSS(sh(tt.script, tt.stdin))
			if err != nil {
				if strings.Contains(err.Error(), "operation not permitted") {
					t.Skipf("ptrace is not allowed here: %v", err)
				}
				t.Fatal(err)
			}
			if s.Code != tt.wantCode || s.Stdout != tt.wantOut {
				t.Errorf("PeakRSS sample = code %d stdout %q, want %d %q", s.Code, s.Stdout, tt.wantCode, tt.wantOut)
			}
			if peak <= 0 || peak > 48<<20 {
				t.Errorf("peak RSS of sh = %d bytes; want more than 0 and well under the parent's 96 MiB", peak)
			}
		})
	}
}

// TestPeakRSSHangGuard: a child that never exits is killed at
// Spec.Timeout, and the caller is told so.
func TestPeakRSSHangGuard(t *testing.T) {
	spec := shell(t)("exec sleep 60", "")
	spec.Timeout = 200 * time.Millisecond
	_, s, err := PeakRSS(spec)
	if err == nil || s.Code != -1 || !strings.Contains(err.Error(), "killed") {
		t.Errorf("PeakRSS of a hung child = code %d, %v; want it killed at the timeout", s.Code, err)
	}
}
