//go:build unix

package credhelper

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives path the owner of the file it replaces, so that root
// editing a user's config.json leaves it the user's. Best effort: only
// root may give a file away, and for anyone else it is theirs already.
func keepOwner(path string, like fs.FileInfo) {
	if like == nil || os.Geteuid() != 0 {
		return
	}
	if st, ok := like.Sys().(*syscall.Stat_t); ok {
		_ = os.Lchown(path, int(st.Uid), int(st.Gid))
	}
}
