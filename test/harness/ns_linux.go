//go:build linux

package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Reexec runs this program again, with the same arguments, in new network
// and mount namespaces (and, when not root, a user namespace mapping the
// caller to root, like `unshare -r -m -n`), and returns its exit code.
// The child sees InNamespace() true.
func Reexec() (int, error) {
	// Pdeathsig follows the thread that started the child: keep this
	// goroutine on one thread so the child dies with us, not with a thread.
	runtime.LockOSThread()
	exe, err := os.Executable()
	if err != nil {
		return 1, fmt.Errorf("find this program to run it in a namespace: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInNamespace+"=1")
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		how := "as root"
		if os.Geteuid() != 0 {
			how = "unprivileged, through a user namespace"
		}
		return 1, fmt.Errorf("cannot create a private network and mount namespace (%s): %w.\n"+
			"The end-to-end tests need one to give the helper real host names (169.254.169.254, login.microsoftonline.com, *.azurecr.io) without touching this machine.\n"+
			"Run them as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, and no AppArmor restriction)", how, err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return 1, fmt.Errorf("the namespaced run ended abnormally: %v", err)
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// SetupNamespace prepares the namespace Reexec made: loopback up with
// 169.254.169.254 on it, and /etc/hosts (mapping hosts to 127.0.0.1) and
// /etc/resolv.conf replaced by private files under dir. Mounts are made
// private first, so nothing propagates back to the machine.
func SetupNamespace(dir string, hosts []string) error {
	if !InNamespace() {
		return errors.New("SetupNamespace called outside the namespace Reexec makes: refusing to change this machine's network or /etc/hosts")
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private in the new namespace: %w", err)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return errors.New("the ip command (Debian package iproute2) is not installed: it is needed to bring loopback up inside the test namespace; make deps-e2e installs it")
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "169.254.169.254/32", "dev", "lo"},
	} {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// podman keeps its locks in /dev/shm: a private one leaves the
	// machine's alone (and is writable in an unprivileged namespace).
	if _, err := os.Stat("/dev/shm"); err == nil {
		if err := syscall.Mount("tmpfs", "/dev/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
			return fmt.Errorf("mount a private /dev/shm in the test namespace: %w", err)
		}
	}
	var h strings.Builder
	h.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, name := range hosts {
		fmt.Fprintf(&h, "127.0.0.1\t%s\n", name)
	}
	files := map[string]string{
		"/etc/hosts": h.String(),
		// No name server answers inside the namespace: lookups of other
		// names fail at once instead of waiting.
		"/etc/resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
	}
	for target, content := range files {
		src := filepath.Join(dir, "ns-"+filepath.Base(target))
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return err
		}
		if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
			if target == "/etc/resolv.conf" {
				// Only a speed-up: names the tests use come from hosts.
				continue
			}
			return fmt.Errorf("bind-mount a private %s in the test namespace: %w", target, err)
		}
	}
	return nil
}
