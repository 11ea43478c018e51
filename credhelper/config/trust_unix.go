//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkTrust applies the rule in trust.go to the opened file
// (fi, from the open descriptor) and to what the path leads through. It
// costs one lstat and one stat on each get that finds a config file.
func checkTrust(path string, fi fs.FileInfo) error {
	euid := int64(os.Geteuid())
	if err := fileDistrust(path, factsOf(fi), euid); err != nil {
		return err
	}
	dirs := []string{filepath.Dir(path)}
	li, err := os.Lstat(path)
	if err != nil {
		return examineError(path, path, err)
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		if err := linkDistrust(path, factsOf(li), euid); err != nil {
			return err
		}
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return examineError(path, path, err)
		}
		if d := filepath.Dir(target); d != dirs[0] {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		di, err := os.Stat(d)
		if err != nil {
			return examineError(path, d, err)
		}
		if err := dirDistrust(path, d, factsOf(di), euid); err != nil {
			return err
		}
	}
	return nil
}

func factsOf(fi fs.FileInfo) facts {
	f := facts{mode: fi.Mode(), uid: -1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.uid = int64(st.Uid)
	}
	return f
}

func examineError(path, what string, err error) error {
	return fmt.Errorf("config file %s: cannot examine %s to check who may change it: %w; make it and its directory readable by this user, or set %s to another file", path, what, bareError(err), EnvConfig)
}
