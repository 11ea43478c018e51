package filecache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Entries describes every intact entry, expired or not, ordered by login
// server and then expiry. It never returns a token: the key (login server,
// identity, tenant, scope) and the times are what the file stores beside
// it.
func (c *Cache) Entries(ctx context.Context) ([]token.CachedEntry, error) {
	var out []token.CachedEntry
	err := c.scanEntries(ctx, func(_ string, f entryFile) {
		out = append(out, token.CachedEntry{Key: f.Key.cacheKey(), Source: f.Entry.Source,
			IssuedAt: f.Entry.IssuedAt, ExpiresAt: f.Entry.ExpiresAt})
	})
	slices.SortFunc(out, func(a, b token.CachedEntry) int {
		if c := strings.Compare(a.Key.LoginServer, b.Key.LoginServer); c != 0 {
			return c
		}
		return a.ExpiresAt.Compare(b.ExpiresAt)
	})
	return out, err
}

// Clear removes the entries of loginServer (compared without regard to
// case), or with "" every entry and every negative record, and returns how
// many entries it removed. Each entry is removed under its lock, so a
// process that is fetching that token finishes first (and its fresh token
// is removed too); lock files stay, see the package documentation. A lock
// that cannot be had within the wait does not stop the removal: deleting
// the entry's file never disturbs the lock's holder.
func (c *Cache) Clear(ctx context.Context, loginServer string) (int, error) {
	var errs []error
	var keys []token.CacheKey
	scanErr := c.scanEntries(ctx, func(_ string, f entryFile) {
		if loginServer == "" || strings.EqualFold(f.Key.LoginServer, loginServer) {
			keys = append(keys, f.Key.cacheKey())
		}
	})
	removed := 0
	for _, k := range keys {
		unlock, err := c.Lock(ctx, k)
		if err != nil {
			c.log.Debug("token cache: removing an entry without its lock", "registry", k.LoginServer, "err", err)
		}
		err = os.Remove(c.path(k.ID() + entrySuffix))
		unlock()
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if loginServer == "" && c.readable() {
		names, err := c.readNames(-1)
		if err != nil {
			errs = append(errs, err)
		}
		for _, name := range names {
			if kind, _ := classifyName(name); kind == negativeName {
				if err := os.Remove(c.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) > 0 {
		what := "cached tokens"
		if loginServer != "" {
			what += " of " + loginServer
		}
		return removed, fmt.Errorf("token cache: removing %s in %s: %w; check the directory's permissions or remove the .json files by hand (never the .lock files)", what, c.dir, errors.Join(errs...))
	}
	return removed, scanErr
}
