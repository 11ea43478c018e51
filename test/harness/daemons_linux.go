//go:build linux

package harness

import "syscall"

// dieWithParent makes the kernel kill a daemon when the thread that
// started it ends (startDaemon keeps that thread for the daemon's life).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
