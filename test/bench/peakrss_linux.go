//go:build linux

package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PeakRSS runs spec once and returns the peak resident set size of the
// program itself, in bytes: VmHWM of its address space, read while it is
// stopped on its way out (ptrace's exit event).
//
// ru_maxrss cannot be used for this. Go starts children with
// clone(CLONE_VM|CLONE_VFORK), and at execve Linux folds the high-water
// mark of the address space being left, which is the parent's, into the
// child's ru_maxrss. Measured from a Go parent with a 54 MiB peak, a hello
// world "peaks" at 54 MiB (GNU time, which forks from a small process,
// says 1.7 MiB). VmHWM belongs to the address space execve made, so it is
// the program's own.
func PeakRSS(spec Spec) (int64, Sample, error) {
	// ptrace requests must come from the thread that became the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	in, err := stdinFile(spec.Stdin)
	if err != nil {
		return 0, Sample{Code: -1, Err: err}, err
	}
	defer in.Close()
	outF, err := os.CreateTemp("", "acrbench-stdout-")
	if err != nil {
		return 0, Sample{Code: -1, Err: err}, err
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := os.CreateTemp("", "acrbench-stderr-")
	if err != nil {
		return 0, Sample{Code: -1, Err: err}, err
	}
	defer os.Remove(errF.Name())
	defer errF.Close()

	sys := &syscall.SysProcAttr{}
	if spec.SysProcAttr != nil {
		c := *spec.SysProcAttr
		sys = &c
	}
	sys.Ptrace = true
	env := spec.Env
	if env == nil {
		env = []string{}
	}
	pid, err := syscall.ForkExec(spec.Path, append([]string{spec.Path}, spec.Args...), &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: []uintptr{in.Fd(), outF.Fd(), errF.Fd()},
		Sys:   sys,
	})
	if err != nil {
		err = fmt.Errorf("bench: starting %s under ptrace: %w", spec.Path, err)
		return 0, Sample{Code: -1, Err: err}, err
	}
	// Spec.Timeout is the hang guard here too: a traced child that never
	// exits would otherwise hold the caller for ever.
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	guard := time.AfterFunc(timeout, func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	start := time.Now()
	peak, code, err := traceToExit(pid)
	guard.Stop()
	s := Sample{Code: code, Err: err, Wall: time.Since(start)}
	if b, rerr := os.ReadFile(outF.Name()); rerr == nil {
		s.Stdout = string(b)
	}
	if b, rerr := os.ReadFile(errF.Name()); rerr == nil {
		s.Stderr = string(b)
	}
	if err == nil && code != 0 {
		s.Err = fmt.Errorf("exit status %d", code)
	}
	s.MaxRSS = peak
	return peak, s, err
}

// traceToExit follows a child stopped after execve until it exits,
// forwarding the signals it gets, and reads VmHWM at its exit event.
func traceToExit(pid int) (peak int64, code int, err error) {
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, -1, fmt.Errorf("bench: waiting for the traced child: %w", err)
	}
	if !ws.Stopped() {
		return 0, -1, fmt.Errorf("bench: the traced child did not stop after execve (status %v)", ws)
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
		return 0, -1, fmt.Errorf("bench: ptrace options: %w", err)
	}
	sig := 0
	for {
		if err := syscall.PtraceCont(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return peak, -1, fmt.Errorf("bench: ptrace continue: %w", err)
		}
		sig = 0
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return peak, -1, fmt.Errorf("bench: waiting for the traced child: %w", err)
		}
		switch {
		case ws.Exited():
			return peak, ws.ExitStatus(), nil
		case ws.Signaled():
			return peak, -1, fmt.Errorf("bench: the traced child was killed by %v", ws.Signal())
		case ws.Stopped() && ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			if hwm, err := vmHWM(pid); err == nil {
				peak = hwm
			}
		case ws.Stopped() && ws.StopSignal() != syscall.SIGTRAP:
			// A signal for the child (its runtime preempts itself with
			// SIGURG): deliver it.
			sig = int(ws.StopSignal())
		}
	}
}

// vmHWM reads the peak resident set size from /proc/<pid>/status.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(v)
			if len(fields) == 2 && fields[1] == "kB" {
				kb, err := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmHWM line")
}
