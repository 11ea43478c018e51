package safetext

import (
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	const (
		jwt      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nature_"
		unsigned = "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ."
		sig      = "c2lnbmF0dXJlLW9mLWEtcmVhbC10b2tlbg"
	)
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{name: "plain text", in: "plain message", want: "plain message"},
		{name: "secret", in: "secret abc123secret in text", secrets: []string{"abc123secret"}, want: "secret [redacted] in text"},
		{name: "secret with white space around it", in: "got abc123secret", secrets: []string{" abc123secret\n"}, want: "got [redacted]"},
		{name: "query-escaped secret", in: "body: client_secret=a%2Bb%2Fc%3D%3D", secrets: []string{"a+b/c=="}, want: "body: client_secret=[redacted]"},
		{name: "short secret kept", in: "short x kept", secrets: []string{"x"}, want: "short x kept"},
		{name: "empty secret", in: "nothing", secrets: []string{""}, want: "nothing"},
		{name: "signed JWT", in: "token " + jwt + " here", want: "token [redacted JWT] here"},
		{name: "unsigned JWT", in: "unsigned " + unsigned + " end", want: "unsigned [redacted JWT] end"},
		{name: "short three-segment token", in: "tok eyJ.e30.x end", want: "tok [redacted JWT] end"},
		{name: "long run without dots", in: "cut eyJhbGciOiJSUzI1NiJ9 end", want: "cut [redacted JWT] end"},
		{name: "short eyJ kept", in: "short eyJ ok, eyJab.c too", want: "short eyJ ok, eyJab.c too"},
		{name: "two tokens", in: jwt + "," + jwt, want: "[redacted JWT],[redacted JWT]"},
		{name: "JWE (five segments)", in: "jwe eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn x", want: "jwe [redacted JWT] x"},
		{name: "echoed signature of a secret token", in: "bad signature " + sig, secrets: []string{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0." + sig}, want: "bad signature [redacted]"},
		{name: "short segment of a secret kept", in: "e30 is a word", secrets: []string{"e30.e30.abcdefghijklmnop"}, want: "e30 is a word"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in, tc.secrets...)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, s := range tc.secrets {
				if s = strings.TrimSpace(s); len(s) >= minRedactedSecret && strings.Contains(got, s) {
					t.Errorf("secret %q survived in %q", s, got)
				}
			}
		})
	}
}

func TestFindAADSTS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no code here", ""},
		{"invalid_client: AADSTS700016: Application not found", "AADSTS700016"},
		{"AADSTS then AADSTS500011 later", "AADSTS500011"},
		{"at the end AADSTS50001", "AADSTS50001"},
		{"AADSTS", ""},
	}
	for _, tc := range tests {
		if got := FindAADSTS(tc.in); got != tc.want {
			t.Errorf("FindAADSTS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactClipStraddle places a secret at every offset across the clip
// point: whatever the offset, no piece of it may survive.
func TestRedactClipStraddle(t *testing.T) {
	const n = 100
	for _, secret := range []string{
		"Abc8Q~kLmNoPqRsTuVwXyZ0123456789.abcdefg",                         // an Entra client secret
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdG9rZW4", // a JWT
	} {
		leak.AssertNoFragmentAtAnyCut(t, secret, n-len(secret)-2, n+2, func(pad string) string {
			got := RedactClip(pad+secret+" and the rest of the message", n, secret)
			if len(got) > n+len("…") {
				t.Errorf("redactClip gave %d bytes, want at most %d", len(got), n)
			}
			return got
		}, endsClipped)
	}
}
