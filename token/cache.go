package token

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// CacheKey identifies one refresh token: two identities, tenants or scopes
// never share an entry.
type CacheKey struct {
	LoginServer string
	// Identity is the ordered list of source identities that select who we
	// authenticate as (Source.Identity joined by ","), plus any
	// configuration that changes the identity.
	Identity string
	Tenant   string
	Scope    string
}

// ID is a stable, filesystem-safe digest of the key.
func (k CacheKey) ID() string {
	h := sha256.Sum256([]byte(strings.Join([]string{"v1", k.LoginServer, k.Identity, k.Tenant, k.Scope}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// Entry is a cached ACR refresh token.
type Entry struct {
	LoginServer  string    `json:"login_server"`
	Source       string    `json:"source"` // the source that produced it, e.g. "managed"
	RefreshToken string    `json:"refresh_token"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Cache stores refresh tokens between invocations.
//
// Implementations must be safe for concurrent use by goroutines and, for
// persistent caches, by processes.
type Cache interface {
	// Get returns the entry for key. A missing, unreadable, corrupt or
	// foreign entry is a miss (ok false), never an error.
	Get(ctx context.Context, key CacheKey) (e Entry, ok bool)
	// Put stores e under key. Errors are for logging only: callers go on
	// without a cache.
	Put(ctx context.Context, key CacheKey, e Entry) error
	// Lock takes the cross-process lock for key, waiting at most until
	// ctx is done. The returned unlock releases it. Callers that cannot
	// get the lock go on without it.
	Lock(ctx context.Context, key CacheKey) (unlock func(), err error)
	// Delete removes every entry for the login server. No entries is not
	// an error.
	Delete(ctx context.Context, loginServer string) error
	// List returns the unexpired entries.
	List(ctx context.Context) ([]Entry, error)
	// GetNegative reports whether "no identity source is available" was
	// recorded for sourceSet and has not yet lapsed.
	GetNegative(ctx context.Context, sourceSet string) bool
	// PutNegative records that no identity source in sourceSet was
	// available, until the given time.
	PutNegative(ctx context.Context, sourceSet string, until time.Time) error
}

// NoCache is a Cache that remembers nothing: every Get misses and Lock is
// free. Use it to turn caching off.
type NoCache struct{}

func (NoCache) Get(context.Context, CacheKey) (Entry, bool)          { return Entry{}, false }
func (NoCache) Put(context.Context, CacheKey, Entry) error           { return nil }
func (NoCache) Lock(context.Context, CacheKey) (func(), error)       { return func() {}, nil }
func (NoCache) Delete(context.Context, string) error                 { return nil }
func (NoCache) List(context.Context) ([]Entry, error)                { return nil, nil }
func (NoCache) GetNegative(context.Context, string) bool             { return false }
func (NoCache) PutNegative(context.Context, string, time.Time) error { return nil }

// CachedEntry describes one cached refresh token without the token: what a
// listing may show.
type CachedEntry struct {
	Key       CacheKey
	Source    string
	IssuedAt  time.Time
	ExpiresAt time.Time
}
