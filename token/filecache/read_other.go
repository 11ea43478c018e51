//go:build !unix && !windows

package filecache

import (
	"io/fs"
	"os"
)

// Where there is neither O_NOFOLLOW nor FILE_FLAG_OPEN_REPARSE_POINT, a
// symbolic link is refused by looking first (Lstat) and then checking that
// the file opened is the one looked at.

func openNoFollow(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if before.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if after, err := f.Stat(); err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	return f, nil
}

func lockFileFlags() int { return os.O_CREATE | os.O_RDONLY }
