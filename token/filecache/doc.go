// Package filecache keeps ACR refresh tokens on disk, one file per entry,
// with per-entry advisory locks so that concurrent processes fetch each
// token once.
//
// # Layout
//
// All files live directly in one directory (New's dir; see DefaultDir):
//
//	<id>.json                   one cached refresh token; id is token.CacheKey.ID()
//	<id>.lock                   the advisory lock for that entry (empty, kept)
//	negative-<digest>.json      "no identity source available" for a source set
//	<name>.<random>.tmp         a write in progress (or left by a crashed writer)
//
// # Format
//
// Entry files are JSON:
//
//	{"version":1,"kind":"acr_refresh_token",
//	 "key":{"login_server":"…","identity":"…","tenant":"…","scope":"…"},
//	 "entry":{"login_server":"…","source":"…","refresh_token":"…",
//	          "issued_at":"…","expires_at":"…"}}
//
// The key is stored in full and compared on every read, so a file that was
// copied, renamed or produced by a colliding digest is never served for the
// wrong identity. A file that is not valid JSON, has another version or
// kind, belongs to another key, exceeds 64 KiB, or has expired is a miss;
// the next Put for that key replaces it.
//
// # Safety
//
// The directory is created 0700 on the first write (never by a read) and
// files are 0600. On Unix an existing directory that is group- or
// world-writable or owned by another user is not used at all: anyone who can
// write there could plant a token of their choosing for us to hand to
// docker, or remove ours. A warning says so and the helper runs uncached.
//
// # Locks
//
// Lock files are never deleted. flock and LockFileEx lock an open file, not
// a name: if a lock file were unlinked while a waiter had it open, the
// waiter would get a lock on the orphaned file while a newcomer locks a
// freshly created one, and both would think they hold the lock. Keeping
// the files costs one empty file per cache key ever used.
package filecache
