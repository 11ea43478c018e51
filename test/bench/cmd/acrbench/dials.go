//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// The simulator sees requests and handshakes, not connections: a
// connection dialed and never used, or one dialed again where the first
// could have been reused, shows only in the helper's own connect(2)
// calls. Every simulated host but IMDS is 127.0.0.1:443 here, so the
// connections to :443 are compared with the TLS handshakes.

// connectPort and connectHost pick the address out of strace's line for
// an IPv4 or IPv6 connect(2).
var (
	connectPort = regexp.MustCompile(`sin6?_port=htons\((\d+)\)`)
	connectHost = regexp.MustCompile(`inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"`)
)

// parseConnects counts the connect(2) calls to each address in strace
// output ("169.254.169.254:80" → 2), in order of first appearance.
// Connections to other families (a Unix socket) are left out.
func parseConnects(text string) (order []string, n map[string]int) {
	n = map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, "connect(") {
			continue
		}
		p, h := connectPort.FindStringSubmatch(line), connectHost.FindStringSubmatch(line)
		if p == nil || h == nil {
			continue
		}
		addr := h[1] + ":" + p[1]
		if h[2] != "" {
			addr = "[" + h[2] + "]:" + p[1]
		}
		if n[addr] == 0 {
			order = append(order, addr)
		}
		n[addr]++
	}
	return order, n
}

// coldDials runs one cold get of each source under strace at the
// simulator's current delay and reports its connections beside the TLS
// handshakes and plain-HTTP requests the simulator saw.
func (r *report) coldDials(c config, w *world) {
	st, err := exec.LookPath("strace")
	if err != nil {
		r.printf("   connections: strace is not installed (apt-get install strace): not counted\n")
		return
	}
	r.printf("   connections each source's cold get dialed (strace -f -e trace=connect; one run each, under strace, so not timed):\n")
	for _, src := range w.sources {
		out := filepath.Join(w.dir, "strace-cold-"+src.name+".txt")
		spec := src.spec(c, w, filepath.Join(w.dir, "cache-dials-"+src.name))
		spec.Args = append([]string{"-f", "-qq", "-e", "trace=connect", "-o", out, spec.Path}, spec.Args...)
		spec.Path = st
		before := w.sim.Stats()
		s := bench.Run(spec)
		d := w.sim.Stats().Since(before)
		if !s.OK() {
			r.fail("cold get (%s) under strace: %s", src.name, harness.Redact(s.Failure("get")))
			continue
		}
		b, err := os.ReadFile(out)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		order, n := parseConnects(string(b))
		var parts []string
		for _, a := range order {
			parts = append(parts, fmt.Sprintf("%s ×%d", a, n[a]))
		}
		r.printf("      %-9s connect: %s;  TLS handshakes %d, plain-HTTP (IMDS) requests %d\n", src.name, strings.Join(parts, ", "),
			d.Total(azuresim.EndpointTLSHello), d.Total(azuresim.EndpointIMDS)+d.Total(azuresim.EndpointIMDSProbe))
	}
}
