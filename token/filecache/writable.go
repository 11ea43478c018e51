package filecache

import "io/fs"

// WritableBy names who besides the owner may write to a file or directory
// of mode m ("every user", "its group"), or returns "". It is the one rule
// for "writable by others", shared by the cache directory's check and
// credhelper's trust check of the files it reads settings from.
func WritableBy(m fs.FileMode) string {
	switch perm := m.Perm(); {
	case perm&0o002 != 0:
		return "every user"
	case perm&0o020 != 0:
		return "its group"
	}
	return ""
}
