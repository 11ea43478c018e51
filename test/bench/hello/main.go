// Command hello is the floor for a Go process: the runtime's start-up and
// one write, nothing else.
package main

import "os"

func main() {
	_, _ = os.Stdout.WriteString("hello, world\n")
}
