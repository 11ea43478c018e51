package config

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// The config file adds login-server suffixes and Entra authorities, that
// is, it decides where tokens go. It is trusted only if nobody but this
// user and root can change what the helper reads. On Unix that means, for
// the file and for the directory (or directories, through a symbolic
// link) it is reached in:
//
//   - The file is owned by this user (the effective uid) or root, and is
//     writable by neither its group nor other users. This is token/
//     filecache's rule for the cache directory (filecache.WritableBy),
//     plus root: the helper only
//     reads this file, root can change the process anyway, and a
//     root-owned file is how an administrator provisions a machine-wide
//     config (DOCKER_CREDENTIAL_ACR_CONFIG=/etc/…).
//   - A directory holding it is owned by this user or root (its owner can
//     always rename or delete entries), and is writable by neither group
//     nor others unless it has the sticky bit: in a sticky directory such
//     as /tmp only the entry's owner, the directory's owner and root may
//     rename or delete it, so others cannot swap the file, and a file they
//     create themselves fails the owner rule above.
//   - A symbolic link as the last component is owned by this user or
//     root, for the same reason as the file (its mode bits mean nothing).
//
// Group-writable counts even though Debian-style private user groups make
// it common (umask 002): the group may have other members, and whether it
// does is not visible without NSS. The error says what to run.
//
// Ancestors further up are not checked, as OpenSSH does not check beyond
// the home directory: whoever can write those can already rewrite the
// user's shell start-up files or ~/.docker/config.json.

// facts is what the trust rule needs to know about one path.
type facts struct {
	mode fs.FileMode // as fs.FileInfo.Mode
	uid  int64       // the owner
}

// fileDistrust applies the rule to the config file itself.
func fileDistrust(path string, f facts, euid int64) error {
	if who := filecache.WritableBy(f.mode); who != "" {
		return fmt.Errorf("config file %s is writable by %s (mode %04o), so another user could change where tokens are sent; run: chmod go-w %s",
			path, who, unixMode(f.mode), shellQuote(path))
	}
	if !trustedOwner(f.uid, euid) {
		return fmt.Errorf("config file %s is owned by uid %d, %s, so that user could change where tokens are sent; if you trust its content, run: %s; or use a copy of your own (set %s to it)",
			path, f.uid, notYou(euid), chownCommand(euid, "", path), EnvConfig)
	}
	return nil
}

// linkDistrust applies the rule to a symbolic link that is the config
// path's last component.
func linkDistrust(path string, l facts, euid int64) error {
	if !trustedOwner(l.uid, euid) {
		return fmt.Errorf("config file %s is a symbolic link owned by uid %d, %s, so that user could point it elsewhere; if you trust it, run: %s",
			path, l.uid, notYou(euid), chownCommand(euid, "-h ", path))
	}
	return nil
}

// dirDistrust applies the rule to a directory holding the config file.
func dirDistrust(path, dir string, d facts, euid int64) error {
	if who := filecache.WritableBy(d.mode); who != "" && d.mode&fs.ModeSticky == 0 {
		return fmt.Errorf("config file %s is in directory %s, which is writable by %s (mode %04o) without the sticky bit, so another user could replace the file; run: chmod go-w %s",
			path, dir, who, unixMode(d.mode), shellQuote(dir))
	}
	if !trustedOwner(d.uid, euid) {
		return fmt.Errorf("config file %s is in directory %s, owned by uid %d, %s, so that user could replace the file; run: %s, or move the file to a directory of your own and set %s to it",
			path, dir, d.uid, notYou(euid), chownCommand(euid, "", dir), EnvConfig)
	}
	return nil
}

func trustedOwner(uid, euid int64) bool { return uid == euid || uid == 0 }

func notYou(euid int64) string {
	if euid == 0 {
		return "not by root"
	}
	return "not by you (uid " + strconv.FormatInt(euid, 10) + ") or root"
}

// chownCommand is the command that gives path to this user.
func chownCommand(euid int64, flags, path string) string {
	sudo := "sudo "
	if euid == 0 {
		sudo = ""
	}
	return sudo + "chown " + flags + strconv.FormatInt(euid, 10) + " " + shellQuote(path)
}

// unixMode is m's permission bits as chmod writes them, with the
// sticky, setuid and setgid bits in their Unix places.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	return u
}

// shellQuote makes path safe to paste into a POSIX shell, so that the
// commands in the messages can be copied as they are.
func shellQuote(path string) string {
	if path == "" {
		return "''"
	}
	if path[0] == '-' {
		path = "./" + path // not an option to chmod or chown
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/._-+,:=@%", c) >= 0) {
			return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
		}
	}
	return path
}
