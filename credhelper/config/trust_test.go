package config

import (
	"io/fs"
	"strings"
	"testing"
)

// TestConfigTrustRule is the rule itself, on every platform, including
// the owners a test cannot create without root (a root-owned file seen by
// an ordinary user).
func TestConfigTrustRule(t *testing.T) {
	const (
		path = "/home/u/.config/docker-credential-acr/config.yaml"
		dir  = "/home/u/.config/docker-credential-acr"
		me   = 1000
	)
	dirMode := func(perm fs.FileMode) fs.FileMode { return fs.ModeDir | perm }
	tests := []struct {
		name string
		kind string // file, dir or link
		f    facts
		euid int64
		want string // "" means trusted
	}{
		{"own private file", "file", facts{mode: 0o600, uid: me}, me, ""},
		{"own file readable by all", "file", facts{mode: 0o644, uid: me}, me, ""},
		{"root's file", "file", facts{mode: 0o644, uid: 0}, me, ""},
		{"root's file as root", "file", facts{mode: 0o600, uid: 0}, 0, ""},
		{"group-writable", "file", facts{mode: 0o664, uid: me}, me,
			"config file " + path + " is writable by its group (mode 0664), so another user could change where tokens are sent; run: chmod go-w " + path},
		{"group-write only", "file", facts{mode: 0o620, uid: me}, me, "writable by its group (mode 0620)"},
		{"world-writable", "file", facts{mode: 0o666, uid: me}, me, "writable by every user (mode 0666)"},
		{"world-write only", "file", facts{mode: 0o602, uid: me}, me, "writable by every user (mode 0602)"},
		{"root's group-writable file", "file", facts{mode: 0o664, uid: 0}, me, "writable by its group"},
		{"another user's file", "file", facts{mode: 0o600, uid: 1001}, me,
			"config file " + path + " is owned by uid 1001, not by you (uid 1000) or root, so that user could change where tokens are sent; if you trust its content, run: sudo chown 1000 " + path + "; or use a copy of your own (set DOCKER_CREDENTIAL_ACR_CONFIG to it)"},
		{"another user's file as root", "file", facts{mode: 0o600, uid: 1001}, 0, "owned by uid 1001, not by root, so that user could change where tokens are sent; if you trust its content, run: chown 0 " + path + ";"},
		{"own private directory", "dir", facts{mode: dirMode(0o700), uid: me}, me, ""},
		{"own directory readable by all", "dir", facts{mode: dirMode(0o755), uid: me}, me, ""},
		{"root's directory", "dir", facts{mode: dirMode(0o755), uid: 0}, me, ""},
		{"sticky world-writable, root's", "dir", facts{mode: dirMode(0o777) | fs.ModeSticky, uid: 0}, me, ""},
		{"sticky group-writable, own", "dir", facts{mode: dirMode(0o770) | fs.ModeSticky, uid: me}, me, ""},
		{"group-writable directory", "dir", facts{mode: dirMode(0o775), uid: me}, me,
			"config file " + path + " is in directory " + dir + ", which is writable by its group (mode 0775) without the sticky bit, so another user could replace the file; run: chmod go-w " + dir},
		{"world-writable directory", "dir", facts{mode: dirMode(0o777), uid: 0}, me, "writable by every user (mode 0777) without the sticky bit"},
		{"setgid group-writable directory", "dir", facts{mode: dirMode(0o775) | fs.ModeSetgid, uid: me}, me, "(mode 2775)"},
		{"another user's directory", "dir", facts{mode: dirMode(0o755), uid: 1001}, me,
			"config file " + path + " is in directory " + dir + ", owned by uid 1001, not by you (uid 1000) or root, so that user could replace the file; run: sudo chown 1000 " + dir + ", or move the file to a directory of your own and set DOCKER_CREDENTIAL_ACR_CONFIG to it"},
		{"another user's sticky directory", "dir", facts{mode: dirMode(0o777) | fs.ModeSticky, uid: 1001}, me, "owned by uid 1001"},
		{"own link", "link", facts{mode: fs.ModeSymlink | 0o777, uid: me}, me, ""},
		{"root's link", "link", facts{mode: fs.ModeSymlink | 0o777, uid: 0}, me, ""},
		{"another user's link", "link", facts{mode: fs.ModeSymlink | 0o777, uid: 1001}, me,
			"config file " + path + " is a symbolic link owned by uid 1001, not by you (uid 1000) or root, so that user could point it elsewhere; if you trust it, run: sudo chown -h 1000 " + path},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch tt.kind {
			case "file":
				err = fileDistrust(path, tt.f, tt.euid)
			case "dir":
				err = dirDistrust(path, dir, tt.f, tt.euid)
			case "link":
				err = linkDistrust(path, tt.f, tt.euid)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Error("trusted")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error\n %q\ndoes not contain\n %q", err, tt.want)
			}
		})
	}
}

func TestCfgShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/.config/docker-credential-acr/config.yaml": "/home/u/.config/docker-credential-acr/config.yaml",
		"/home/My Documents/acr.yaml":                       "'/home/My Documents/acr.yaml'",
		"/tmp/it's.yaml":                                    `'/tmp/it'\''s.yaml'`,
		"/tmp/$(reboot).yaml":                               "'/tmp/$(reboot).yaml'",
		"-rf":                                               "./-rf",
		"-r f":                                              "'./-r f'",
		"":                                                  "''",
		"config.yaml":                                       "config.yaml",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
