//go:build !linux

// Command acrbench measures docker-credential-acr; it needs Linux network
// and mount namespaces, so elsewhere it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "acrbench: the benchmarks need Linux (network and mount namespaces); run make bench on Linux")
	os.Exit(1)
}
