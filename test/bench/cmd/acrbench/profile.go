//go:build linux

package main

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// interpreter returns the ELF program interpreter of path ("" for a
// static binary): a dynamic one pays ld.so and libc's start-up on every
// run, so the yardstick must be linked the same way as the helper.
func interpreter(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", nil
}

// linking reports how the helper and the do-nothing binary are linked,
// and fails when they differ: the comparison would then measure the
// linker, not the helper.
func (r *report) linking(c config) {
	hi, err1 := interpreter(c.helper)
	ni, err2 := interpreter(c.nothing)
	if err1 != nil || err2 != nil {
		r.fail("reading the binaries' ELF headers: %v %v", err1, err2)
		return
	}
	describe := func(i string) string {
		if i == "" {
			return "static"
		}
		return "dynamic (" + i + ", libc: cgo is on)"
	}
	r.printf("  linking: helper %s; do-nothing %s\n", describe(hi), describe(ni))
	if (hi == "") != (ni == "") {
		r.fail("the do-nothing binary is not linked like the helper (one static, one dynamic): build both with the same CGO_ENABLED")
	}
}

// strace summarises one traced run.
type straceRun struct {
	calls  map[string]int
	total  int
	opened []string // "path = result"
	net    int      // socket, connect, sendto, ...
	execs  int
}

func parseStrace(text, dir string) straceRun {
	s := straceRun{calls: map[string]int{}}
	netCalls := map[string]bool{"socket": true, "connect": true, "sendto": true, "sendmsg": true, "recvfrom": true, "recvmsg": true, "bind": true}
	pending := map[string]int{} // pid -> index in opened of an unfinished open
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// "1234 openat(AT_FDCWD, \"/x\", O_RDONLY) = 3", possibly split by
		// another thread into "... <unfinished ...>" and
		// "1234 <... openat resumed>) = 3".
		pid, line, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "<... openat resumed>") || strings.HasPrefix(line, "<... open resumed>") {
			if i, ok := pending[pid]; ok {
				s.opened[i] += " (" + openResult(line) + ")"
				delete(pending, pid)
			}
			continue
		}
		if strings.HasPrefix(line, "<...") || strings.HasPrefix(line, "+++") || strings.HasPrefix(line, "---") {
			continue
		}
		name, args, ok := strings.Cut(line, "(")
		if !ok || name == "" || strings.ContainsAny(name, " <>") {
			continue
		}
		s.calls[name]++
		s.total++
		if netCalls[name] {
			s.net++
		}
		if name == "execve" {
			s.execs++
		}
		if name != "openat" && name != "open" {
			continue
		}
		_, rest, ok := strings.Cut(args, "\"")
		if !ok {
			continue
		}
		path, _, ok := strings.Cut(rest, "\"")
		if !ok {
			continue
		}
		entry := strings.ReplaceAll(path, dir, "$DIR")
		if strings.HasSuffix(line, "<unfinished ...>") {
			pending[pid] = len(s.opened)
			s.opened = append(s.opened, entry)
			continue
		}
		s.opened = append(s.opened, entry+" ("+openResult(line)+")")
	}
	return s
}

// openResult turns "... = 3" into "ok" and "... = -1 ENOENT (...)" into
// "ENOENT".
func openResult(line string) string {
	k := strings.LastIndex(line, " = ")
	if k < 0 {
		return "?"
	}
	f := strings.Fields(line[k+3:])
	switch {
	case len(f) == 0:
		return "?"
	case len(f) > 1 && f[0] == "-1":
		return f[1]
	default:
		return "ok"
	}
}

// runtimeNoise are system calls whose counts vary from run to run with
// the Go scheduler, not with what the program does.
var runtimeNoise = map[string]bool{
	"futex": true, "nanosleep": true, "mmap": true, "munmap": true, "mprotect": true, "madvise": true,
	"clone": true, "clone3": true, "rseq": true, "set_robust_list": true, "rt_sigprocmask": true,
	"rt_sigaction": true, "sigaltstack": true, "gettid": true, "sched_yield": true, "tgkill": true,
	"getpid": true, "pread64": true, "epoll_pwait": true,
}

// profile traces one cached get and one do-nothing run with strace, and
// reports what the cached get does beyond starting up.
func (r *report) profile(c config, w *world) {
	r.printf("Profile: one cached get under strace -f, against the do-nothing binary\n")
	st, err := exec.LookPath("strace")
	if err != nil {
		r.fail("strace is not installed (apt-get install strace)")
		return
	}
	hot := filepath.Join(w.dir, "cache-hot")
	if s := bench.Run(bench.Spec{Path: c.helper, Args: []string{"get"}, Env: w.env(hot), Stdin: registry + "\n"}); !s.OK() {
		r.fail("the get that fills the cache failed: %s", harness.Redact(s.Failure("get")))
		return
	}
	trace := func(name string, args ...string) (straceRun, bool) {
		out := filepath.Join(w.dir, "strace-"+name+".txt")
		s := bench.Run(bench.Spec{
			Path:  st,
			Args:  append([]string{"-f", "-qq", "-s", "256", "-o", out}, args...),
			Env:   w.env(hot),
			Stdin: registry + "\n",
			// No network at all: a cached get must not need one.
			SysProcAttr: newNetNS(),
		})
		if !s.OK() {
			r.fail("strace %s: %s", name, harness.Redact(s.Failure(name)))
			return straceRun{}, false
		}
		b, err := os.ReadFile(out)
		if err != nil {
			r.fail("%v", err)
			return straceRun{}, false
		}
		return parseStrace(string(b), w.dir), true
	}
	hs, ok1 := trace("helper", c.helper, "get")
	ns, ok2 := trace("nothing", c.nothing)
	if !ok1 || !ok2 {
		return
	}
	r.printf("   system calls: cached get %d, do-nothing %d; network calls %d; execve %d\n", hs.total, ns.total, hs.net, hs.execs)
	var extra []string
	for name, n := range hs.calls {
		if d := n - ns.calls[name]; d != 0 && !runtimeNoise[name] {
			extra = append(extra, fmt.Sprintf("%s %+d", name, d))
		}
	}
	sort.Strings(extra)
	r.printf("   beyond the do-nothing binary (scheduler and memory calls left out): %s\n", strings.Join(extra, ", "))
	r.printf("   files opened by the cached get (the do-nothing binary opens %d):\n", len(ns.opened))
	for _, f := range hs.opened {
		r.printf("     %s\n", f)
	}
	if hs.net != 0 {
		r.fail("the cached get made %d network system calls", hs.net)
	}
	r.printf("\n")
}
