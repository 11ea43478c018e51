package bench

import (
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, Min: 7 * time.Millisecond, Median: 7 * time.Millisecond, P90: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"odd, unsorted", ms(5, 1, 3), Summary{N: 3, Min: time.Millisecond, Median: 3 * time.Millisecond, P90: 5 * time.Millisecond, Max: 5 * time.Millisecond}},
		{"even: mean of the middle two", ms(4, 1, 2, 3), Summary{N: 4, Min: time.Millisecond, Median: 2500 * time.Microsecond, P90: 4 * time.Millisecond, Max: 4 * time.Millisecond}},
		{"ten: p90 is the ninth", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Summary{N: 10, Min: time.Millisecond, Median: 5500 * time.Microsecond, P90: 9 * time.Millisecond, Max: 10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Summarize reordered its input: %v, was %v", tt.in, in)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		p    float64
		in   []time.Duration
		want time.Duration
	}{
		{90, nil, 0},
		{90, hundred, 90},
		{50, hundred, 50},
		{100, hundred, 100},
		{1, hundred, 1},
		{0.1, hundred, 1},
		{90, ms(1, 2, 3), 3 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("Percentile(len %d, %v) = %v, want %v", len(tt.in), tt.p, got, tt.want)
		}
	}
}

func TestRatioAndMedian(t *testing.T) {
	if got := Ratio(3*time.Millisecond, 2*time.Millisecond); got != 1.5 {
		t.Errorf("Ratio = %v, want 1.5", got)
	}
	if got := Ratio(time.Second, 0); got != 0 {
		t.Errorf("Ratio over zero = %v, want 0", got)
	}
	tests := []struct {
		in   []int64
		want int64
	}{
		{nil, 0},
		{[]int64{3}, 3},
		{[]int64{9, 1, 5}, 5},
		{[]int64{4, 2, 8, 6}, 5},
	}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
	// The per-round ratios are float64: the even count is not truncated.
	if got := Median([]float64{1.5, 1, 2, 1.25}); got != 1.375 {
		t.Errorf("Median of float64s = %v, want 1.375", got)
	}
}

func TestRotationsBalanceFirstPlace(t *testing.T) {
	// 4 programs over 300 rounds: 300 is a multiple of 4 but not of 24.
	tests := []struct{ n, rounds int }{{1, 4}, {2, 10}, {3, 600}, {3, 9}, {4, 300}, {4, 24}, {5, 15}}
	for _, tt := range tests {
		rot := Rotations(tt.n, tt.rounds)
		if len(rot) != tt.rounds {
			t.Fatalf("Rotations(%d, %d) gave %d rounds", tt.n, tt.rounds, len(rot))
		}
		pos := map[[2]int]int{} // (program, position) -> count
		for _, order := range rot {
			sorted := slices.Clone(order)
			slices.Sort(sorted)
			for i, v := range sorted {
				if v != i {
					t.Fatalf("round %v is not a permutation of 0..%d", order, tt.n-1)
				}
			}
			for p, prog := range order {
				pos[[2]int{prog, p}]++
			}
		}
		want := tt.rounds / tt.n
		if seen := distinct(rot); tt.rounds%factorial(tt.n) == 0 && seen != factorial(tt.n) {
			t.Errorf("Rotations(%d, %d) used %d distinct orders, want all %d", tt.n, tt.rounds, seen, factorial(tt.n))
		}
		for prog := range tt.n {
			for p := range tt.n {
				if got := pos[[2]int{prog, p}]; got != want {
					t.Errorf("Rotations(%d, %d): program %d is at position %d %d times, want %d", tt.n, tt.rounds, prog, p, got, want)
				}
			}
		}
	}
}

func factorial(n int) int {
	f := 1
	for i := 2; i <= n; i++ {
		f *= i
	}
	return f
}

func distinct(rot [][]int) int {
	seen := map[string]bool{}
	for _, r := range rot {
		seen[fmt.Sprint(r)] = true
	}
	return len(seen)
}

// shell skips the test where there is no sh, and returns a maker of
// Specs that run a script with it, under a minimal PATH.
func shell(t *testing.T) func(script, stdin string) Spec {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	return func(script, stdin string) Spec {
		return Spec{Path: sh, Args: []string{"-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Stdin: stdin}
	}
}

func TestRunRecordsExitStdinAndUsage(t *testing.T) {
	sh := shell(t)
	tests := []struct {
		name     string
		script   string
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"echoes stdin", "cat", "myreg.azurecr.io\n", 0, "myreg.azurecr.io\n", ""},
		{"exit code and stderr", "echo oops >&2; exit 3", "", 3, "", "oops\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := sh(tt.script, tt.stdin)
			spec.Name = tt.name
			before := time.Now()
			s := Run(spec)
			if s.Start.Before(before) || s.Start.After(time.Now()) {
				t.Errorf("Start = %v, not between the call (%v) and its return", s.Start, before)
			}
			if s.Code != tt.wantCode || s.Stdout != tt.wantOut || s.Stderr != tt.wantErr {
				t.Errorf("Run = code %d stdout %q stderr %q, want %d %q %q", s.Code, s.Stdout, s.Stderr, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if s.OK() != (tt.wantCode == 0) {
				t.Errorf("OK() = %v with exit code %d", s.OK(), s.Code)
			}
			if s.Wall <= 0 {
				t.Errorf("Wall = %v, want > 0", s.Wall)
			}
		})
	}
}

func TestRunMissingProgram(t *testing.T) {
	s := Run(Spec{Path: "/nonexistent/acrbench-no-such-program"})
	if s.OK() || s.Code != -1 {
		t.Errorf("Run of a missing program = code %d, err %v; want -1 and an error", s.Code, s.Err)
	}
}

func TestRunConcurrent(t *testing.T) {
	sh := shell(t)
	samples, wall := RunConcurrent(sh("cat", "x"), 8)
	if len(samples) != 8 {
		t.Fatalf("RunConcurrent gave %d samples, want 8", len(samples))
	}
	for i, s := range samples {
		if !s.OK() || s.Stdout != "x" {
			t.Errorf("sample %d: code %d stdout %q err %v", i, s.Code, s.Stdout, s.Err)
		}
		if s.Wall > wall {
			t.Errorf("sample %d took %v, longer than the whole run %v", i, s.Wall, wall)
		}
	}
}
