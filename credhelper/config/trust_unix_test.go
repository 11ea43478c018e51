//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// nobody is the uid and gid the chown cases give files to.
const nobody = 65534

// TestLoadConfigTrust runs the rule through LoadConfig on real files and
// directories. Each case builds its own layout under a private directory.
func TestLoadConfigTrust(t *testing.T) {
	const yaml = "default: {sources: [cli]}\n"
	chmod := func(t *testing.T, p string, m os.FileMode) {
		t.Helper()
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// file writes config.yaml into a new directory of mode dirMode (set
	// outright: the umask only removes bits).
	file := func(t *testing.T, dirMode, mode os.FileMode) (path, dir string) {
		t.Helper()
		dir = filepath.Join(privateDir(t), "cfg")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		chmod(t, path, mode)
		chmod(t, dir, dirMode)
		return path, dir
	}
	needRoot := func(t *testing.T) {
		t.Helper()
		if os.Geteuid() != 0 {
			t.Skip("giving a file to another user (uid 65534) needs root; TestConfigTrustRule covers the rule without it")
		}
	}
	chown := func(t *testing.T, p string) {
		t.Helper()
		if err := os.Lchown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) (path string, wants []string)
	}{
		{"private file in private directory", func(t *testing.T) (string, []string) {
			p, _ := file(t, 0o700, 0o600)
			return p, nil
		}},
		{"readable file in readable directory", func(t *testing.T) (string, []string) {
			p, _ := file(t, 0o755, 0o644)
			return p, nil
		}},
		{"private file in a sticky world-writable directory", func(t *testing.T) (string, []string) {
			p, _ := file(t, os.ModeSticky|0o777, 0o600)
			return p, nil
		}},
		{"group-writable file", func(t *testing.T) (string, []string) {
			p, _ := file(t, 0o700, 0o660)
			return p, []string{"config file " + p + " is writable by its group (mode 0660)", "run: chmod go-w " + p}
		}},
		{"world-writable file", func(t *testing.T) (string, []string) {
			p, _ := file(t, 0o700, 0o606)
			return p, []string{"writable by every user (mode 0606)", "run: chmod go-w " + p}
		}},
		{"world-writable file in a sticky directory", func(t *testing.T) (string, []string) {
			p, _ := file(t, os.ModeSticky|0o777, 0o666)
			return p, []string{"writable by every user (mode 0666)"}
		}},
		{"group-writable directory", func(t *testing.T) (string, []string) {
			p, d := file(t, 0o770, 0o600)
			return p, []string{"is in directory " + d + ", which is writable by its group (mode 0770) without the sticky bit", "run: chmod go-w " + d}
		}},
		{"world-writable directory", func(t *testing.T) (string, []string) {
			p, d := file(t, 0o777, 0o600)
			return p, []string{"is in directory " + d + ", which is writable by every user (mode 0777) without the sticky bit"}
		}},
		{"path with a space is quoted in the command", func(t *testing.T) (string, []string) {
			d := filepath.Join(privateDir(t), "my dir")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d, "config.yaml")
			if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			chmod(t, p, 0o620)
			return p, []string{"run: chmod go-w '" + p + "'"}
		}},
		{"link in a private directory to a file in a group-writable one", func(t *testing.T) (string, []string) {
			target, d := file(t, 0o775, 0o600)
			link := filepath.Join(privateDir(t), "config.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link, []string{"config file " + link + " is in directory " + d + ", which is writable by its group"}
		}},
		{"link in a group-writable directory to a private file", func(t *testing.T) (string, []string) {
			target, _ := file(t, 0o700, 0o600)
			ld := filepath.Join(privateDir(t), "links")
			if err := os.Mkdir(ld, 0o700); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(ld, "config.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			chmod(t, ld, 0o775)
			return link, []string{"config file " + link + " is in directory " + ld + ", which is writable by its group"}
		}},
		{"private link to a private file", func(t *testing.T) (string, []string) {
			target, _ := file(t, 0o700, 0o600)
			link := filepath.Join(privateDir(t), "config.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link, nil
		}},
		{"relative path", func(t *testing.T) (string, []string) {
			// It would depend on the directory docker runs the helper in.
			_, d := file(t, 0o700, 0o600)
			t.Chdir(d)
			return "config.yaml", []string{`config file "config.yaml" is a relative path`, "set DOCKER_CREDENTIAL_ACR_CONFIG to an absolute path"}
		}},
		{"file owned by another user", func(t *testing.T) (string, []string) {
			needRoot(t)
			p, _ := file(t, 0o700, 0o600)
			chown(t, p)
			return p, []string{"config file " + p + " is owned by uid 65534, " + notYou(int64(os.Geteuid())), "run: " + chownCommand(int64(os.Geteuid()), "", p)}
		}},
		{"directory owned by another user", func(t *testing.T) (string, []string) {
			needRoot(t)
			p, d := file(t, 0o755, 0o600)
			chown(t, d)
			return p, []string{"is in directory " + d + ", owned by uid 65534", "run: chown 0 " + d}
		}},
		{"sticky directory owned by another user", func(t *testing.T) (string, []string) {
			needRoot(t)
			p, d := file(t, os.ModeSticky|0o777, 0o600)
			chown(t, d)
			return p, []string{"is in directory " + d + ", owned by uid 65534"}
		}},
		{"link owned by another user", func(t *testing.T) (string, []string) {
			needRoot(t)
			target, _ := file(t, 0o700, 0o600)
			link := filepath.Join(privateDir(t), "config.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			chown(t, link)
			return link, []string{"config file " + link + " is a symbolic link owned by uid 65534", "run: chown -h 0 " + link}
		}},
		{"another user's file in a sticky directory", func(t *testing.T) (string, []string) {
			// What /tmp/config.yaml created by someone else looks like.
			needRoot(t)
			p, _ := file(t, os.ModeSticky|0o777, 0o644)
			chown(t, p)
			return p, []string{"is owned by uid " + strconv.Itoa(nobody)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, wants := tt.setup(t)
			c, err := Load(path)
			if wants == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !c.Loaded() {
					t.Fatal("not loaded")
				}
				return
			}
			if err == nil {
				t.Fatal("trusted")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n %q\ndoes not contain\n %q", err, w)
				}
			}
		})
	}
}
