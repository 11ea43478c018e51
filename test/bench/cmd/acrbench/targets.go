//go:build linux

package main

// targetLine is one of the issues' targets as measured in this run.
type targetLine struct {
	name, got, want string
	met             bool
}

// target records a measured target; finish lists them all. Under -strict
// a missed one is also a problem, which makes the run fail.
func (r *report) target(name, got, want string, met bool) {
	r.targets = append(r.targets, targetLine{name, got, want, met})
}

// targetSummary prints the targets measured, PASS or MISS each, and
// returns how many were missed.
func (r *report) targetSummary() int {
	if len(r.targets) == 0 {
		return 0
	}
	how := "reported, not enforced: run with -strict (BENCH_FLAGS=-strict) to make a miss fail the run"
	if r.strict {
		how = "-strict: a miss fails the run"
	}
	r.printf("\nTargets (%s)\n", how)
	missed := 0
	for _, t := range r.targets {
		r.printf("   %-44s %10s   %-36s %s\n", t.name, t.got, t.want, passMiss(t.met))
		if !t.met {
			missed++
		}
	}
	r.printf("   %d of %d met\n", len(r.targets)-missed, len(r.targets))
	return missed
}
