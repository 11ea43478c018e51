//go:build unix

package filecache

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"syscall"
)

// readSmallFile is the hot path's read: open, read, close, nothing else.
// os.Open would also try to register a regular file with the runtime's
// network poller (and create the poller on first use), which costs about
// half a dozen extra system calls in a process that reads one file.
//
// O_NOFOLLOW: a cache file replaced by a symbolic link is not read
// through it (the token at the link's target would be handed out without
// an exchange), and the open fails instead: see noFollowErr.
//
// O_NONBLOCK: a FIFO planted at the name would otherwise block the open
// (and then the read) with no regard for the caller's deadline. On a
// regular file it changes nothing; on a FIFO the open returns at once and
// the read gives EOF (no writer) or EAGAIN, so the entry is a miss.
func readSmallFile(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: noFollowErr(err)}
	}
	defer syscall.Close(fd)
	data, err := readAllCapped(func(b []byte) (int, error) {
		for {
			n, err := syscall.Read(fd, b)
			switch {
			case err == syscall.EINTR:
				continue
			case err != nil:
				return 0, &fs.PathError{Op: "read", Path: path, Err: err}
			case n == 0 && len(b) > 0:
				return 0, io.EOF
			}
			return n, nil
		}
	})
	return data, err
}

// openNoFollow opens a cache file for reading without following a
// symbolic link, for the reads that also need the open file's identity;
// non-blocking, as readSmallFile, so that a FIFO cannot hold the open
// (readCapped then refuses anything but a regular file).
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Err = noFollowErr(pe.Err)
	}
	return f, err
}

// noFollowErr names the error O_NOFOLLOW gives for a symbolic link: ELOOP
// on Linux and macOS, EMLINK on FreeBSD and DragonFly, EFTYPE on NetBSD.
func noFollowErr(err error) error {
	switch {
	case errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.EMLINK) && (runtime.GOOS == "freebsd" || runtime.GOOS == "dragonfly"):
		return errSymlink
	}
	return err
}

// lockFileFlags are the flags the lock file is opened with: gofrs/flock's
// own (create, read-only; read-write where an exclusive lock needs it)
// and O_NOFOLLOW, so that a lock file replaced by a symbolic link neither
// creates nor locks the file it points to; O_NONBLOCK, so that a FIFO put
// in its place cannot block the open beyond the caller's deadline.
func lockFileFlags() int {
	flags := os.O_CREATE | os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	switch runtime.GOOS {
	case "aix", "solaris", "illumos":
		flags = os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	}
	return flags
}
