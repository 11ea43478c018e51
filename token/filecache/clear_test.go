package filecache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func TestEntriesShowKeysNotTokens(t *testing.T) {
	clock := newClock(t0)
	c := newTestCache(t, Options{Now: clock.Now})
	ctx := context.Background()
	a, b := testKey("b.azurecr.io"), testKey("a.azurecr.io")
	b.Tenant = ""
	for _, k := range []token.CacheKey{a, b} {
		if err := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	// An old-format file written by hand (version 1, the only one) reads too.
	old := testKey("c.azurecr.io")
	writeFile(t, entryPath(c, old), rawEntry(t, 1, old, secretToken, t0.Add(2*time.Hour)))
	// Expired entries are listed too (List leaves them out).
	clock.Set(t0.Add(90 * time.Minute))

	got, err := c.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Key != b || got[1].Key != a || got[2].Key != old || got[0].Source != "managed" || !got[2].ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("Entries = %+v", got)
	}
	assertNoSecret(t, "Entries", fmt.Sprintf("%+v", got))
}

func TestClearUnderLocks(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, server string
		removed      int
		left         int
	}{
		{"one registry", "A.azurecr.io", 1, 2},
		{"all", "", 3, 0},
		{"unknown", "z.azurecr.io", 0, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			// Another process's cache, which holds a.azurecr.io's lock for
			// the whole clear (a fetch in progress).
			other := New(dir, Options{})
			c := New(dir, Options{LockWait: -1})
			keys := []token.CacheKey{testKey("a.azurecr.io"), testKey("b.azurecr.io"), testKey("c.azurecr.io")}
			for _, k := range keys {
				if err := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, time.Now().Add(time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.PutNegative(ctx, "managed", time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			unlock := mustLock(t, other, keys[0])
			defer unlock()

			n, err := c.Clear(ctx, tt.server)
			if err != nil || n != tt.removed {
				t.Fatalf("Clear(%q) = %d, %v; want %d", tt.server, n, err, tt.removed)
			}
			entries, _ := c.Entries(ctx)
			if len(entries) != tt.left {
				t.Fatalf("%d entries left, want %d", len(entries), tt.left)
			}
			if got := c.GetNegative(ctx, "managed"); got != (tt.server != "") {
				t.Fatalf("negative record kept = %v after Clear(%q)", got, tt.server)
			}
			// The lock files stay, and the holder still holds its lock:
			// a newcomer cannot take it.
			for _, k := range keys {
				if _, err := os.Stat(filepath.Join(dir, k.ID()+lockSuffix)); err != nil && k == keys[0] {
					t.Fatalf("lock file of %s: %v", k.LoginServer, err)
				}
			}
			if u, err := c.Lock(ctx, keys[0]); err == nil {
				u()
				t.Fatal("after Clear a newcomer took the lock another process holds")
			}
		})
	}
}
