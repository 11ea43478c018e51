package config

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// EnvCacheDir names the environment variable that overrides the token
// cache directory.
const EnvCacheDir = "DOCKER_CREDENTIAL_ACR_CACHE_DIR"

// CacheDir returns the token cache directory: $DOCKER_CREDENTIAL_ACR_CACHE_DIR,
// else filecache.DefaultDir ($XDG_CACHE_HOME/docker-credential-acr, else
// %LocalAppData% on Windows, else $HOME/.cache/docker-credential-acr).
//
// Docker runs helpers from arbitrary working directories, so a relative
// DOCKER_CREDENTIAL_ACR_CACHE_DIR is an error. When no directory can be
// found the error says so and the caller should run without a cache
// (token.NoCache).
func CacheDir(getenv func(string) string) (string, error) {
	if d := getenv(EnvCacheDir); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("%s=%q is not an absolute path: docker starts credential helpers in arbitrary working directories, so a relative cache directory would not be found again; set it to an absolute path", EnvCacheDir, d)
		}
		return filepath.Clean(d), nil
	}
	d, err := filecache.DefaultDir(getenv)
	if errors.Is(err, filecache.ErrNoDir) {
		return "", fmt.Errorf("%w: none of %s, XDG_CACHE_HOME or HOME is set to an absolute path; tokens will be fetched on every call. Set %s to cache them", filecache.ErrNoDir, EnvCacheDir, EnvCacheDir)
	}
	return d, err
}
