//go:build linux

package main

import (
	"bufio"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
)

// initTrace is one process's GODEBUG=inittrace=1 output.
type initTrace struct {
	total time.Duration            // sum of every package's init clock
	end   time.Duration            // when the last init finished, from runtime start
	pkgs  map[string]time.Duration // clock by package
}

// parseInitTrace reads lines such as
//
//	init net/http @1.2 ms, 0.034 ms clock, 8712 bytes, 71 allocs
func parseInitTrace(stderr string) initTrace {
	t := initTrace{pkgs: map[string]time.Duration{}}
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[6] != "clock," {
			continue
		}
		at, err1 := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
		clock, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		d := time.Duration(clock * float64(time.Millisecond))
		t.pkgs[f[1]] += d
		t.total += d
		t.end = max(t.end, time.Duration(at*float64(time.Millisecond))+d)
	}
	return t
}

// startup reports package initialisation, which every invocation pays
// before main, from GODEBUG=inittrace=1.
func (r *report) startup(c config, w *world) {
	const runs = 21
	r.printf("7. Start-up before main: package initialisation (GODEBUG=inittrace=1, %d runs each, alternating)\n", runs)
	hot := filepath.Join(w.dir, "cache-hot")
	specs := []bench.Spec{
		{Path: c.helper, Args: []string{"get"}, Env: w.env(hot, "GODEBUG=inittrace=1"), Stdin: registry + "\n"},
		{Path: c.nothing, Env: w.env(hot, "GODEBUG=inittrace=1")},
	}
	traces := make([][]initTrace, len(specs))
	for _, order := range bench.Rotations(len(specs), runs) {
		for _, i := range order {
			s := bench.Run(specs[i])
			if s.OK() {
				traces[i] = append(traces[i], parseInitTrace(s.Stderr))
			}
		}
	}
	if len(traces[0]) == 0 || len(traces[1]) == 0 {
		r.fail("no init traces")
		return
	}
	summary := func(ts []initTrace) (total, end time.Duration, pkgs int) {
		var tot, ends []time.Duration
		for _, t := range ts {
			tot = append(tot, t.total)
			ends = append(ends, t.end)
		}
		return bench.Summarize(tot).Median, bench.Summarize(ends).Median, len(ts[0].pkgs)
	}
	ht, he, hp := summary(traces[0])
	nt, ne, np := summary(traces[1])
	r.printf("   init clock, all packages: cached get %s (%d packages), do-nothing %s (%d packages); last init done at @%s and @%s\n",
		ms(ht), hp, ms(nt), np, ms(he), ms(ne))
	// The packages that cost most, by median over the helper's runs.
	per := map[string][]time.Duration{}
	for _, t := range traces[0] {
		for p, d := range t.pkgs {
			per[p] = append(per[p], d)
		}
	}
	type pkgCost struct {
		name string
		med  time.Duration
	}
	var costs []pkgCost
	for p, ds := range per {
		costs = append(costs, pkgCost{p, bench.Summarize(ds).Median})
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i].med > costs[j].med })
	costs = costs[:min(6, len(costs))]
	parts := make([]string, len(costs))
	for i, pc := range costs {
		parts[i] = fmt.Sprintf("%s %s", shortPkg(pc.name), ms(pc.med))
	}
	r.printf("   largest: %s\n\n", strings.Join(parts, ", "))
}

// shortPkg trims well-known module prefixes for a readable line.
func shortPkg(p string) string {
	for _, pre := range []string{"github.com/AzureAD/microsoft-authentication-library-for-go/", "github.com/Azure/azure-sdk-for-go/sdk/", "github.com/docker-credential-acr/docker-credential-acr/"} {
		if s, ok := strings.CutPrefix(p, pre); ok {
			return s
		}
	}
	return p
}
