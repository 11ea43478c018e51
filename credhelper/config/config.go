package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
)

// maxConfigSize bounds the file: a config is a few hundred bytes, and a
// huge one is a mistake, not something to parse on every get.
const maxConfigSize = 64 << 10

// Config is a parsed, validated config file. The zero value and a nil
// *Config are an empty config.
type Config struct {
	path    string
	loaded  bool
	def     level
	exact   map[string]*level // canonical host → entry
	wild    map[string]*level // what follows "*." → entry
	clouds  []loginserver.CloudSuffix
	mirrors []Mirror
}

// Path is the file the config was read from, or "" for an empty config.
func (c *Config) Path() string {
	if c == nil {
		return ""
	}
	return c.path
}

// Loaded reports whether a file was found and read.
func (c *Config) Loaded() bool { return c != nil && c.loaded }

// CloudSuffixes returns the custom clouds, validated, for loginserver.Parse.
func (c *Config) CloudSuffixes() []loginserver.CloudSuffix {
	if c == nil {
		return nil
	}
	return slices.Clone(c.clouds)
}

// Path returns the config file's path: DOCKER_CREDENTIAL_ACR_CONFIG,
// else $XDG_CONFIG_HOME/docker-credential-acr/config.yaml, else
// ~/.config/docker-credential-acr/config.yaml (on Windows without HOME,
// %APPDATA%\docker-credential-acr\config.yaml). It returns "" when there
// is nowhere to look. It touches no disk.
func Path(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(EnvConfig); p != "" {
		return p
	}
	const rel = "docker-credential-acr"
	// The XDG spec says relative values are to be ignored.
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, rel, "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", rel, "config.yaml")
	}
	if runtime.GOOS == "windows" {
		if a := getenv("APPDATA"); a != "" {
			return filepath.Join(a, rel, "config.yaml")
		}
	}
	return ""
}

// Load reads and validates the config file at path. A missing file
// (or an empty path) is an empty config, at the cost of one failed open. A
// file that exists but cannot be read or parsed is an error naming the
// file and, where it can, the line. On Unix, a file that another user
// could change (see trust.go) is an error that says what to run.
func Load(path string) (*Config, error) {
	// A relative path would depend on the directory docker happens to run
	// the helper in.
	if path != "" && !filepath.IsAbs(path) {
		return nil, fmt.Errorf("config file %q is a relative path; set %s to an absolute path", path, EnvConfig)
	}
	c := &Config{path: path}
	if path == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be opened: %w; make it readable by this user, or set %s to another file", path, bareError(err), EnvConfig)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be examined: %w; check the file, or set %s to another file", path, bareError(err), EnvConfig)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("config file %s is a directory; %s must name a YAML file", path, EnvConfig)
	}
	if err := checkTrust(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s cannot be read: %w; check the file and its disk, or set %s to another file", path, bareError(err), EnvConfig)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config file %s is larger than %d KiB, but a config is a few hundred bytes; check that %s (or the default path) names the right file", path, maxConfigSize>>10, EnvConfig)
	}
	if err := c.parse(data); err != nil {
		var errs problems
		if errors.As(err, &errs) && len(errs) > 1 {
			return nil, fmt.Errorf("config file %s has %d problems (fix them, or set %s to another file):\n  %w", path, len(errs), EnvConfig, err)
		}
		return nil, fmt.Errorf("config file %s: %w (fix it, or set %s to another file)", path, err, EnvConfig)
	}
	c.loaded = true
	return c, nil
}

// bareError drops the operation and path that *fs.PathError repeats,
// since every message names the file already; errors.Is still sees the
// cause (fs.ErrPermission and the like).
func bareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses and validates config file contents, for callers
// (and tests) that hold the YAML in memory.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	if err := c.parse(data); err != nil {
		return nil, err
	}
	c.loaded = true
	return c, nil
}
