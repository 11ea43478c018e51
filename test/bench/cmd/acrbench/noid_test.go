//go:build linux

package main

import "testing"

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
