package acr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// authChallenge is one challenge from a WWW-Authenticate header
// (RFC 7235 §2.1, §4.1).
//
// Scheme and parameter names are lower-cased because both are
// case-insensitive; parameter values are kept as sent, with quoted-string
// escapes removed.
type authChallenge struct {
	Scheme string
	Params map[string]string
}

// parseChallenges parses every challenge in the given WWW-Authenticate
// header values (one element per header line, as in http.Header.Values).
//
// Challenges whose credentials are a token68 (e.g. "Negotiate abc==") are
// skipped: no caller here can use them. Any malformed header makes the
// whole result an error rather than a best guess, because a lenient parse
// of a mangled header is how a realm gets smuggled past a host check.
// A parameter named twice in one challenge is malformed for the same reason
// (RFC 7235 §2.1: "MUST only occur once").
//
// The header is capped before and while it is parsed (maxChallengeBytes,
// maxChallengeParams, maxChallenges): it comes from whatever answered on
// the login server's address, and nothing real comes near the caps.
func parseChallenges(headers []string) ([]authChallenge, error) {
	size := 0
	for _, h := range headers {
		size += len(h)
	}
	if size > maxChallengeBytes {
		return nil, challengeCapError(fmt.Sprintf("WWW-Authenticate header of %d bytes, over the %d-byte limit", size, maxChallengeBytes))
	}
	var out []authChallenge
	var counts challengeCounts
	for n, h := range headers {
		p := challengeParser{s: h, counts: &counts}
		var err error
		if out, err = p.parse(out); err != nil {
			if _, capped := err.(challengeCapError); capped {
				return nil, err
			}
			if len(headers) > 1 {
				return nil, fmt.Errorf("malformed WWW-Authenticate header (line %d): %w", n+1, err)
			}
			return nil, fmt.Errorf("malformed WWW-Authenticate header: %w", err)
		}
	}
	return out, nil
}

// Caps on the WWW-Authenticate header of a 401. ACR sends one Bearer
// challenge of about 150 bytes with two parameters (realm, service; three
// with scope), and other registries and proxies stay in the hundreds of
// bytes. 8 KiB is the per-field limit that common servers apply to the
// headers they receive (nginx's large_client_header_buffers, Apache's
// LimitRequestFieldSize): far above anything real, and small enough that
// parsing it costs nothing. 32 parameters and 16 challenges leave room for
// a proxy's Basic or Negotiate challenges beside ACR's, and bound the maps
// that 8 KiB of one-letter parameters or empty challenges would make.
const (
	maxChallengeBytes  = 8 << 10
	maxChallengeParams = 32
	maxChallenges      = 16
)

// challengeCapError is a header refused for its size, not its syntax.
type challengeCapError string

func (e challengeCapError) Error() string { return string(e) }

// challengeCounts counts over all the lines of one header.
type challengeCounts struct{ params, challenges int }

type challengeParser struct {
	s      string
	i      int
	counts *challengeCounts
}

// count adds one challenge (param false) or parameter (param true) and
// fails once a cap is passed.
func (p *challengeParser) count(param bool) error {
	c := p.counts
	if param {
		if c.params++; c.params > maxChallengeParams {
			return challengeCapError(fmt.Sprintf("WWW-Authenticate header with more than %d parameters, over the limit", maxChallengeParams))
		}
		return nil
	}
	if c.challenges++; c.challenges > maxChallenges {
		return challengeCapError(fmt.Sprintf("WWW-Authenticate header with more than %d challenges, over the limit", maxChallenges))
	}
	return nil
}

func (p *challengeParser) eof() bool { return p.i >= len(p.s) }

// skipOWS skips optional whitespace (SP / HTAB) and reports how much.
func (p *challengeParser) skipOWS() int {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i - start
}

// skipListSeparators skips whitespace and commas: RFC 7230 §7 requires
// recipients to accept empty list elements such as ", , Bearer ...".
func (p *challengeParser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// shownName clips a scheme or parameter name quoted in an error: names
// are tokens (printable ASCII), but as long as the header allows.
func shownName(s string) string { return safetext.Clip(s, 40) }

// what describes the byte at the cursor for error messages without
// echoing arbitrary header content.
func (p *challengeParser) what() string {
	if p.eof() {
		return "end of header"
	}
	c := p.s[p.i]
	if c >= 0x21 && c <= 0x7e {
		return fmt.Sprintf("%q at offset %d", c, p.i)
	}
	return fmt.Sprintf("byte 0x%02x at offset %d", c, p.i)
}

func (p *challengeParser) parse(out []authChallenge) ([]authChallenge, error) {
	for {
		p.skipListSeparators()
		if p.eof() {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return nil, fmt.Errorf("expected an auth-scheme, found %s", p.what())
		}
		if err := p.count(false); err != nil {
			return nil, err
		}
		c := authChallenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
		sp := p.skipOWS()
		if p.eof() || p.s[p.i] == ',' {
			out = append(out, c)
			continue
		}
		if sp == 0 {
			return nil, fmt.Errorf("expected a space after auth-scheme %q, found %s", shownName(scheme), p.what())
		}
		if end, ok := p.token68End(); ok {
			p.i = end
			continue // token68 challenge: skipped, see parseChallenges
		}
		more, err := p.params(&c)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if !more {
			return out, nil
		}
	}
}

// token68End reports whether a token68 (RFC 7235 §2.1) starts at the
// cursor and is the whole of the challenge's credentials, i.e. is followed
// only by whitespace and then a comma or the end. "realm=x" starts like a
// token68 but is followed by more, so it is an auth-param.
func (p *challengeParser) token68End() (int, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return 0, false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j == len(p.s) || p.s[j] == ',' {
		return end, true
	}
	return 0, false
}

// params parses the comma-separated auth-params of c. It returns more=true
// when it stopped at the start of a new challenge, false at the end.
func (p *challengeParser) params(c *authChallenge) (more bool, err error) {
	for {
		name := p.token()
		if name == "" {
			return false, fmt.Errorf("expected a parameter name in %q challenge, found %s", shownName(c.Scheme), p.what())
		}
		p.skipOWS()
		if p.eof() || p.s[p.i] != '=' {
			return false, fmt.Errorf("expected '=' after parameter %q, found %s", shownName(name), p.what())
		}
		p.i++
		p.skipOWS()
		var value string
		if !p.eof() && p.s[p.i] == '"' {
			if value, err = p.quoted(name); err != nil {
				return false, err
			}
		} else if value = p.token(); value == "" {
			return false, fmt.Errorf("expected a token or quoted-string value for parameter %q, found %s", shownName(name), p.what())
		}
		if err := p.count(true); err != nil {
			return false, err
		}
		key := strings.ToLower(name)
		if _, dup := c.Params[key]; dup {
			return false, fmt.Errorf("parameter %q appears twice in one %q challenge", shownName(key), shownName(c.Scheme))
		}
		c.Params[key] = value

		p.skipOWS()
		if p.eof() {
			return false, nil
		}
		if p.s[p.i] != ',' {
			return false, fmt.Errorf("expected ',' after parameter %q, found %s", shownName(name), p.what())
		}
		p.skipListSeparators()
		if p.eof() {
			return false, nil
		}
		// Commas separate both auth-params and challenges: the next
		// element is a parameter only if it is "token BWS =".
		save := p.i
		next := p.token()
		p.skipOWS()
		isParam := next != "" && !p.eof() && p.s[p.i] == '='
		p.i = save
		if !isParam {
			return true, nil
		}
	}
}

var errUnterminated = errors.New("unterminated quoted string")

func (p *challengeParser) quoted(name string) (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	start := p.i
	escaped := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if !escaped {
				return p.s[start : p.i-1], nil
			}
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("%w in parameter %q", errUnterminated, shownName(name))
			}
			e := p.s[p.i+1]
			if !isQuotedPairChar(e) {
				p.i++
				return "", fmt.Errorf("invalid escape in parameter %q: %s", shownName(name), p.what())
			}
			if !escaped {
				escaped = true
				b.WriteString(p.s[start:p.i])
			}
			b.WriteByte(e)
			p.i += 2
		case isQdtext(c):
			if escaped {
				b.WriteByte(c)
			}
			p.i++
		default:
			return "", fmt.Errorf("invalid character in quoted value of parameter %q: %s", shownName(name), p.what())
		}
	}
	return "", fmt.Errorf("%w in parameter %q", errUnterminated, shownName(name))
}

// isTchar: RFC 7230 §3.2.6 tchar.
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char: RFC 7235 §2.1 token68 without the trailing '='.
func isToken68Char(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isQdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
}

// isQuotedPairChar: HTAB / SP / VCHAR / obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80
}
