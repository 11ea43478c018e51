//go:build unix

package filecache

import "syscall"

func setUmask(m int) int { return syscall.Umask(m) }
