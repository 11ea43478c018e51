package safetext

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
)

func TestPrintableAndServerText(t *testing.T) {
	for _, tc := range []struct{ in, printable, server string }{
		{"plain", "plain", "plain"},
		{"bad\x1b[31mname", "bad?[31mname", "bad [31mname"},
		{"line\nbreak\x1b[31m", "line?break?[31m", "line break [31m"},
		{"c1\u0085x", "c1?x", "c1 x"},
		{"bad\xffutf8", "bad?utf8", "bad?utf8"},
		{strings.Repeat("é", 300), strings.Repeat("é", 200) + "…", strings.Repeat("é", 200) + "…"},
	} {
		if got := Printable(tc.in); got != tc.printable {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.printable)
		}
		if got := ServerText(tc.in); got != tc.server {
			t.Errorf("ServerText(%q) = %q, want %q", tc.in, got, tc.server)
		}
	}
}

// TestServerTextRedactsBeforeCutting puts each secret across MaxShown at
// every offset: redacting after the cut would let its first part through.
// The exchange quotes the registry's text through ServerText: this is its
// check too.
func TestServerTextRedactsBeforeCutting(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, secret := range []string{
		"Abc8Q~kLmNoPqRsTuVwXyZ0123456789.abcdefg",
		"opaque-entra-token-0123456789abcdefghijklmnop",
		// JWT-shaped, as an Entra token is.
		enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}`)) + ".c2lnbmF0dXJlLWNsaXAtdGVzdA",
	} {
		leak.AssertNoFragmentAtAnyCut(t, secret, min(150, MaxShown-len(secret)-2), MaxShown+2,
			func(pad string) string { return ServerText(pad+secret+" trailing text", secret) }, endsClipped)
	}
}

// endsClipped reports whether s ends with the clip mark.
func endsClipped(s string) bool { return strings.HasSuffix(s, "…") }

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // never half a rune
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	if got := FirstLine("  one\r\ntwo\n"); got != "one" {
		t.Errorf("FirstLine = %q", got)
	}
}

func TestAADSTSCodes(t *testing.T) {
	got := AADSTSCodes("AADSTS then AADSTS500011 and AADSTS50001, not AADSTSx")
	if want := []string{"AADSTS500011", "AADSTS50001"}; !slices.Equal(got, want) {
		t.Errorf("AADSTSCodes = %q, want %q", got, want)
	}
}

// TestServerText came with the exchange, whose sanitize it tested.
func TestServerText(t *testing.T) {
	jwtish := "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln"
	tests := []struct {
		in, secret, want string
	}{
		{"plain message", "", "plain message"},
		{"token s3cr3t-value here", "s3cr3t-value", "token [redacted] here"},
		{"jwt " + jwtish + ", done", "", "jwt [redacted JWT], done"},
		{"short eyJ ok", "", "short eyJ ok"},
		{"line\nbreak\x1b[31m", "", "line break [31m"},
		{"bad \xff utf8", "", "bad ? utf8"},
		{strings.Repeat("x", 300), "", strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		if got := ServerText(tt.in, tt.secret); got != tt.want {
			t.Errorf("ServerText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
