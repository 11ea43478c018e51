// Package bench measures docker-credential-acr as docker runs it: as a
// whole process, started once per credential lookup. It holds the pieces
// the acrbench driver (test/bench/cmd/acrbench, `make bench`) is built
// from: a runner that records a child's wall time, CPU time and peak RSS,
// and order statistics that stay honest on a shared, noisy machine.
//
// Nothing here asserts a time. The driver prints ratios of binaries
// measured side by side, in alternating order, within one run.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Spec is one process to run.
type Spec struct {
	// Name labels the program in reports.
	Name string
	// Path and Args are the program and its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the whole environment: nothing is inherited, so every binary
	// compared starts with the same one.
	Env []string
	// Stdin is what the program reads.
	Stdin string
	// SysProcAttr, when set, is passed to the child (e.g. a new network
	// namespace).
	SysProcAttr *syscall.SysProcAttr
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Timeout is a hang guard, not a measurement bound: the child is
	// killed after it. Zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is the hang guard for one child: far beyond anything a
// credential helper may take (its own bound for a get is 60 s).
const DefaultTimeout = 2 * time.Minute

// Sample is what one run of a Spec did.
type Sample struct {
	// Start is when the child was started (just before the exec), so that
	// what a server saw can be placed on the child's own timeline.
	Start time.Time
	// Wall runs from just before the start to just after the wait: what a
	// client calling the helper waits for.
	Wall time.Duration
	// CPU is the child's user plus system time, from its rusage.
	CPU time.Duration
	// MaxRSS is the program's own peak resident set size in bytes, set by
	// PeakRSS only (see there why not from ru_maxrss).
	MaxRSS int64
	// Code is the exit code; -1 when the program did not exit normally.
	Code   int
	Stdout string
	Stderr string
	// Err is set when the program could not start or did not exit 0.
	Err error
}

// OK reports whether the program started and exited 0.
func (s Sample) OK() bool { return s.Err == nil }

// Run starts spec, waits for it and measures it. The standard input is a
// file, not a pipe fed by a goroutine, so the parent does the same little
// work for every program compared.
func Run(spec Spec) Sample {
	p, err := start(spec)
	if err != nil {
		return Sample{Code: -1, Err: err}
	}
	return p.wait()
}

// RunConcurrent starts n copies of spec, all before waiting for any, and
// returns their samples and the wall time from the first start to the
// last exit.
func RunConcurrent(spec Spec, n int) ([]Sample, time.Duration) {
	procs := make([]*proc, 0, n)
	out := make([]Sample, 0, n)
	begin := time.Now()
	for range n {
		p, err := start(spec)
		if err != nil {
			out = append(out, Sample{Code: -1, Err: err})
			continue
		}
		procs = append(procs, p)
	}
	samples := make([]Sample, len(procs))
	done := make(chan struct{})
	for i, p := range procs {
		go func() {
			samples[i] = p.wait()
			done <- struct{}{}
		}()
	}
	for range procs {
		<-done
	}
	return append(out, samples...), time.Since(begin)
}

type proc struct {
	cmd      *exec.Cmd
	in       *os.File
	out, err bytes.Buffer
	begin    time.Time
	cancel   context.CancelFunc
}

func start(spec Spec) (*proc, error) {
	in, err := stdinFile(spec.Stdin)
	if err != nil {
		return nil, err
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &proc{in: in, cancel: cancel}
	cmd := exec.CommandContext(ctx, spec.Path, spec.Args...)
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = spec.Dir
	cmd.Stdin = in
	cmd.Stdout, cmd.Stderr = &p.out, &p.err
	cmd.SysProcAttr = spec.SysProcAttr
	p.cmd = cmd
	p.begin = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		in.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", spec.Path, err)
	}
	return p, nil
}

func (p *proc) wait() Sample {
	err := p.cmd.Wait()
	s := Sample{Start: p.begin, Wall: time.Since(p.begin), Stdout: p.out.String(), Stderr: p.err.String(), Err: err}
	p.cancel()
	p.in.Close()
	cmd := p.cmd
	if ps := cmd.ProcessState; ps != nil {
		s.Code = ps.ExitCode()
		s.CPU = ps.UserTime() + ps.SystemTime()
	} else {
		s.Code = -1
	}
	return s
}

// stdinFile returns a file holding text, positioned at its start. The
// file is unlinked at once: it lives as long as the descriptor.
func stdinFile(text string) (*os.File, error) {
	f, err := os.CreateTemp("", "acrbench-stdin-")
	if err != nil {
		return nil, fmt.Errorf("bench: a file for the child's standard input: %w", err)
	}
	_ = os.Remove(f.Name())
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: writing the child's standard input: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Failure describes a failed sample for a report, with output shortened.
// Callers that may see tokens in the output must redact it first.
func (s Sample) Failure(name string) string {
	return fmt.Sprintf("%s: exit %d (%v); stdout: %s; stderr: %s", name, s.Code, s.Err, short(s.Stdout), short(s.Stderr))
}

func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// Summary is the order statistics of a set of durations.
type Summary struct {
	N                     int
	Min, Median, P90, Max time.Duration
}

// Summarize computes a Summary. The median of an even count is the mean
// of the two middle values; p90 is the nearest-rank percentile.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Summary{
		N:      len(s),
		Min:    s[0],
		Median: median(s),
		P90:    Percentile(s, 90),
		Max:    s[len(s)-1],
	}
}

// median is the median of already sorted values, so that Summarize sorts
// once for all its statistics.
func median[T ~int64 | ~float64](sorted []T) T {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted
// durations: the smallest value with at least p % of the values at or
// below it. Zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Ratio is a/b as a float; 0 when b is 0.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Median is the median of vs (mean of the middle two for an even count;
// integer division for integer types), for sizes such as peak RSS and
// per-round ratios. Zero for an empty slice; vs is not changed.
func Median[T ~int64 | ~float64](vs []T) T {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return median(s)
}

// Rotations returns the order of n programs for each of rounds rounds, so
// that every program runs first, second, ... equally often: a machine
// that speeds up or slows down over the run, or a cache warmed by the
// program before, then favours none of them.
//
// Positions balance whenever rounds is a multiple of n, not only of n!:
// the permutations come in blocks of n that are the cyclic shifts of one
// another (a Latin square). With 4 programs and 300 rounds, cycling
// through the 24 permutations in any other order would put 12 of them
// once more than the rest. Which program runs just before which balances
// at multiples of n!.
func Rotations(n, rounds int) [][]int {
	perms := latinBlocks(n)
	out := make([][]int, rounds)
	for i := range out {
		out[i] = perms[i%len(perms)]
	}
	return out
}

// latinBlocks orders all permutations of 0..n-1 so that each run of n
// consecutive ones, from the start, is one permutation and its n-1 cyclic
// shifts. The shifts of p are the coset p∘C of the cyclic group, and
// cosets partition the permutations, so every one appears exactly once.
func latinBlocks(n int) [][]int {
	all := permutations(n)
	if n <= 1 {
		return all
	}
	seen := make(map[string]bool, len(all))
	out := make([][]int, 0, len(all))
	for _, p := range all {
		if seen[fmt.Sprint(p)] {
			continue
		}
		for k := range n {
			q := make([]int, n)
			for i := range q {
				q[i] = p[(i+k)%n]
			}
			seen[fmt.Sprint(q)] = true
			out = append(out, q)
		}
	}
	return out
}

func permutations(n int) [][]int {
	if n <= 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for pos := 0; pos <= len(p); pos++ {
			q := make([]int, 0, n)
			q = append(q, p[:pos]...)
			q = append(q, n-1)
			q = append(q, p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// ErrNoSamples is returned when a measurement has nothing to summarise.
var ErrNoSamples = errors.New("bench: no successful runs to summarise")
