//go:build unix

package filecache

import (
	"io"
	"io/fs"
	"syscall"
)

// readSmallFile is the hot path's read: open, read, close, nothing else.
// os.Open would also try to register a regular file with the runtime's
// network poller (and create the poller on first use), which costs about
// half a dozen extra system calls in a process that reads one file.
func readSmallFile(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
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
