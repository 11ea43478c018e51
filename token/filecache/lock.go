package filecache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// ErrLockTimeout is wrapped by Lock's error when another holder kept the
// lock for the whole wait. The caller should fetch for itself.
var ErrLockTimeout = errors.New("timed out waiting for the token cache lock")

// Polling bounds for the file lock. flock and LockFileEx cannot be
// interrupted by a context, so Lock polls a non-blocking attempt instead of
// parking a thread in the kernel that might take the lock after the caller
// has given up. Short first retries catch brief holds (a Put takes
// microseconds); the ceiling keeps a waiter's wake-up delay small next to
// the fetch it waited for.
const (
	pollFirst = time.Millisecond
	pollMax   = 20 * time.Millisecond
)

// keyLock serialises goroutines of this process on one key before they
// contend for the file lock. flock already excludes separate opens of the
// file within one process on Linux, macOS and Windows, but fcntl-emulated
// flock (NFS, some Unixes) does not, and a channel lets goroutines wait
// without polling.
type keyLock struct {
	ch   chan struct{}
	refs int
}

// Lock takes the advisory lock of key's entry, waiting no longer than the
// lesser of ctx and Options.LockWait. token.Provider gives it a ctx that
// ends at half the time left before its caller's deadline, so that a
// waiter behind a hung holder gives up with time to fetch for itself; the
// wait is never what spends a caller's whole budget. It creates the directory if needed,
// since a Put is about to follow. On error the returned unlock is a no-op,
// and the caller should go on without the lock. A timeout error matches
// both ErrLockTimeout and context.DeadlineExceeded (the latter for callers
// in package token, which cannot import this one): another holder was too
// slow, so look once more and then fetch. Any other error means the cache
// directory is unusable.
//
// The lock is released by unlock, or by the operating system when the
// holding process dies, so a crashed holder never blocks others for longer
// than it lived.
func (c *Cache) Lock(ctx context.Context, key token.CacheKey) (unlock func(), err error) {
	noop := func() {}
	if err := c.prepareDir(); err != nil {
		return noop, err
	}
	wait := c.lockWait
	if wait < 0 {
		wait = 0
	}
	if dl, ok := ctx.Deadline(); ok {
		wait = max(0, min(wait, time.Until(dl)))
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()

	id := key.ID()
	path := c.path(id + lockSuffix)
	release, err := c.lockInProcess(ctx, id)
	if err != nil {
		return noop, lockErr(ctx, key, path, wait, err)
	}
	fl := flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(lockFileFlags()))
	if err := pollLock(ctx, fl); err != nil {
		release()
		return noop, lockErr(ctx, key, path, wait, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := fl.Unlock(); err != nil {
				// The descriptor stays open, so the lock lasts until this
				// process exits; nothing more can be done.
				c.log.Warn("token cache: releasing the lock failed; other helper processes wait until this one exits", "file", path, "err", err)
			}
			release()
		})
	}, nil
}

func lockErr(ctx context.Context, key token.CacheKey, path string, wait time.Duration, err error) error {
	if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("token cache: locking %s for %s: %w; going on without the lock", path, key.LoginServer, err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("token cache: %w %s for %s: another docker-credential-acr process held it for the whole wait (%s); going on without it. If this repeats, look for a hung docker-credential-acr process: %w",
			ErrLockTimeout, path, key.LoginServer, wait.Round(time.Millisecond), ctx.Err())
	}
	return fmt.Errorf("token cache: gave up waiting for the lock %s for %s: %w", path, key.LoginServer, ctx.Err())
}

func pollLock(ctx context.Context, fl *flock.Flock) error {
	delay := pollFirst
	var timer *time.Timer
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, pollMax)
	}
}

func (c *Cache) lockInProcess(ctx context.Context, id string) (release func(), err error) {
	c.mu.Lock()
	kl := c.keyLocks[id]
	if kl == nil {
		kl = &keyLock{ch: make(chan struct{}, 1)}
		c.keyLocks[id] = kl
	}
	kl.refs++
	c.mu.Unlock()

	drop := func() {
		c.mu.Lock()
		kl.refs--
		if kl.refs == 0 {
			delete(c.keyLocks, id)
		}
		c.mu.Unlock()
	}
	release = func() { <-kl.ch; drop() }
	// Try first without waiting, so that a zero wait still gets a free lock
	// (select picks at random among ready cases).
	select {
	case kl.ch <- struct{}{}:
		return release, nil
	default:
	}
	select {
	case kl.ch <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}
