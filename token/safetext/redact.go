package safetext

import (
	"net/url"
	"strings"
)

// The project's one redactor. Messages are built from non-secret parts, but
// Entra, IMDS, the CLIs, the CI token services, registries and proxies may
// echo what they were sent, and their text reaches errors and logs: this is
// the last line of defence.

// minRedactedSecret is the shortest secret redacted on its own. Shorter
// values are not real secrets (client secrets, tokens and passwords that
// short are refused upstream or useless), and replacing a two-letter value
// everywhere would blank out ordinary words in the message.
const minRedactedSecret = 4

// minRedactedSegment is the shortest dot-separated piece of a secret
// redacted on its own: an echo may carry one segment of a JWT (its
// signature, say), while a piece as short as a JWT header like "e30" would
// blank out ordinary words.
const minRedactedSegment = 12

// minJWTRun is the shortest "eyJ…" run taken for a token when it has fewer
// than two dots: long enough that ordinary text never matches, short
// enough that a truncated token (a log line cut at a limit) still does.
const minJWTRun = 16

// Redact replaces each secret (as given, trimmed, and query-escaped), each
// long dot-separated segment of a secret, and anything shaped like a JWT.
// Known secrets become "[redacted]", token-shaped runs "[redacted JWT]".
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		for _, form := range []string{sec, strings.TrimSpace(sec), url.QueryEscape(strings.TrimSpace(sec))} {
			if len(form) >= minRedactedSecret {
				s = strings.ReplaceAll(s, form, "[redacted]")
			}
		}
		for seg := range strings.SplitSeq(strings.TrimSpace(sec), ".") {
			if len(seg) >= minRedactedSegment {
				s = strings.ReplaceAll(s, seg, "[redacted]")
			}
		}
	}
	return redactJWTs(s)
}

// RedactClip redacts s and only then shortens it to at most n bytes. The
// order matters: a secret cut in two by the clip would match neither as a
// whole nor, for most secrets, by segment, and its first half would be
// shown. Every clip of text that did not come from us goes through here.
func RedactClip(s string, n int, secrets ...string) string {
	return Clip(Redact(s, secrets...), n)
}

// redactJWTs replaces runs that start like a JWT or JWE (a base64url JSON
// object, "eyJ") and go on with base64url characters and dots, when the run
// is long or has the two dots of a compact token. A run may hold several
// tokens joined by dots; all of it goes.
func redactJWTs(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j, dots := i, 0
		for j < len(s) && isJWTChar(s[j]) {
			if s[j] == '.' {
				dots++
			}
			j++
		}
		b.WriteString(s[:i])
		if j-i >= minJWTRun || dots >= 2 {
			b.WriteString("[redacted JWT]")
		} else {
			b.WriteString(s[i:j])
		}
		s = s[j:]
	}
}

func isJWTChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
