//go:build !unix

package filecache

func setUmask(int) int { return 0 }
