//go:build unix

package filecache

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFIFOAtCacheNamesDoesNotBlock: a FIFO planted at an entry's name, at
// a negative record's and at the lock file's would block an ordinary open
// for ever, whatever the caller's deadline. Each is a miss or an error,
// and returns. The 10 s bound is a hang detector, not a speed goal.
func TestFIFOAtCacheNamesDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{})
	k := testKey("myreg.azurecr.io")
	if err := os.MkdirAll(c.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		k.ID() + entrySuffix,
		negativePrefix + negativeID("managed") + entrySuffix,
		k.ID() + lockSuffix,
	} {
		if err := syscall.Mkfifo(c.path(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if e, ok := c.Get(ctx, k); ok {
			t.Errorf("a FIFO was read as an entry: %+v", e)
		}
		if c.GetNegative(ctx, "managed") {
			t.Error("a FIFO was read as a negative record")
		}
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if unlock, err := c.Lock(lctx, k); err == nil {
			unlock()
		}
		if _, err := c.Entries(ctx); err != nil {
			t.Logf("Entries: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the cache blocked on a FIFO in %s", filepath.Dir(c.path("x")))
	}
	if fi, err := os.Lstat(c.path(k.ID() + entrySuffix)); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO at the entry's name was changed: %v, %v", fi, err)
	}
}
