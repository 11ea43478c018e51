//go:build !linux

package harness

import "errors"

var errNotLinux = errors.New("the end-to-end harness needs Linux network and mount namespaces")

// Reexec is only available on Linux.
func Reexec() (int, error) { return 1, errNotLinux }

// SetupNamespace is only available on Linux.
func SetupNamespace(dir string, hosts []string) error { return errNotLinux }
