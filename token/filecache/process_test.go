package filecache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The cross-process tests re-run this test binary as helper processes.
// FILECACHE_HELPER_PROCESS selects the child's role; the other variables
// carry its parameters.
const (
	envRole    = "FILECACHE_HELPER_PROCESS"
	envDir     = "FILECACHE_DIR"
	envCounter = "FILECACHE_COUNTER"
	envServer  = "FILECACHE_SERVER"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		if err := runHelper(role); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s (pid %d): %v\n", role, os.Getpid(), err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(role string) error {
	c := New(os.Getenv(envDir), Options{LockWait: 2 * time.Minute}) // hang guard only
	k := testKey(os.Getenv(envServer))
	ctx := context.Background()
	switch role {
	case "fetch-once":
		// Wait for the parent to release all children at once.
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		tok, err := fetchOnce(ctx, c, k, os.Getenv(envCounter))
		if err != nil {
			return err
		}
		fmt.Printf("token=%s\n", tok)
		return nil
	case "hold":
		// Take the lock, leave a half-written temp file as a crash in the
		// middle of a Put would, say so, and wait to be killed.
		if _, err := c.Lock(ctx, k); err != nil {
			return err
		}
		tmp := filepath.Join(c.Dir(), k.ID()+entrySuffix+".999.tmp")
		if err := os.WriteFile(tmp, []byte(`{"version":1,"kind":"acr_ref`), 0o600); err != nil {
			return err
		}
		fmt.Println("locked")
		_, err := io.Copy(io.Discard, os.Stdin) // the parent never closes it
		return err
	}
	return fmt.Errorf("unknown role %q", role)
}

// fetchOnce is the provider's protocol reduced to its essentials: take the
// lock, look, and only on a miss "fetch" (count it) and store.
func fetchOnce(ctx context.Context, c *Cache, k token.CacheKey, counter string) (string, error) {
	unlock, err := c.Lock(ctx, k)
	if err != nil {
		return "", err
	}
	defer unlock()
	if e, ok := c.Get(ctx, k); ok {
		return e.RefreshToken, nil
	}
	n := 0
	if b, err := os.ReadFile(counter); err == nil {
		if n, err = strconv.Atoi(string(b)); err != nil {
			return "", fmt.Errorf("counter file: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o600); err != nil {
		return "", err
	}
	// A fetch takes a while; give the others time to pile up on the lock.
	// Correctness does not depend on it.
	time.Sleep(20 * time.Millisecond)
	tok := fmt.Sprintf("token-from-pid-%d", os.Getpid())
	if err := c.Put(ctx, k, testEntry(k.LoginServer, tok, time.Now().Add(time.Hour))); err != nil {
		return "", err
	}
	return tok, nil
}

type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr strings.Builder
}

func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: exec.Command(exe, "-test.run=^$")}
	ch.cmd.Env = append(os.Environ(), append([]string{envRole + "=" + role}, env...)...)
	ch.cmd.Stderr = &ch.stderr
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ch.stdout = bufio.NewReader(out)
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ch.cmd.ProcessState == nil {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
	})
	return ch
}

// finish reads the child's token line and waits for it to exit.
func (ch *child) finish() (string, error) {
	out, _ := io.ReadAll(ch.stdout)
	if err := ch.cmd.Wait(); err != nil {
		return "", fmt.Errorf("%v: %s", err, ch.stderr.String())
	}
	tok, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "token=")
	if !ok {
		return "", fmt.Errorf("unexpected output %q", out)
	}
	return tok, nil
}

// runFetchers starts n fetch-once children, releases them together, and
// checks that exactly one fetched and that all answered with its token.
func runFetchers(t *testing.T, n int, dir, server string, started func()) string {
	t.Helper()
	counter := filepath.Join(t.TempDir(), "fetches")
	env := []string{envDir + "=" + dir, envCounter + "=" + counter, envServer + "=" + server}
	children := make([]*child, n)
	for i := range children {
		children[i] = startChild(t, "fetch-once", env...)
	}
	if started != nil {
		started()
	}
	for _, ch := range children {
		ch.stdin.Close()
	}
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, ch := range children {
		wg.Go(func() { tokens[i], errs[i] = ch.finish() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatalf("nobody fetched: %v", err)
	}
	if string(b) != "1" {
		t.Errorf("%d processes fetched %s times; want exactly once", n, b)
	}
	for i, tok := range tokens {
		if tok != tokens[0] {
			t.Errorf("child %d answered %q, child 0 %q", i, tok, tokens[0])
		}
	}
	return tokens[0]
}

func TestCrossProcessSingleFetch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	const server = "myreg.azurecr.io"
	tok := runFetchers(t, 32, dir, server, nil)
	if e, ok := New(dir, Options{}).Get(context.Background(), testKey(server)); !ok || e.RefreshToken != tok {
		t.Errorf("the parent reads %q, %v; want %q", e.RefreshToken, ok, tok)
	}
}

func TestCrossProcessKilledHolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	const server = "myreg.azurecr.io"
	k := testKey(server)
	holder := startChild(t, "hold", envDir+"="+dir, envServer+"="+server)
	line, err := holder.stdout.ReadString('\n')
	if err != nil || line != "locked\n" {
		_ = holder.cmd.Process.Kill()
		_ = holder.cmd.Wait()
		t.Fatalf("holder said %q, %v: %s", line, err, holder.stderr.String())
	}
	// The holder really has it.
	if u, err := New(dir, Options{LockWait: -1}).Lock(context.Background(), k); !errors.Is(err, ErrLockTimeout) {
		u()
		t.Fatalf("Lock while the holder lives: err = %v, want ErrLockTimeout", err)
	}
	// Waiters queue up behind the holder; killing it lets them through.
	runFetchers(t, 8, dir, server, func() {
		if err := holder.cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = holder.cmd.Wait()
	})
	u, err := New(dir, Options{LockWait: -1}).Lock(context.Background(), k)
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	u()
	// The dead holder's half-written temp file is cleaned up once stale.
	tmp := filepath.Join(dir, k.ID()+entrySuffix+".999.tmp")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	k2 := testKey("other.azurecr.io")
	if err := New(dir, Options{}).Put(context.Background(), k2, testEntry(k2.LoginServer, "t", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file left behind: %v", err)
	}
}

func TestCrossProcessBadFileReplaced(t *testing.T) {
	const server = "myreg.azurecr.io"
	k := testKey(server)
	valid := rawEntry(t, 1, k, "stale-but-valid", time.Now().Add(time.Hour))
	other := testKey(server)
	other.Tenant = "someone-else"
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("\x00garbage")},
		{"truncated", valid[:len(valid)*2/3]},
		{"unknown version", rawEntry(t, 9, k, "from-the-future", time.Now().Add(time.Hour))},
		{"foreign key", rawEntry(t, 1, other, "not-yours", time.Now().Add(time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			writeFile(t, filepath.Join(dir, k.ID()+entrySuffix), tt.data)
			tok := runFetchers(t, 8, dir, server, nil)
			if !strings.HasPrefix(tok, "token-from-pid-") {
				t.Errorf("children answered %q from the bad file", tok)
			}
			if e, ok := New(dir, Options{}).Get(context.Background(), k); !ok || e.RefreshToken != tok {
				t.Errorf("file not replaced: Get = %q, %v", e.RefreshToken, ok)
			}
		})
	}
}
