package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DaemonAddr is where the docker daemon and buildkitd reach the login
// servers. Not loopback: dockerd treats registries on 127.0.0.0/8 as
// insecure and then skips TLS verification, which would prove nothing.
// It is an address of TEST-NET-1 (RFC 5737), put on the namespace's
// loopback device and forwarded to the simulator's TLS listener; only the
// daemons' own mount namespaces map the registries' names to it.
const DaemonAddr = "192.0.2.10"

// DaemonOptions configure StartDockerd and StartBuildkitd.
type DaemonOptions struct {
	// Name names the daemon's directory.
	Name string
	// Trusted are the registries whose TLS the daemon verifies with the
	// test CA. The others it reaches too, with only the machine's roots,
	// so TLS to them fails: that proves it really checks.
	Trusted []string
	// Buildkitd and Buildctl are the BuildKit binaries (StartBuildkitd).
	Buildkitd, Buildctl string
}

// Daemon is a docker daemon or buildkitd the harness started inside the
// namespace, with everything it writes under Dir.
type Daemon struct {
	Name string
	// Host is its socket, for DOCKER_HOST or buildctl --addr.
	Host string
	Dir  string
	Log  string // its log file
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// daemonFront forwards DaemonAddr:443 to the simulator's TLS listener,
// byte for byte (TLS ends at the simulator, which sees the daemon's SNI),
// and counts the connections: a test can tell that a daemon used it.
type daemonFront struct {
	ln    net.Listener
	conns atomic.Int64
}

// DaemonConnections is how many connections the daemons made to the
// login servers (at DaemonAddr) so far.
func (w *World) DaemonConnections() int64 {
	w.frontMu.Lock()
	defer w.frontMu.Unlock()
	if w.front == nil {
		return 0
	}
	return w.front.conns.Load()
}

// startFront puts DaemonAddr on loopback and starts the forwarder, once.
func (w *World) startFront() error {
	w.frontMu.Lock()
	defer w.frontMu.Unlock()
	if w.front != nil {
		return nil
	}
	if !InNamespace() {
		return errors.New("refusing to add " + DaemonAddr + " to loopback outside the test namespace")
	}
	if out, err := exec.Command("ip", "addr", "add", DaemonAddr+"/32", "dev", "lo").CombinedOutput(); err != nil && !strings.Contains(string(out), "File exists") {
		return fmt.Errorf("ip addr add %s/32 dev lo (in the test namespace): %v: %s", DaemonAddr, err, out)
	}
	ln, err := net.Listen("tcp", DaemonAddr+":443")
	if err != nil {
		return fmt.Errorf("listen on %s:443 for the daemons: %w", DaemonAddr, err)
	}
	f := &daemonFront{ln: ln}
	target := w.servers.TLSAddr
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go forward(c, target)
		}
	}()
	w.front = f
	return nil
}

func forward(c net.Conn, target string) {
	defer c.Close()
	// From DaemonAddr: the simulator and the registries' logs then tell
	// a daemon's requests (192.0.2.10) from a client's (127.0.0.1).
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(DaemonAddr)}}
	up, err := d.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (f *daemonFront) close() {
	_ = f.ln.Close()
	// Open connections end when their daemons stop; do not wait for them.
}

// daemonDir makes a short directory for a daemon: unix socket paths must
// stay under 108 bytes.
func daemonDir(name string) (string, error) {
	return os.MkdirTemp("/tmp", "azs-"+name+"-")
}

// writeDaemonHosts writes the hosts file the daemons see: every simulated
// registry (and look-alike) at DaemonAddr, and nothing else, so that a
// daemon could not reach Entra or IMDS even by name.
func (w *World) writeDaemonHosts(path string) error {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, h := range append(w.Sim.Registries(), HostileHosts()...) {
		fmt.Fprintf(&b, "%s\t%s\n", DaemonAddr, h)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// privateMounts is a shell script run by unshare(1) in a new mount
// namespace of the daemon's own, which then becomes the daemon:
//
//	$1 the hosts file, $2 a directory to mount over /etc/docker (or ""),
//	$3 a file holding "N", then the daemon's command line.
//
// Besides the hosts file and /etc/docker it gives the daemon empty /run
// and /opt of its own: dockerd makes /run/docker/plugins whatever its
// exec root, would use a containerd whose socket it finds in
// /run/containerd instead of starting its own, and that containerd makes
// /opt/containerd. And it tells the daemon AppArmor is off, so that it
// does not load a profile into the machine's kernel.
const privateMounts = `set -e
mount --bind "$1" /etc/hosts
if [ -n "$2" ]; then mount --bind "$2" /etc/docker; fi
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /opt
if [ -e /sys/module/apparmor/parameters/enabled ]; then mount --bind "$3" /sys/module/apparmor/parameters/enabled; fi
shift 3
exec "$@"`

// startDaemon runs argv in a mount namespace of its own (privateMounts),
// logging to d.Log, from a goroutine that keeps its OS thread for the
// daemon's lifetime: Pdeathsig then kills the daemon when the test
// process dies, however it dies, and not when some thread exits.
func (w *World) startDaemon(d *Daemon, etcDocker string, argv []string) error {
	if err := w.startFront(); err != nil {
		return err
	}
	for _, tool := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s (util-linux) is not installed: the daemons run in a mount namespace of their own", tool)
		}
	}
	if etcDocker != "" {
		if fi, err := os.Stat("/etc/docker"); err != nil || !fi.IsDir() {
			return errors.New("/etc/docker does not exist: the docker daemon's certs.d is mounted over it in the daemon's own mount namespace; the docker-registry and docker.io packages create it (make deps-e2e)")
		}
	}
	hosts := filepath.Join(d.Dir, "hosts")
	if err := w.writeDaemonHosts(hosts); err != nil {
		return err
	}
	off := filepath.Join(d.Dir, "apparmor-off")
	if err := os.WriteFile(off, []byte("N\n"), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(d.Log)
	if err != nil {
		return err
	}
	args := append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", privateMounts, "sh", hosts, etcDocker, off}, argv...)
	d.cmd = exec.Command("unshare", args...)
	d.cmd.Dir = d.Dir
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own environment only: no proxy settings, no DOCKER_* of ours.
	d.cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + d.Dir, "TMPDIR=" + d.Dir}
	d.cmd.SysProcAttr = dieWithParent()
	d.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the daemon
		defer logf.Close()
		if err := d.cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", d.Name, err)
			close(d.done)
			return
		}
		started <- nil
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	return <-started
}

// waitReady polls ready until it succeeds, the daemon exits or a minute
// passes.
func (d *Daemon) waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", d.Name, d.err, Lines(d.LogTail(30)))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after a minute: %v; its log:\n%s", d.Name, err, Lines(d.LogTail(30)))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTail is the last n lines of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return Redact(strings.Join(lines, "\n"))
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 20 s) and removes its
// directory unless keep is set.
func (d *Daemon) Stop(keep bool) {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
	if !keep {
		// dockerd leaves mounts (its vfs layers are plain directories, but
		// the exec root may hold a tmpfs) in its own namespace only, which
		// is gone now: the directory is removable.
		_ = os.RemoveAll(d.Dir)
	}
}

// StartDockerd starts Debian's dockerd (FIELD-NOTES §8): no iptables, no
// bridge, vfs storage, its data root, exec root, pid file, socket and
// config under a directory of its own, and the test CA in
// /etc/docker/certs.d/<host>/ca.crt for each trusted registry, in its
// own mount namespace. It reaches the registries at DaemonAddr.
func (w *World) StartDockerd(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, errors.New("dockerd is not installed: apt-get install docker.io (make deps-e2e does, as root)")
	}
	dir, err := daemonDir("dd")
	if err != nil {
		return nil, err
	}
	d := &Daemon{Name: "dockerd " + o.Name, Dir: dir, Log: filepath.Join(dir, "dockerd.log"), Host: "unix://" + filepath.Join(dir, "docker.sock")}
	etc := filepath.Join(dir, "etc-docker")
	ca, err := os.ReadFile(w.CAFile)
	if err != nil {
		return nil, err
	}
	for _, host := range o.Trusted {
		cd := filepath.Join(etc, "certs.d", host)
		if err := os.MkdirAll(cd, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cd, "ca.crt"), ca, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	argv := []string{bin,
		"--config-file", cfg,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--host", d.Host,
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--bridge=none", "--storage-driver=vfs",
	}
	if err := w.startDaemon(d, etc, argv); err != nil {
		return nil, err
	}
	sock := strings.TrimPrefix(d.Host, "unix://")
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	ping := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/_ping answered %s", resp.Status)
		}
		return nil
	}
	if err := d.waitReady(ctx, ping); err != nil {
		d.Stop(true)
		return nil, err
	}
	return d, nil
}

// StartBuildkitd starts buildkitd with the OCI worker (runc) and the
// native snapshotter, its state and socket under a directory of its own,
// and a config trusting the test CA for each trusted registry. It reaches
// the registries at DaemonAddr. Readiness is `buildctl debug workers`.
func (w *World) StartBuildkitd(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	for _, p := range []string{o.Buildkitd, o.Buildctl} {
		if p == "" {
			return nil, errors.New("no buildkitd or buildctl binary given (make buildkit-e2e builds them)")
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%v (make buildkit-e2e builds it)", err)
		}
	}
	dir, err := daemonDir("bk")
	if err != nil {
		return nil, err
	}
	d := &Daemon{Name: "buildkitd " + o.Name, Dir: dir, Log: filepath.Join(dir, "buildkitd.log"), Host: "unix://" + filepath.Join(dir, "buildkitd.sock")}
	var cfg strings.Builder
	cfg.WriteString("# Written by the test harness.\n[worker.oci]\n  enabled = true\n  snapshotter = \"native\"\n  gc = false\n[worker.containerd]\n  enabled = false\n")
	for _, host := range o.Trusted {
		fmt.Fprintf(&cfg, "[registry.%q]\n  ca = [%q]\n", host, w.CAFile)
	}
	cfgPath := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		return nil, err
	}
	argv := []string{o.Buildkitd,
		"--config", cfgPath,
		"--root", filepath.Join(dir, "root"),
		"--addr", d.Host,
	}
	if err := w.startDaemon(d, "", argv); err != nil {
		return nil, err
	}
	workers := func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, o.Buildctl, "--addr", d.Host, "debug", "workers").CombinedOutput()
		if err != nil {
			return fmt.Errorf("buildctl debug workers: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := d.waitReady(ctx, workers); err != nil {
		d.Stop(true)
		return nil, err
	}
	return d, nil
}

// InstallDockerPlugin links a docker CLI plugin (docker-buildx) into the
// user's $DOCKER_CONFIG/cli-plugins, where the docker CLI finds it.
func (u *User) InstallDockerPlugin(path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	dir := filepath.Join(u.Dir, "docker", "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	_ = os.Remove(dst)
	return os.Symlink(path, dst)
}
