package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// TestCacheDir: DOCKER_CREDENTIAL_ACR_CACHE_DIR first, then filecache's
// platform defaults. These cases were filecache's TestDefaultDir's.
func TestCacheDir(t *testing.T) {
	abs := func(p ...string) string { return filepath.Join(append([]string{string(filepath.Separator)}, p...)...) }
	tests := []struct {
		name    string
		getenv  func(string) string
		want    string
		wantErr []string
	}{
		{"explicit", cacheEnv{EnvCacheDir: abs("c", "acr"), "XDG_CACHE_HOME": abs("x"), "HOME": abs("h")}.get, abs("c", "acr"), nil},
		{"explicit is cleaned", cacheEnv{EnvCacheDir: abs("c", "acr") + "/./"}.get, abs("c", "acr"), nil},
		{"explicit relative is an error", cacheEnv{EnvCacheDir: "cache", "HOME": abs("h")}.get, "", []string{EnvCacheDir + `="cache" is not an absolute path`, "set it to an absolute path"}},
		{"xdg", cacheEnv{"XDG_CACHE_HOME": abs("x"), "HOME": abs("h")}.get, abs("x", "docker-credential-acr"), nil},
		{"home", cacheEnv{"HOME": abs("h")}.get, abs("h", ".cache", "docker-credential-acr"), nil},
		{"no home", cacheEnv{}.get, "", []string{"no directory for the token cache: none of DOCKER_CREDENTIAL_ACR_CACHE_DIR, XDG_CACHE_HOME or HOME is set to an absolute path; tokens will be fetched on every call. Set DOCKER_CREDENTIAL_ACR_CACHE_DIR to cache them"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CacheDir(tt.getenv)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("= %q, want an error", got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %v, want one containing %q", err, s)
					}
				}
				if tt.name == "no home" && !errors.Is(err, filecache.ErrNoDir) {
					t.Errorf("err = %v, want filecache.ErrNoDir", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// cacheEnv is a fixed environment (its own type, so that this test does not
// lean on the config tests' helpers).
type cacheEnv map[string]string

func (e cacheEnv) get(k string) string { return e[k] }
