package filecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

const appDir = "docker-credential-acr"

// ErrNoDir is what DefaultDir's error wraps when the environment names no
// home for the cache.
var ErrNoDir = errors.New("no directory for the token cache")

// DefaultDir returns the platform's cache directory for the helper:
// $XDG_CACHE_HOME/docker-credential-acr, else (Windows only)
// %LocalAppData%\docker-credential-acr, else
// $HOME/.cache/docker-credential-acr. A front end that lets its user
// choose the directory checks its own setting first.
//
// Docker runs helpers from arbitrary working directories, so only absolute
// paths count: a relative XDG_CACHE_HOME or HOME is ignored (as the XDG
// specification says). When no directory can be found the error wraps
// ErrNoDir and the caller should run without a cache (token.NoCache).
func DefaultDir(getenv func(string) string) (string, error) {
	return defaultDir(runtime.GOOS, getenv)
}

func defaultDir(goos string, getenv func(string) string) (string, error) {
	if d := getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, appDir), nil
	}
	if goos == "windows" {
		if d := getenv("LocalAppData"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, appDir), nil
		}
	}
	if d := getenv("HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, ".cache", appDir), nil
	}
	return "", fmt.Errorf("%w: neither XDG_CACHE_HOME nor HOME is set to an absolute path; tokens will be fetched on every call", ErrNoDir)
}

// dirVerdict values, kept in Cache.verdict.
const (
	verdictUnknown int32 = iota
	verdictSafe
	verdictUnsafe
)

// errUnsafeDir wraps the reason a directory is refused.
type errUnsafeDir struct {
	dir    string
	reason error
	other  string // how to choose another directory, from Cache.another
}

func (e *errUnsafeDir) Error() string {
	return fmt.Sprintf("token cache directory %s is not private: %v; it is not used, so tokens are fetched on every call. Run chmod 700 %s if it is yours, or %s",
		e.dir, e.reason, e.dir, e.other)
}

func (e *errUnsafeDir) Unwrap() error { return e.reason }

// another says how to choose another directory that is what: "set
// <Options.DirSetting> to what", or "use what" when the front end named
// no setting.
func (c *Cache) another(what string) string {
	if c.dirSetting != "" {
		return "set " + c.dirSetting + " to " + what
	}
	return "use " + what
}

// statDir checks the directory without creating it. The result is
// fs.ErrNotExist (wrapped) when there is nothing yet, *errUnsafeDir when the
// directory must not be used, or another error when it cannot be examined.
func (c *Cache) statDir() error {
	fi, err := os.Stat(c.dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("token cache path %s exists but is not a directory; remove it or %s", c.dir, c.another("another path"))
	}
	if reason := checkPrivate(fi); reason != nil {
		return &errUnsafeDir{dir: c.dir, reason: reason, other: c.another("a directory only you can write")}
	}
	return nil
}

// readable reports whether reads may look in the directory. A safe verdict
// is remembered for the life of the Cache, so that the hot path pays for
// one stat per process; "missing" is not remembered, because a Lock or Put
// may create the directory later.
func (c *Cache) readable() bool {
	switch c.verdict.Load() {
	case verdictSafe:
		return true
	case verdictUnsafe:
		return false
	}
	if c.dir == "" {
		return false
	}
	err := c.statDir()
	c.noteVerdict(err)
	return err == nil
}

// prepareDir makes sure the directory exists and is private before a
// write. It checks every time: writes are rare and the directory may have
// changed since the last look.
func (c *Cache) prepareDir() error {
	if c.dir == "" {
		return errors.New("no token cache directory configured; tokens are not cached")
	}
	err := c.statDir()
	if errors.Is(err, fs.ErrNotExist) {
		if mkErr := os.MkdirAll(c.dir, 0o700); mkErr != nil {
			return fmt.Errorf("creating token cache directory: %w; tokens are not cached. Make the parent writable or %s", mkErr, c.another("a writable directory"))
		}
		err = c.statDir()
	}
	c.noteVerdict(err)
	if err != nil {
		var unsafe *errUnsafeDir
		if errors.As(err, &unsafe) {
			return err
		}
		return fmt.Errorf("using token cache directory: %w; tokens are not cached", err)
	}
	return nil
}

func (c *Cache) noteVerdict(err error) {
	var unsafe *errUnsafeDir
	switch {
	case err == nil:
		c.verdict.Store(verdictSafe)
	case errors.As(err, &unsafe):
		c.verdict.Store(verdictUnsafe)
		c.warnOnce.Do(func() { c.log.Warn(err.Error()) })
	}
}
