//go:build windows

package filecache

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens the file itself, never what a reparse point at path
// points to (FILE_FLAG_OPEN_REPARSE_POINT: the equivalent of O_NOFOLLOW),
// and then refuses it unless the open handle is a regular file: a
// symbolic link or junction opened that way is the link, not its target.
// The check is on the handle, so swapping the name between the check and
// the read cannot slip another file in. A file behind another kind of
// reparse point (a cloud placeholder) is refused as well: a miss. The
// sharing mode is os.Open's.
func openNoFollow(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ, syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE, nil,
		syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL|syscall.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(h), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	return f, nil
}

// lockFileFlags are gofrs/flock's own. Windows has no O_NOFOLLOW for
// os.OpenFile, so a lock file replaced by a symbolic link is followed;
// making one needs SeCreateSymbolicLinkPrivilege (or developer mode) and
// write access to the private cache directory, and the lock file holds
// nothing.
func lockFileFlags() int { return os.O_CREATE | os.O_RDONLY }
