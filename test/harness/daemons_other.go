//go:build !linux

package harness

import "syscall"

// dieWithParent: the daemons run only on Linux (they need its
// namespaces); elsewhere StartDockerd fails before it starts anything.
func dieWithParent() *syscall.SysProcAttr { return nil }
