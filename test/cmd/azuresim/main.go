// Command azuresim runs the simulated Azure with real registries in a
// private network namespace, under the real host names.
//
//	azuresim demo  -helper bin/docker-credential-acr -crane test/.bin/crane [-buildkitd PATH -buildctl PATH] [-delay 200ms]
//	    tells the story of `make demo` and exits non-zero if a step fails
//	    (without BuildKit, its step says so and is skipped).
//	azuresim shell -helper bin/docker-credential-acr -crane test/.bin/crane [-delay 200ms] [command...]
//	    starts the world and runs command (default: $SHELL) as a user on a
//	    VM with a managed identity, with docker and containers tools set up
//	    to use the helper; `$AZURESIM stats` prints the simulator's counts.
//	    -delay D makes every TLS handshake and every answer of the
//	    simulated Azure wait D, as a stand-in for real round trips.
//	azuresim stats [-json]
//	    inside that shell: what the simulator saw so far ($AZURESIM_CONTROL).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

func main() {
	harness.MaybeRunFakeAz()
	if len(os.Args) >= 2 && os.Args[1] == "stats" {
		os.Exit(stats(os.Args[2:]))
	}
	if len(os.Args) < 2 || (os.Args[1] != "demo" && os.Args[1] != "shell") {
		fmt.Fprintln(os.Stderr, "usage: azuresim demo|shell -helper PATH -crane PATH [-delay D] [command...] | azuresim stats [-json]")
		os.Exit(2)
	}
	if !harness.InNamespace() {
		code, err := harness.Reexec()
		if err != nil {
			fmt.Fprintln(os.Stderr, "azuresim:", err)
			os.Exit(1)
		}
		os.Exit(code)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	helper := fs.String("helper", "bin/docker-credential-acr", "the docker-credential-acr binary")
	crane := fs.String("crane", "test/.bin/crane", "the crane binary (make deps-e2e builds it)")
	delay := fs.Duration("delay", 0, "delay every TLS handshake and every answer of the simulated Azure by this much, e.g. 200ms (a stand-in for real round trips)")
	buildkitd := fs.String("buildkitd", "", "the buildkitd binary for the demo's BuildKit step (make buildkit-e2e builds it; none: the step is skipped)")
	buildctl := fs.String("buildctl", "", "the buildctl binary for that step")
	_ = fs.Parse(os.Args[2:])
	var err error
	if *helper, err = filepath.Abs(*helper); err != nil {
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		os.Exit(1)
	}
	if *crane, err = filepath.Abs(*crane); err != nil {
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		os.Exit(1)
	}
	if os.Args[1] == "demo" {
		os.Exit(demo(*helper, *crane, *buildkitd, *buildctl, *delay))
	}
	os.Exit(shell(*helper, *crane, *delay, fs.Args()))
}

// startWorld sets up the namespace and starts the simulator and registries.
func startWorld(helper, crane string, delay time.Duration) (*harness.World, string, error) {
	for _, p := range []string{helper, crane} {
		if _, err := os.Stat(p); err != nil {
			return nil, "", fmt.Errorf("%s is missing: run `make build deps-e2e` first", p)
		}
	}
	dir, err := os.MkdirTemp("", "azuresim-")
	if err != nil {
		return nil, "", err
	}
	regs := []string{harness.Registry1, harness.Registry2}
	if err := harness.SetupNamespace(dir, harness.NamespaceHosts(regs)); err != nil {
		return nil, dir, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, dir, err
	}
	logf, err := os.Create(filepath.Join(dir, "world.log"))
	if err != nil {
		return nil, dir, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := harness.Start(ctx, harness.Options{Dir: dir, Registries: regs, Helper: helper, Crane: crane, FakeAzExe: self, Log: logf, Delay: delay})
	return w, dir, err
}

func shell(helper, crane string, delay time.Duration, args []string) int {
	w, dir, err := startWorld(helper, crane, delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer w.Close()
	u, err := w.NewUser(harness.UserOptions{Name: "you", FakeAz: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		return 1
	}
	defer u.Close()
	if len(args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		args = []string{sh}
		fmt.Fprintf(os.Stderr, "azuresim: simulated Azure and registries %s, %s are up in this namespace.\n"+
			"azuresim: you are a VM with a managed identity (DOCKER_CREDENTIAL_ACR_SOURCES=managed); try: crane ls %s/hello\n"+
			"azuresim: what the simulated Azure saw: $AZURESIM stats   (exit the shell to stop everything)\n",
			harness.Registry1, harness.Registry2, harness.Registry1)
	}
	cmd := u.Command(context.Background(), args[0], args[1:]...)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		return 1
	}
	cmd.Env = append(cmd.Env, "AZURESIM_CONTROL="+w.ControlAddr, "AZURESIM="+self, "PS1=azuresim$ ")
	if t := os.Getenv("TERM"); t != "" {
		cmd.Env = append(cmd.Env, "TERM="+t)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		return 1
	}
	return 0
}

// stats prints what the simulator of the enclosing `azuresim shell` saw.
func stats(args []string) int {
	fs := flag.NewFlagSet("stats", flag.ExitOnError)
	asJSON := fs.Bool("json", false, "print the full record as JSON")
	_ = fs.Parse(args)
	addr := os.Getenv("AZURESIM_CONTROL")
	if addr == "" {
		fmt.Fprintln(os.Stderr, "azuresim stats: AZURESIM_CONTROL is not set: run this inside `azuresim shell`")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := azuresim.FetchStats(ctx, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azuresim stats:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	fmt.Print(st.CountSummary())
	for _, e := range st.Exchanges {
		fmt.Printf("  exchange %s %s for %s: %d %s\n", e.Time.Format("15:04:05.000"), e.Host, e.Identity, e.Status, e.Error)
	}
	return 0
}

// story writes the demo's output.
type story struct {
	out    io.Writer
	failed []string
}

func (s *story) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

func (s *story) fail(step, why string) {
	s.failed = append(s.failed, step)
	s.printf("   ✗ %s\n%s\n", step, harness.Lines(why))
}
