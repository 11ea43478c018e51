package credhelper

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// The file side of configure: where the files are, reading them, and
// replacing them atomically with a backup.

// Where configure writes by default; FIELD-NOTES §4.
const (
	envDockerConfig     = "DOCKER_CONFIG"
	envRegistryAuthFile = "REGISTRY_AUTH_FILE"
	envXDGRuntimeDir    = "XDG_RUNTIME_DIR"
	newConfigFileMode   = 0o600
	newConfigDirMode    = 0o700
	backupSuffix        = ".bak"
)

// DockerConfigPath is docker's config.json: $DOCKER_CONFIG/config.json,
// else ~/.docker/config.json.
func DockerConfigPath(getenv func(string) string) (string, error) {
	if d := getenv(envDockerConfig); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home, err := homeDir(getenv)
	if err != nil {
		return "", fmt.Errorf("finding docker's config.json: %w; set DOCKER_CONFIG or pass --docker-config", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// ContainersAuthPath is the auth.json of podman, skopeo and buildah:
// $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else
// ~/.config/containers/auth.json.
func ContainersAuthPath(getenv func(string) string) (string, error) {
	if f := getenv(envRegistryAuthFile); f != "" {
		return f, nil
	}
	if d := getenv(envXDGRuntimeDir); d != "" {
		return filepath.Join(d, "containers", "auth.json"), nil
	}
	home, err := homeDir(getenv)
	if err != nil {
		return "", fmt.Errorf("finding the containers auth.json: %w; set REGISTRY_AUTH_FILE or pass --containers-auth", err)
	}
	return filepath.Join(home, ".config", "containers", "auth.json"), nil
}

func homeDir(getenv func(string) string) (string, error) {
	v := "HOME"
	if runtime.GOOS == "windows" {
		v = "USERPROFILE"
	}
	if h := getenv(v); h != "" {
		return h, nil
	}
	return "", fmt.Errorf("%s is not set", v)
}

// configFile is one file as read: the path named, the file written (the
// symlink's target), and what it held.
type configFile struct {
	path, target string
	exists       bool
	mode         fs.FileMode
	info         fs.FileInfo
	data         []byte
}

// readConfigFile reads path, following a symlink to its target. A file
// that does not exist is not an error: configure creates it.
func readConfigFile(path string) (*configFile, error) {
	f := &configFile{path: path, target: path}
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		t, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, fmt.Errorf("%s is a symbolic link that cannot be followed (%v); point it at a file or remove it", path, unwrapPath(err))
		}
		f.target = t
	}
	fi, err := os.Stat(f.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.mode = newConfigFileMode
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %v", path, unwrapPath(err))
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s); configure edits only files", path, fi.Mode().Type())
	}
	f.exists, f.mode, f.info = true, fi.Mode().Perm(), fi
	if f.data, err = os.ReadFile(f.target); err != nil {
		return nil, fmt.Errorf("reading %s: %v; check its permissions", path, unwrapPath(err))
	}
	return f, nil
}

// checkWritable refuses a file its owner made read-only (even for root,
// who could replace it) and one this user may not write.
func (f *configFile) checkWritable() error {
	if !f.exists {
		return nil
	}
	if f.mode&0o200 == 0 {
		return fmt.Errorf("%s is read-only (mode %04o); nothing was changed. Make it writable (chmod u+w %s) to let configure edit it, or edit it by hand", f.path, uint32(f.mode), f.target)
	}
	w, err := os.OpenFile(f.target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s cannot be written (%v); nothing was changed. Check its owner and permissions", f.path, unwrapPath(err))
	}
	return w.Close()
}

// write replaces the file's target with data: the old content first goes
// to a backup next to it, then data is written to a temporary file in
// the same directory, synced, given the old mode (and owner, where we
// may) and renamed over the target. A failure leaves the file as it was.
func (f *configFile) write(data []byte) (backup string, err error) {
	dir := filepath.Dir(f.target)
	if !f.exists {
		if err := os.MkdirAll(dir, newConfigDirMode); err != nil {
			return "", fmt.Errorf("creating the directory of %s: %v", f.path, unwrapPath(err))
		}
	} else {
		backup = f.target + backupSuffix
		if err := replaceFile(backup, f.data, f.mode, f.info); err != nil {
			return "", fmt.Errorf("keeping a backup of %s in %s: %v; nothing was changed", f.path, backup, err)
		}
	}
	if err := replaceFile(f.target, data, f.mode, f.info); err != nil {
		return "", fmt.Errorf("writing %s: %v; it was not changed", f.path, err)
	}
	return backup, nil
}

// replaceFile writes path atomically: temporary file, fsync, rename, and
// an fsync of the directory so that the rename survives a crash.
func replaceFile(path string, data []byte, mode fs.FileMode, like fs.FileInfo) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return unwrapPath(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return unwrapPath(err)
	}
	if _, err = tmp.Write(data); err != nil {
		return unwrapPath(err)
	}
	if err = tmp.Sync(); err != nil {
		return unwrapPath(err)
	}
	if err = tmp.Close(); err != nil {
		return unwrapPath(err)
	}
	keepOwner(tmp.Name(), like)
	if err = os.Rename(tmp.Name(), path); err != nil {
		return unwrapPath(err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// unwrapPath drops the *fs.PathError's repetition of a path the message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}
