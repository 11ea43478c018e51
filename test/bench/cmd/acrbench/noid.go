//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// How 169.254.169.254 behaves in a no-identity scenario. Each runs in a
// network namespace of its own, made for it: the helper can reach
// nothing else, least of all the machine's real metadata address.
const (
	// imdsUnreachable: loopback only, no route: connect fails at once
	// (a laptop, a CI container without Azure).
	imdsUnreachable = "unreachable"
	// imdsSilent: something accepts the connection and never answers.
	imdsSilent = "silent"
	// imdsDropped: packets vanish, so connect itself hangs (a firewall
	// that drops, a cloud other than Azure): the slow real-world case.
	imdsDropped = "dropped"
	// imdsForeign: another cloud's metadata server owns the address and
	// answers Azure's paths 404 with an HTML page, as AWS's IMDSv1 and
	// GCP's do: an HTTP answer that is not IMDS's.
	imdsForeign = "foreign"
)

// foreignPage is what the stand-in for another cloud's metadata server
// answers every request with (AWS's IMDSv1 404 page).
const foreignPage = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`

// noIdentityJob is what the parent sends a no-identity child on stdin.
type noIdentityJob struct {
	Helper    string   `json:"helper"`
	Env       []string `json:"env"`
	Following int      `json:"following"`
}

type noIdentityCase struct {
	imds    string
	sources string // DOCKER_CREDENTIAL_ACR_SOURCES; "" for the automatic order
	label   string
}

// noIdentity times the first failing get where no identity exists and
// the gets after it, which the negative cache should answer.
func (r *report) noIdentity(c config, w *world, cached cachedResult) {
	r.printf("6. No identity available: the first get, then %d more (answered from the negative cache)\n", c.following)
	self, err := os.Executable()
	if err != nil {
		r.fail("%v", err)
		return
	}
	cases := []noIdentityCase{
		{imdsUnreachable, "managed", "SOURCES=managed, 169.254.169.254 unreachable"},
		{imdsSilent, "managed", "SOURCES=managed, IMDS accepts, never answers"},
		{imdsDropped, "managed", "SOURCES=managed, packets to IMDS dropped"},
		{imdsDropped, "", "automatic sources, packets to IMDS dropped"},
		{imdsForeign, "managed", "SOURCES=managed, another cloud's metadata (404 HTML)"},
		{imdsForeign, "", "automatic sources, another cloud's metadata (404 HTML)"},
	}
	var worstFirst, worstNext time.Duration
	ran := 0
	defer func() {
		if ran == 0 {
			return
		}
		r.target(fmt.Sprintf("no identity, first get (worst of %d cases)", ran), ms(worstFirst), "≤ 1500 ms", worstFirst <= 1500*time.Millisecond)
		r.target("no identity, following gets (worst)", ms(worstNext), "≤ 50 ms", worstNext <= 50*time.Millisecond)
	}()
	for i, k := range cases {
		env := []string{}
		for _, kv := range w.env(filepath.Join(w.dir, fmt.Sprintf("cache-noid-%d", i))) {
			if strings.HasPrefix(kv, "DOCKER_CREDENTIAL_ACR_SOURCES=") {
				if k.sources == "" {
					continue
				}
				kv = "DOCKER_CREDENTIAL_ACR_SOURCES=" + k.sources
			}
			env = append(env, kv)
		}
		job, _ := json.Marshal(noIdentityJob{Helper: c.helper, Env: env, Following: c.following})
		s := bench.Run(bench.Spec{
			Path:        self,
			Args:        []string{"-noid-child", k.imds},
			Env:         os.Environ(),
			Stdin:       string(job),
			SysProcAttr: newNetNS(),
		})
		var res noIdentityResult
		if err := json.Unmarshal([]byte(s.Stdout), &res); err != nil || !s.OK() || res.Error != "" {
			r.fail("%s: the scenario did not run: %s %s", k.label, res.Error, s.Failure("acrbench -noid-child"))
			continue
		}
		first := time.Duration(res.FirstNS)
		next := make([]time.Duration, len(res.NextNS))
		for j, n := range res.NextNS {
			next[j] = time.Duration(n)
		}
		ns := bench.Summarize(next)
		ran++
		worstFirst, worstNext = max(worstFirst, first), max(worstNext, ns.Max)
		fv, nv := "met", "met"
		if first > 1500*time.Millisecond {
			fv = "NOT met"
		}
		if ns.Max > 50*time.Millisecond {
			nv = "NOT met"
		}
		r.printf("   %-54s first %9s (≤ 1.5 s: %s);  next: median %s, max %s (≤ 50 ms: %s; %s a cached get)\n",
			k.label, ms(first), fv, ms(ns.Median), ms(ns.Max), nv, x(bench.Ratio(ns.Median, cached.wall.Median))+" of")
		if res.FirstCode != 1 || !strings.Contains(res.FirstOut, "no Azure identity available") {
			r.fail("%s: the first get answered exit %d: %s", k.label, res.FirstCode, harness.Redact(res.FirstOut))
		}
		for j, code := range res.NextCodes {
			if code != 1 {
				r.fail("%s: get %d after the first exited %d, want 1", k.label, j+1, code)
				break
			}
		}
		if res.NextOut != "" && !strings.Contains(res.NextOut, "remembered") {
			r.fail("%s: the gets after the first were not answered from the negative cache: %s", k.label, harness.Redact(res.NextOut))
		}
		switch {
		case i == 0:
			r.printf("   first answer: %s\n", clip(res.FirstOut, 160))
			r.printf("   next answers: %s\n", clip(res.NextOut, 160))
		case k.imds == imdsForeign:
			// How many requests the helper sent, and what it said, show
			// whether it took the 404 for IMDS (probe, then the token
			// request and its retries) or gave up after the probe.
			r.printf("      requests at 169.254.169.254: %d by the first get, %d by the %d after it\n", res.FirstRequests, res.NextRequests, len(res.NextNS))
			r.printf("      first answer, managed source: %s\n", clipMiddle(managedPart(res.FirstOut), 300))
		}
	}
	r.printf("\n")
}

// managedPart is the managed source's part of a no-identity answer,
// which names every source tried: "…; managed: <why>" or "managed
// source: <why>".
func managedPart(out string) string {
	for _, label := range []string{"managed source: ", "managed: "} {
		if i := strings.Index(out, label); i >= 0 {
			return out[i+len(label):]
		}
	}
	return out
}

// clipMiddle shortens s to about n bytes by cutting out its middle, where
// a quoted response body sits, keeping what was said first and the advice
// at the end.
func clipMiddle(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	head, tail := n/2, len(s)-n/2
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + " … " + s[tail:]
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// runNoIdentityChild runs in a fresh network namespace: it makes
// 169.254.169.254 behave as imds says, then runs the gets and reports
// them as JSON on out.
func runNoIdentityChild(imds string, out io.Writer) int {
	var job noIdentityJob
	res := noIdentityResult{}
	fail := func(err error) int {
		res.Error = err.Error()
		_ = writeJSON(out, res)
		return 1
	}
	if err := json.NewDecoder(os.Stdin).Decode(&job); err != nil {
		return fail(fmt.Errorf("reading the job: %w", err))
	}
	stop, requests, err := setupIMDS(imds)
	if err != nil {
		return fail(err)
	}
	defer stop()
	spec := bench.Spec{Path: job.Helper, Args: []string{"get"}, Env: job.Env, Stdin: harness.Registry1 + "\n"}
	requests.Store(0) // the set-up's own check is not the helper's
	first := bench.Run(spec)
	res.FirstNS, res.FirstCode, res.FirstOut = int64(first.Wall), first.Code, first.Stdout
	res.FirstRequests = requests.Swap(0)
	for range job.Following {
		s := bench.Run(spec)
		res.NextNS = append(res.NextNS, int64(s.Wall))
		res.NextCodes = append(res.NextCodes, s.Code)
		res.NextOut = s.Stdout
	}
	res.NextRequests = requests.Load()
	if err := writeJSON(out, res); err != nil {
		return 1
	}
	return 0
}

// setupIMDS prepares this network namespace, and checks that a connection
// to 169.254.169.254:80 now behaves as intended. requests counts the HTTP
// requests a stand-in server answers there (it stays 0 where none does).
func setupIMDS(imds string) (stop func(), requests *atomic.Int64, err error) {
	if !harness.InNamespace() {
		return nil, nil, errors.New("refusing to change a network outside the benchmark's namespaces")
	}
	stop = func() {}
	requests = new(atomic.Int64)
	cmds := [][]string{{"link", "set", "lo", "up"}}
	switch imds {
	case imdsUnreachable:
	case imdsSilent, imdsForeign:
		cmds = append(cmds, []string{"addr", "add", "169.254.169.254/32", "dev", "lo"})
	case imdsDropped:
		// A veth pair with a static neighbour entry for an address nobody
		// has: the SYN leaves and nothing ever comes back, as when a
		// firewall drops it.
		cmds = append(cmds,
			[]string{"link", "add", "acrb0", "type", "veth", "peer", "name", "acrb1"},
			[]string{"link", "set", "acrb0", "up"},
			[]string{"link", "set", "acrb1", "up"},
			[]string{"route", "add", "169.254.169.254/32", "dev", "acrb0"},
			[]string{"neigh", "add", "169.254.169.254", "lladdr", "02:00:00:00:00:01", "dev", "acrb0", "nud", "permanent"})
	default:
		return nil, nil, fmt.Errorf("unknown IMDS behaviour %q", imds)
	}
	for _, args := range cmds {
		if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, b)
		}
	}
	if imds == imdsSilent {
		ln, err := net.Listen("tcp", "169.254.169.254:80")
		if err != nil {
			return nil, nil, err
		}
		var held []net.Conn
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				held = append(held, c) // never read, never answered
			}
		}()
		stop = func() { ln.Close() }
	}
	if imds == imdsForeign {
		ln, err := net.Listen("tcp", "169.254.169.254:80")
		if err != nil {
			return nil, nil, err
		}
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, foreignPage)
			}),
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() { _ = srv.Serve(ln) }()
		stop = func() { _ = srv.Close() }
		// The check: an HTTP answer, 404 HTML, to IMDS's token path.
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := hc.Get("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01")
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("169.254.169.254 does not behave as %q: %v", imds, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "text/html" {
			stop()
			return nil, nil, fmt.Errorf("169.254.169.254 does not behave as %q: it answered %s, %s", imds, resp.Status, resp.Header.Get("Content-Type"))
		}
		return stop, requests, nil
	}
	// The check: what a connect does now.
	start := time.Now()
	c, err := net.DialTimeout("tcp", "169.254.169.254:80", 300*time.Millisecond)
	took := time.Since(start)
	var ne net.Error
	switch {
	case imds == imdsUnreachable && err != nil && errors.Is(err, syscall.ENETUNREACH):
	case imds == imdsSilent && err == nil:
		c.Close()
	case imds == imdsDropped && errors.As(err, &ne) && ne.Timeout() && took >= 250*time.Millisecond:
	default:
		if c != nil {
			c.Close()
		}
		stop()
		return nil, nil, fmt.Errorf("169.254.169.254 does not behave as %q: connect gave %v after %v", imds, err, took)
	}
	return stop, requests, nil
}
