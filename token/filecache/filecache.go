package filecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Defaults for Options.
const (
	DefaultLockWait       = 30 * time.Second
	DefaultMaxNegativeTTL = 5 * time.Minute
)

// Pruning limits: a Put looks at no more than pruneScan names, so a huge
// or hostile directory cannot make a write slow.
const (
	pruneScan = 256
	// staleTemp is how old a temp file must be before it counts as left by
	// a crashed writer; a live write takes microseconds.
	staleTemp = 10 * time.Minute
	// staleCorrupt is how old an unreadable file of ours must be before
	// pruning removes it even though no Put for its key came along.
	staleCorrupt = 24 * time.Hour
)

// Options configure a Cache. The zero value is usable.
type Options struct {
	// Logger receives debug notes and the warning about an unsafe
	// directory. Nil discards. Nothing secret is ever logged.
	Logger *slog.Logger
	// Now is the clock for expiry decisions; nil means time.Now. File ages
	// (stale temp files) always use the wall clock, since the filesystem
	// stamps them with it.
	Now func() time.Time
	// LockWait bounds how long Lock waits for another process; the
	// caller's context can only shorten it. Zero means DefaultLockWait; a
	// negative value means one attempt without waiting.
	LockWait time.Duration
	// MaxNegativeTTL is the longest a negative record is honoured,
	// whatever "until" PutNegative was given, so that a mistaken caller or
	// a clock change cannot make a machine fail fast for long. Zero means
	// DefaultMaxNegativeTTL.
	MaxNegativeTTL time.Duration
	// DirSetting names how the user chooses the directory (for the
	// command-line helper, its environment variable): errors that another
	// directory would fix say to set it. "" makes them say to use another
	// directory.
	DirSetting string
}

// Cache is a token.Cache on disk. It is safe for concurrent use by
// goroutines and by processes sharing the directory.
type Cache struct {
	dir      string
	log      *slog.Logger
	now      func() time.Time
	lockWait time.Duration
	// dirSetting is Options.DirSetting.
	dirSetting string
	maxNeg     time.Duration

	verdict  atomic.Int32
	warnOnce sync.Once

	mu       sync.Mutex
	keyLocks map[string]*keyLock
}

var _ token.Cache = (*Cache)(nil)

// New returns a cache in dir. It touches nothing on disk: the directory is
// examined on first use and created on first write. An empty dir gives a
// cache that misses and refuses writes.
func New(dir string, opts Options) *Cache {
	c := &Cache{
		log:        opts.Logger,
		now:        opts.Now,
		lockWait:   opts.LockWait,
		maxNeg:     opts.MaxNegativeTTL,
		keyLocks:   map[string]*keyLock{},
		dirSetting: opts.DirSetting,
	}
	if dir != "" {
		c.dir = filepath.Clean(dir)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.lockWait == 0 {
		c.lockWait = DefaultLockWait
	}
	if c.maxNeg <= 0 {
		c.maxNeg = DefaultMaxNegativeTTL
	}
	return c
}

// Dir returns the directory the cache uses.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(name string) string {
	return c.dir + string(os.PathSeparator) + name
}

// Get returns the entry for key if its file is intact, belongs to key and
// has not expired. Refresh margins are the caller's business: Get only
// guarantees never to return an expired token.
func (c *Cache) Get(ctx context.Context, key token.CacheKey) (token.Entry, bool) {
	if ctx.Err() != nil || !c.readable() {
		return token.Entry{}, false
	}
	name := key.ID() + entrySuffix
	data, _, err := readCapped(c.path(name), false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("token cache: entry unreadable, treating as a miss", "path", c.path(name), "err", err)
		}
		return token.Entry{}, false
	}
	f, err := decodeEntry(data)
	if err == nil && f.Key != keyOf(key) {
		err = errForeign
	}
	if err != nil {
		c.log.Debug("token cache: ignoring entry, the next fetch replaces it", "file", name, "reason", err)
		return token.Entry{}, false
	}
	if !f.Entry.ExpiresAt.After(c.now()) {
		return token.Entry{}, false
	}
	return f.Entry, true
}

// Put stores e under key, atomically: readers see the old file or the new
// one, never a mix. It refuses entries without a future expiry, since a
// token whose lifetime is unknown must not be kept as if it lived forever.
// It then prunes expired entries and stale temp files, best effort.
func (c *Cache) Put(ctx context.Context, key token.CacheKey, e token.Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("token cache: not storing the token for %s: %w", key.LoginServer, err)
	}
	now := c.now()
	switch {
	case key.LoginServer == "":
		return errors.New("token cache: not storing a token under a key without a login server (a bug in the caller)")
	case e.RefreshToken == "":
		return fmt.Errorf("token cache: not storing an empty refresh token for %s", key.LoginServer)
	case e.ExpiresAt.IsZero():
		return fmt.Errorf("token cache: not storing the token for %s: it has no expiry, so how long it stays valid is unknown", key.LoginServer)
	case !e.ExpiresAt.After(now):
		return fmt.Errorf("token cache: not storing the token for %s: it expired at %s", key.LoginServer, e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if e.LoginServer == "" {
		e.LoginServer = key.LoginServer
	} else if !strings.EqualFold(e.LoginServer, key.LoginServer) {
		return fmt.Errorf("token cache: not storing a token for %s under the key of %s (a bug in the caller)", e.LoginServer, key.LoginServer)
	}
	data, err := json.Marshal(entryFile{Version: formatVersion, Kind: kindEntry, Key: keyOf(key), Entry: e})
	if err != nil {
		return fmt.Errorf("token cache: encoding the entry for %s: %w", key.LoginServer, err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("token cache: not storing the token for %s: the entry would be %d bytes, over the %d-byte limit", key.LoginServer, len(data), maxFileSize)
	}
	if err := c.prepareDir(); err != nil {
		return err
	}
	if err := c.writeAtomic(key.ID()+entrySuffix, data); err != nil {
		return err
	}
	c.prune(now)
	return nil
}

// writeAtomic writes data under name through a temp file in the same
// directory and a rename.
//
// There is deliberately no fsync. The file is a cache that every reader
// validates: after a power loss the worst outcome is an empty or torn file,
// which reads as a miss and costs one token exchange. An fsync, by
// contrast, would be paid while holding the entry's lock, and on busy CI
// disks it can take tens to hundreds of milliseconds that every waiting
// process would sit through.
func (c *Cache) writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(c.dir, name+".*"+tempSuffix) // mode 0600, O_EXCL
	if err != nil {
		return fmt.Errorf("token cache: creating a temp file in %s: %w; tokens are not cached. Make the directory writable or %s", c.dir, err, c.another("a writable one"))
	}
	tmpName := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("token cache: writing %s: %w; tokens are not cached (is the disk full?)", tmpName, errors.Join(werr, cerr))
	}
	if err := renameReplace(tmpName, c.path(name)); err != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("token cache: replacing %s: %w; the previous entry stays", c.path(name), err)
	}
	return nil
}

// renameReplace is os.Rename, retried briefly on Windows, where replacing a
// file fails while another process has it open for reading; elsewhere a
// failed rename does not heal by waiting.
func renameReplace(from, to string) error {
	err := os.Rename(from, to)
	for i := 1; err != nil && runtime.GOOS == "windows" && i <= 5; i++ {
		time.Sleep(time.Duration(i) * 5 * time.Millisecond)
		err = os.Rename(from, to)
	}
	return err
}

// Delete removes every entry whose key names loginServer (compared without
// regard to case), each under its lock. Lock files stay: see the package
// documentation.
func (c *Cache) Delete(ctx context.Context, loginServer string) error {
	if loginServer == "" {
		return nil
	}
	_, err := c.Clear(ctx, loginServer)
	return err
}

// List returns the unexpired entries, ordered by login server and then
// expiry.
func (c *Cache) List(ctx context.Context) ([]token.Entry, error) {
	now := c.now()
	var out []token.Entry
	err := c.scanEntries(ctx, func(_ string, f entryFile) {
		if f.Entry.ExpiresAt.After(now) {
			out = append(out, f.Entry)
		}
	})
	slices.SortFunc(out, func(a, b token.Entry) int {
		if c := strings.Compare(a.LoginServer, b.LoginServer); c != 0 {
			return c
		}
		return a.ExpiresAt.Compare(b.ExpiresAt)
	})
	return out, err
}

// scanEntries calls fn for every intact entry file whose name matches its
// key. A directory that does not exist or must not be used holds nothing.
func (c *Cache) scanEntries(ctx context.Context, fn func(name string, f entryFile)) error {
	if !c.readable() {
		return nil
	}
	names, err := c.readNames(-1)
	if err != nil {
		return fmt.Errorf("token cache: listing %s: %w", c.dir, err)
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		kind, id := classifyName(name)
		if kind != entryName {
			continue
		}
		data, _, err := readCapped(c.path(name), false)
		if err != nil {
			continue
		}
		f, err := decodeEntry(data)
		if err != nil || f.Key.cacheKey().ID() != id {
			continue
		}
		fn(name, f)
	}
	return nil
}

func (c *Cache) readNames(n int) ([]string, error) {
	d, err := os.Open(c.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil // an empty directory
	}
	return names, err
}

// GetNegative reports whether a negative record for sourceSet is in force:
// before its until, no older than MaxNegativeTTL, and not written in the
// future (which would mean the clock went back).
func (c *Cache) GetNegative(ctx context.Context, sourceSet string) bool {
	if ctx.Err() != nil || !c.readable() {
		return false
	}
	data, _, err := readCapped(c.path(negativePrefix+negativeID(sourceSet)+entrySuffix), false)
	if err != nil {
		return false
	}
	f, err := decodeNegative(data)
	if err != nil || f.SourceSet != sourceSet {
		return false
	}
	return c.negativeLive(f, c.now())
}

// clockSlack tolerates records written a moment "after" now by another
// process whose clock reading came later than ours.
const clockSlack = time.Second

func (c *Cache) negativeLive(f negativeFile, now time.Time) bool {
	until := f.Until
	if limit := f.WrittenAt.Add(c.maxNeg); limit.Before(until) {
		until = limit
	}
	return now.Before(until) && !f.WrittenAt.After(now.Add(clockSlack))
}

// PutNegative records that no source in sourceSet was available, until
// the given time, or for MaxNegativeTTL if that is sooner. An until that is
// not in the future clears the record.
func (c *Cache) PutNegative(ctx context.Context, sourceSet string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("token cache: not recording the absence of an identity: %w", err)
	}
	name := negativePrefix + negativeID(sourceSet) + entrySuffix
	now := c.now()
	if !until.After(now) {
		if !c.readable() {
			return nil // nothing we would read back, so nothing to clear
		}
		if err := os.Remove(c.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("token cache: clearing the record that no identity is available: %w", err)
		}
		return nil
	}
	if limit := now.Add(c.maxNeg); until.After(limit) {
		until = limit
	}
	data, err := json.Marshal(negativeFile{Version: formatVersion, Kind: kindNegative, SourceSet: sourceSet, WrittenAt: now, Until: until})
	if err != nil {
		return fmt.Errorf("token cache: encoding the negative record: %w", err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("token cache: not recording the absence of an identity: the source set is %d bytes long", len(sourceSet))
	}
	if err := c.prepareDir(); err != nil {
		return err
	}
	if err := c.writeAtomic(name, data); err != nil {
		return err
	}
	c.prune(now)
	return nil
}

// prune removes, among the first pruneScan names, expired entries and
// negative records, temp files left by crashed writers, and our own files
// that have been unreadable for a day. Files in a format version we do not
// know are left for the helper that wrote them; lock files are never
// removed.
func (c *Cache) prune(now time.Time) {
	names, err := c.readNames(pruneScan)
	if err != nil {
		c.log.Debug("token cache: not pruning", "dir", c.dir, "err", err)
		return
	}
	wall := time.Now()
	for _, name := range names {
		kind, _ := classifyName(name)
		p := c.path(name)
		switch kind {
		case tempName:
			if fi, err := os.Lstat(p); err == nil && wall.Sub(fi.ModTime()) > staleTemp {
				c.remove(p, "stale temp file")
			}
		case entryName, negativeName:
			data, fi, err := readCapped(p, true)
			if err != nil {
				continue
			}
			var expired bool
			if kind == entryName {
				var f entryFile
				f, err = decodeEntry(data)
				expired = err == nil && !f.Entry.ExpiresAt.After(now)
			} else {
				var f negativeFile
				f, err = decodeNegative(data)
				expired = err == nil && !c.negativeLive(f, now)
			}
			corruptAndOld := errors.Is(err, errCorrupt) && wall.Sub(fi.ModTime()) > staleCorrupt
			if !expired && !corruptAndOld {
				continue
			}
			// Only remove the file we examined: a concurrent Put may
			// have renamed a fresh entry over it since.
			if cur, err := os.Lstat(p); err == nil && os.SameFile(fi, cur) {
				c.remove(p, "expired or unreadable entry")
			}
		}
	}
}

func (c *Cache) remove(path, why string) {
	if err := os.Remove(path); err == nil {
		c.log.Debug("token cache: pruned "+why, "file", filepath.Base(path))
	}
}
