//go:build !unix

package filecache

import "os"

// checkPrivate has nothing portable to check where permissions are ACLs
// (Windows): the default cache directory under %LocalAppData% is private to
// the user already.
func checkPrivate(os.FileInfo) error { return nil }
