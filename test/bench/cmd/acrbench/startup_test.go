//go:build linux

package main

import (
	"testing"
	"time"
)

func TestParseInitTrace(t *testing.T) {
	in := "init internal/bytealg @0.004 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"some other stderr line\n" +
		"init net/http @1.500 ms, 0.250 ms clock, 8712 bytes, 71 allocs\n" +
		"init go.yaml.in/yaml/v3 @2.000 ms, 0.500 ms clock, 100 bytes, 3 allocs\n" +
		"init broken @x ms, y ms clock\n"
	got := parseInitTrace(in)
	if got.total != 750*time.Microsecond {
		t.Errorf("total = %v, want 750µs", got.total)
	}
	if got.end != 2500*time.Microsecond {
		t.Errorf("end = %v, want 2.5ms", got.end)
	}
	if len(got.pkgs) != 3 || got.pkgs["net/http"] != 250*time.Microsecond {
		t.Errorf("pkgs = %v", got.pkgs)
	}
}

func TestParseStrace(t *testing.T) {
	in := `100 execve("/bin/helper", ["helper", "get"], 0x7ff /* 5 vars */) = 0
100 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
100 openat(AT_FDCWD, "/tmp/w/home/.config/docker-credential-acr/config.yaml", O_RDONLY|O_CLOEXEC <unfinished ...>
101 futex(0xc000, FUTEX_WAKE_PRIVATE, 1) = 1
100 <... openat resumed>) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD, "/tmp/w/cache/k.json", O_RDONLY|O_CLOEXEC) = 7
100 read(7, "{\"version\":1}", 4096) = 13
101 +++ exited with 0 +++
100 exit_group(0)                     = ?
`
	got := parseStrace(in, "/tmp/w")
	want := []string{"/etc/ld.so.cache (ok)", "$DIR/home/.config/docker-credential-acr/config.yaml (ENOENT)", "$DIR/cache/k.json (ok)"}
	if len(got.opened) != len(want) {
		t.Fatalf("opened = %q, want %q", got.opened, want)
	}
	for i := range want {
		if got.opened[i] != want[i] {
			t.Errorf("opened[%d] = %q, want %q", i, got.opened[i], want[i])
		}
	}
	if got.total != 7 || got.calls["openat"] != 3 || got.execs != 1 || got.net != 0 {
		t.Errorf("total %d, openat %d, execve %d, net %d; want 7, 3, 1, 0", got.total, got.calls["openat"], got.execs, got.net)
	}
}
