package safetext

import "strings"

// MaxShown bounds untrusted text quoted in an error or a log line.
const MaxShown = 200

// Clip shortens s to at most n bytes, cut at a rune boundary, and marks
// the cut with "…". Text that may hold a secret (what a server, a tool or a
// library said) goes through RedactClip instead, which redacts first.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Printable makes a value the user supplied (a path, a name, a URL; never a
// secret) safe to quote in a message: control characters (C0, DEL, C1) and
// invalid UTF-8 become '?', and it is cut after 200 runes.
func Printable(s string) string { return printable(s, '?') }

// ServerText makes text a server, proxy or tool sent safe to show: the
// secrets and anything JWT-shaped are redacted first (a registry or proxy
// may echo a token back), then control characters and invalid UTF-8 become
// spaces, so that a multi-line answer reads as one line, and it is cut
// after 200 runes.
func ServerText(s string, secrets ...string) string {
	return printable(Redact(s, secrets...), ' ')
}

func printable(s string, repl rune) string {
	s = strings.ToValidUTF8(s, "?")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == MaxShown {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = repl
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// FirstLine keeps the first line of a multi-line message, trimmed.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// AADSTSCodes returns every whole Entra error code ("AADSTS" and digits) in
// s, in order. A scan rather than a regular expression: only error paths
// need it, and a cached get should not pay for compiling one at start-up.
// "AADSTS50001" is never taken for a prefix of "AADSTS500014".
func AADSTSCodes(s string) []string {
	var codes []string
	for {
		i := strings.Index(s, "AADSTS")
		if i < 0 {
			return codes
		}
		j := i + len("AADSTS")
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j > i+len("AADSTS") {
			codes = append(codes, s[i:j])
		}
		s = s[j:]
	}
}

// FindAADSTS returns the first Entra error code in s, or "".
func FindAADSTS(s string) string {
	if c := AADSTSCodes(s); len(c) > 0 {
		return c[0]
	}
	return ""
}
