//go:build unix

package filecache

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivate refuses a directory that another user could write to. Group
// or world read access is tolerated: the files themselves are 0600 and
// their names are digests that reveal nothing.
func checkPrivate(fi os.FileInfo) error {
	if who := WritableBy(fi.Mode()); who != "" {
		return fmt.Errorf("it is writable by %s (mode %04o)", who, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if euid := os.Geteuid(); int64(st.Uid) != int64(euid) {
			return fmt.Errorf("it is owned by uid %d, not by this user (uid %d)", st.Uid, euid)
		}
	}
	return nil
}
