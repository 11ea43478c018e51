//go:build !unix

package filecache

// readSmallFile reads a cache file without following a symbolic link at
// its name: openNoFollow is Windows' (read_windows.go) or the portable
// check (read_other.go); Unix has its own, leaner read (read_unix.go).
func readSmallFile(path string) ([]byte, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCapped(f.Read)
}
