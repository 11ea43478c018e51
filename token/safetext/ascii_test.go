package safetext

import "testing"

func TestLower(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"MyReg.AzureCR.IO", "myreg.azurecr.io"},
		{"wor\u212Aload", "wor\u212Aload"}, // the Kelvin sign stays
		{"ſ", "ſ"},
	} {
		if got := Lower(tc.in); got != tc.want {
			t.Errorf("Lower(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		s, lower string
		want     bool
	}{
		{"HTTPS", "https", true},
		{"https", "https", true},
		{"httpſ", "https", false},
		{"http", "https", false},
	} {
		if got := EqualFold(tc.s, tc.lower); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.s, tc.lower, got)
		}
	}
}
