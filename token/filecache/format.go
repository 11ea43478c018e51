package filecache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

const (
	formatVersion = 1

	kindEntry    = "acr_refresh_token"
	kindNegative = "no_identity"

	// maxFileSize bounds what a read may allocate: a refresh token is a few
	// KiB, so anything near this is not ours.
	maxFileSize = 64 << 10

	entrySuffix    = ".json"
	lockSuffix     = ".lock"
	tempSuffix     = ".tmp"
	negativePrefix = "negative-"

	// idLen is the length of token.CacheKey.ID() and of negative digests.
	idLen = 32
)

// Why a file was not used. The messages are fixed so that nothing read from
// a file (which may hold a token) ever reaches a log line or an error.
var (
	errCorrupt  = errors.New("not a valid cache file (corrupt or truncated)")
	errTooLarge = fmt.Errorf("larger than %d bytes, so not a cache file", maxFileSize)
	errVersion  = errors.New("written in another format version (another docker-credential-acr version)")
	errForeign  = errors.New("holds an entry for a different cache key")
	// errSymlink: a cache file is never read through a link, which could
	// hand out a token the link's target holds without an exchange.
	errSymlink = errors.New("is a symbolic link (or another reparse point), which the cache never follows")
	// errNotRegular: a FIFO, device or directory where a cache file
	// should be, which could block a read or feed it without end.
	errNotRegular = errors.New("is not a regular file, so not a cache file")
)

type fileKey struct {
	LoginServer string `json:"login_server"`
	Identity    string `json:"identity"`
	Tenant      string `json:"tenant"`
	Scope       string `json:"scope"`
}

func keyOf(k token.CacheKey) fileKey {
	return fileKey{LoginServer: k.LoginServer, Identity: k.Identity, Tenant: k.Tenant, Scope: k.Scope}
}

func (k fileKey) cacheKey() token.CacheKey {
	return token.CacheKey{LoginServer: k.LoginServer, Identity: k.Identity, Tenant: k.Tenant, Scope: k.Scope}
}

type entryFile struct {
	Version int         `json:"version"`
	Kind    string      `json:"kind"`
	Key     fileKey     `json:"key"`
	Entry   token.Entry `json:"entry"`
}

type negativeFile struct {
	Version   int       `json:"version"`
	Kind      string    `json:"kind"`
	SourceSet string    `json:"source_set"`
	WrittenAt time.Time `json:"written_at"`
	Until     time.Time `json:"until"`
}

// decodeEntry parses an entry file and checks that it is complete. It does
// not check the key or the expiry: callers differ in what they compare.
func decodeEntry(data []byte) (entryFile, error) {
	var f entryFile
	if err := unmarshalFile(data, &f, &f.Version); err != nil {
		return entryFile{}, err
	}
	if f.Kind != kindEntry || f.Entry.RefreshToken == "" || f.Entry.ExpiresAt.IsZero() ||
		f.Key.LoginServer == "" || !strings.EqualFold(f.Entry.LoginServer, f.Key.LoginServer) {
		return entryFile{}, errCorrupt
	}
	return f, nil
}

func decodeNegative(data []byte) (negativeFile, error) {
	var f negativeFile
	if err := unmarshalFile(data, &f, &f.Version); err != nil {
		return negativeFile{}, err
	}
	if f.Kind != kindNegative || f.Until.IsZero() || f.WrittenAt.IsZero() {
		return negativeFile{}, errCorrupt
	}
	return f, nil
}

// unmarshalFile decodes a cache file into f and checks the format version
// it read into *version (f's own Version field).
func unmarshalFile(data []byte, f any, version *int) error {
	if err := json.Unmarshal(data, f); err != nil {
		return classifyUndecodable(data)
	}
	if *version != formatVersion {
		return errVersion
	}
	return nil
}

// classifyUndecodable tells a file from a future format (which a newer
// helper sharing the directory may still want, so pruning leaves it alone)
// from plain garbage.
func classifyUndecodable(data []byte) error {
	var v struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(data, &v) == nil && v.Version != formatVersion && v.Version != 0 {
		return errVersion
	}
	return errCorrupt
}

// negativeID names the negative-cache file of a source set. The prefix
// keeps it from ever colliding with an entry's ID.
func negativeID(sourceSet string) string {
	h := sha256.Sum256([]byte("negative\x00v1\x00" + sourceSet))
	return hex.EncodeToString(h[:idLen/2])
}

func isHexID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

type fileKind int

const (
	notOurs fileKind = iota
	entryName
	negativeName
	lockName
	tempName
)

// classifyName recognises our own file names exactly, so that pruning never
// touches a file it did not write even if the directory is shared.
func classifyName(name string) (fileKind, string) {
	switch {
	case strings.HasSuffix(name, tempSuffix):
		// <entry or negative name>.<random>.tmp, as os.CreateTemp makes it.
		i := strings.Index(name, entrySuffix+".")
		if i < 0 {
			return notOurs, ""
		}
		if k, _ := classifyName(name[:i+len(entrySuffix)]); k == entryName || k == negativeName {
			return tempName, ""
		}
		return notOurs, ""
	case strings.HasSuffix(name, lockSuffix):
		if id := strings.TrimSuffix(name, lockSuffix); isHexID(id) {
			return lockName, id
		}
	case strings.HasSuffix(name, entrySuffix):
		base := strings.TrimSuffix(name, entrySuffix)
		if isHexID(base) {
			return entryName, base
		}
		if id, ok := strings.CutPrefix(base, negativePrefix); ok && isHexID(id) {
			return negativeName, id
		}
	}
	return notOurs, ""
}

// readCapped reads a whole small file with one open, and fails rather than
// allocate beyond maxFileSize. With withInfo it also returns the open
// file's identity, so a caller can later check that the name still refers
// to the file it read.
func readCapped(path string, withInfo bool) ([]byte, os.FileInfo, error) {
	if !withInfo {
		data, err := readSmallFile(path)
		return data, nil, err
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		// A FIFO, device or directory at a cache file's name: never read.
		return nil, nil, &fs.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	data, err := readAllCapped(f.Read)
	return data, fi, err
}

// readAllCapped reads until EOF, growing its buffer up to maxFileSize+1
// bytes so that an oversized file is detected without reading it all.
func readAllCapped(read func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxFileSize {
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(2*cap(buf), maxFileSize+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > maxFileSize {
		return nil, errTooLarge
	}
	return buf, nil
}
