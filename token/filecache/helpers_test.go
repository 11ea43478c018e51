package filecache

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

// secretToken looks like a refresh token and must never show up in a log
// line or an error.
const secretToken = "eyJhbGciOiJSUzI1NiJ9.SECRET-REFRESH-TOKEN-PAYLOAD.c2ln"

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for expiry decisions.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// syncBuffer collects log output from many goroutines.
type syncBuffer = testkit.Buffer

func debugLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func testKey(server string) token.CacheKey {
	return token.CacheKey{LoginServer: server, Identity: "managed:client_id=1111", Tenant: "tenant-a", Scope: token.DefaultScope}
}

func testEntry(server, tok string, exp time.Time) token.Entry {
	return token.Entry{LoginServer: server, Source: "managed", RefreshToken: tok, IssuedAt: exp.Add(-3 * time.Hour), ExpiresAt: exp}
}

// newTestCache returns a cache in a directory that does not exist yet,
// under a private temp dir.
func newTestCache(t testing.TB, opts Options) *Cache {
	t.Helper()
	return New(filepath.Join(t.TempDir(), "cache"), opts)
}

func entryPath(c *Cache, k token.CacheKey) string {
	return filepath.Join(c.Dir(), k.ID()+entrySuffix)
}

// rawEntry builds an entry file by hand, independently of the code under
// test, so that format tests catch accidental format changes.
func rawEntry(t testing.TB, version int, k token.CacheKey, tok string, exp time.Time) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": version,
		"kind":    "acr_refresh_token",
		"key": map[string]string{
			"login_server": k.LoginServer, "identity": k.Identity, "tenant": k.Tenant, "scope": k.Scope,
		},
		"entry": map[string]any{
			"login_server": k.LoginServer, "source": "managed", "refresh_token": tok,
			"issued_at": exp.Add(-3 * time.Hour), "expires_at": exp,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertNoSecret(t testing.TB, what, s string) {
	t.Helper()
	if strings.Contains(s, secretToken) || strings.Contains(s, "SECRET-REFRESH") {
		t.Errorf("%s contains the refresh token: %s", what, s)
	}
}

func mustLock(t testing.TB, c *Cache, k token.CacheKey) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	unlock, err := c.Lock(ctx, k)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	return unlock
}
