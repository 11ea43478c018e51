package filecache

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// symlinkOrSkip makes link point to target, or skips where the test may
// not make links (Windows without the privilege or developer mode).
func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		if runtime.GOOS == "windows" {
			t.Skipf("cannot make a symbolic link here: %v", err)
		}
		t.Fatal(err)
	}
}

// TestCacheFilesAreNotReadThroughSymlinks: an entry or negative record
// replaced by a link to another file holding a valid one for the same key
// is a miss (with a debug line naming the path), is not listed, and is not
// pruned through; the next Put replaces the link itself and leaves its
// target as it was.
func TestCacheFilesAreNotReadThroughSymlinks(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	logger, logs := debugLogger()
	c := newTestCache(t, Options{Now: clk.Now, Logger: logger})
	k := testKey("myreg.azurecr.io")
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "the-cached-token", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := c.PutNegative(ctx, "managed", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	// Elsewhere: files that would be honoured if they were read, one of
	// them expired, so that pruning through the link would remove it.
	elsewhere := t.TempDir()
	linked := filepath.Join(elsewhere, "entry.json")
	linkedData := rawEntry(t, formatVersion, k, secretToken, t0.Add(2*time.Hour))
	writeFile(t, linked, linkedData)
	expired := filepath.Join(elsewhere, "expired.json")
	expiredData := rawEntry(t, formatVersion, testKey("other.azurecr.io"), secretToken, t0.Add(-time.Hour))
	writeFile(t, expired, expiredData)
	negPath := c.path(negativePrefix + negativeID("managed") + entrySuffix)
	negData, err := os.ReadFile(negPath)
	if err != nil {
		t.Fatal(err)
	}
	negLinked := filepath.Join(elsewhere, "negative.json")
	writeFile(t, negLinked, negData)

	path := entryPath(c, k)
	for _, p := range []string{path, negPath} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	symlinkOrSkip(t, linked, path)
	symlinkOrSkip(t, negLinked, negPath)
	symlinkOrSkip(t, expired, entryPath(c, testKey("other.azurecr.io")))

	if e, ok := c.Get(ctx, k); ok {
		t.Fatalf("Get read through the link: %+v", e)
	}
	if !strings.Contains(logs.String(), path) || !strings.Contains(logs.String(), "symbolic link") {
		t.Errorf("no debug line naming %s as a link:\n%s", path, logs)
	}
	if c.GetNegative(ctx, "managed") {
		t.Error("GetNegative read through the link")
	}
	if entries, err := c.List(ctx); err != nil || len(entries) != 0 {
		t.Errorf("List = %+v, %v; want nothing", entries, err)
	}

	// A Put replaces the link, not its target (rename(2) replaces the
	// name), and prunes nothing through the other link.
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "the-new-token", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("after Put, %s is %v, %v; want a regular file", path, fi.Mode(), err)
	}
	if e, ok := c.Get(ctx, k); !ok || e.RefreshToken != "the-new-token" {
		t.Fatalf("Get after Put = %+v, %v", e, ok)
	}
	for p, want := range map[string][]byte{linked: linkedData, expired: expiredData, negLinked: negData} {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("the link's target %s changed: %q, %v", p, got, err)
		}
	}
	assertNoSecret(t, "the log", logs.String())
}

// TestLockFileIsNotFollowed: a lock file replaced by a link neither
// creates nor locks the file it points to. Lock fails (the caller goes on
// without the lock, and fetches), and says which file.
func TestLockFileIsNotFollowed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no O_NOFOLLOW for the lock file: see lockFileFlags")
	}
	ctx := context.Background()
	c := newTestCache(t, Options{LockWait: -1})
	k := testKey("myreg.azurecr.io")
	unlock := mustLock(t, c, k) // creates the directory and the lock file
	unlock()
	lock := c.path(k.ID() + lockSuffix)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "created-through-the-link")
	symlinkOrSkip(t, target, lock)

	unlock, err := c.Lock(ctx, k)
	defer unlock()
	if err == nil {
		t.Fatal("Lock followed the link")
	}
	if errors.Is(err, ErrLockTimeout) || !strings.Contains(err.Error(), lock) {
		t.Errorf("err = %v; want it to name %s", err, lock)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
}
