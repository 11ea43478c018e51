package credhelper

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
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	abs := func(p ...string) string { return filepath.Join(append([]string{string(filepath.Separator)}, p...)...) }
	tests := []struct {
		name    string
		getenv  func(string) string
		want    string
		wantErr []string
	}{
		{"explicit", env(EnvCacheDir, abs("c", "acr"), "XDG_CACHE_HOME", abs("x"), "HOME", abs("h")), abs("c", "acr"), nil},
		{"explicit is cleaned", env(EnvCacheDir, abs("c", "acr")+"/./"), abs("c", "acr"), nil},
		{"explicit relative is an error", env(EnvCacheDir, "cache", "HOME", abs("h")), "", []string{EnvCacheDir + `="cache" is not an absolute path`, "set it to an absolute path"}},
		{"xdg", env("XDG_CACHE_HOME", abs("x"), "HOME", abs("h")), abs("x", "docker-credential-acr"), nil},
		{"home", env("HOME", abs("h")), abs("h", ".cache", "docker-credential-acr"), nil},
		{"no home", env(), "", []string{"no directory for the token cache: none of DOCKER_CREDENTIAL_ACR_CACHE_DIR, XDG_CACHE_HOME or HOME is set to an absolute path; tokens will be fetched on every call. Set DOCKER_CREDENTIAL_ACR_CACHE_DIR to cache them"}},
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
