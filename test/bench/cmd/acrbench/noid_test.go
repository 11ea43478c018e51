//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestManagedPart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"acr: no Azure identity available for r: managed source: something other than IMDS answered", "something other than IMDS answered"},
		{"acr: no Azure identity available for r: env: unset; workload: unset; managed: no endpoint; cli: no az", "no endpoint; cli: no az"},
		{"something else", "something else"},
	}
	for _, tt := range tests {
		if got := managedPart(tt.in); got != tt.want {
			t.Errorf("managedPart(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClipMiddle(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"  trimmed  ", 10, "trimmed"},
		{"abcdefghijklmnopqrstuvwxyz", 10, "abcde … vwxyz"},
		// Never a cut through a rune: é is two bytes.
		{"éééééééééé", 5, "é … é"},
	}
	for _, tt := range tests {
		got := clipMiddle(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("clipMiddle(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if !strings.Contains(tt.in, strings.Split(got, " … ")[0]) {
			t.Errorf("clipMiddle(%q, %d) = %q: its head is not from the input", tt.in, tt.n, got)
		}
	}
}
