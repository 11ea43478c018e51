package filecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// EnvCacheDir names the environment variable that overrides the cache
// directory.
const EnvCacheDir = "DOCKER_CREDENTIAL_ACR_CACHE_DIR"

const appDir = "docker-credential-acr"

// DefaultDir returns the cache directory: $DOCKER_CREDENTIAL_ACR_CACHE_DIR,
// else $XDG_CACHE_HOME/docker-credential-acr, else (Windows only)
// %LocalAppData%\docker-credential-acr, else
// $HOME/.cache/docker-credential-acr.
//
// Docker runs helpers from arbitrary working directories, so only absolute
// paths count: a relative XDG_CACHE_HOME or HOME is ignored (as the XDG
// specification says), and a relative DOCKER_CREDENTIAL_ACR_CACHE_DIR is an
// error. When no directory can be found the error says so and the caller
// should run without a cache (token.NoCache).
func DefaultDir(getenv func(string) string) (string, error) {
	return defaultDir(runtime.GOOS, getenv)
}

func defaultDir(goos string, getenv func(string) string) (string, error) {
	if d := getenv(EnvCacheDir); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("%s=%q is not an absolute path: docker starts credential helpers in arbitrary working directories, so a relative cache directory would not be found again; set it to an absolute path", EnvCacheDir, d)
		}
		return filepath.Clean(d), nil
	}
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
	return "", fmt.Errorf("no directory for the token cache: none of %s, XDG_CACHE_HOME or HOME is set to an absolute path; tokens will be fetched on every call. Set %s to cache them", EnvCacheDir, EnvCacheDir)
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
}

func (e *errUnsafeDir) Error() string {
	return fmt.Sprintf("token cache directory %s is not private: %v; it is not used, so tokens are fetched on every call. Run chmod 700 %s if it is yours, or set %s to a directory only you can write",
		e.dir, e.reason, e.dir, EnvCacheDir)
}

func (e *errUnsafeDir) Unwrap() error { return e.reason }

// statDir checks the directory without creating it. The result is
// fs.ErrNotExist (wrapped) when there is nothing yet, *errUnsafeDir when the
// directory must not be used, or another error when it cannot be examined.
func statDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("token cache path %s exists but is not a directory; remove it or set %s to another path", dir, EnvCacheDir)
	}
	if reason := checkPrivate(fi); reason != nil {
		return &errUnsafeDir{dir: dir, reason: reason}
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
	err := statDir(c.dir)
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
	err := statDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if mkErr := os.MkdirAll(c.dir, 0o700); mkErr != nil {
			return fmt.Errorf("creating token cache directory: %w; tokens are not cached. Make the parent writable or set %s to a writable directory", mkErr, EnvCacheDir)
		}
		err = statDir(c.dir)
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
