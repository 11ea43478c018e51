package loginserver

import (
	"fmt"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

func notOurs(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotLoginServer}, args...)...)
}

// Parse takes what docker, podman or crane pass to `get` and
// reports whether it names an ACR login server. Any error means "not
// ours": callers answer "credentials not found" and must not contact the
// host. The error says why, for a debug log; it never repeats userinfo,
// paths or queries from input, which may hold secrets.
//
// Accepted: "host", "host/", "host:443", "https://host", "https://host/",
// "https://host:443/", in any ASCII letter case, where host is one of
//
//	name.azurecr.io                  (FormStandard)
//	name-hash.azurecr.io             (FormDNL)
//	name[-hash].region.geo.azurecr.io (FormRegional)
//
// under azurecr.io, azurecr.cn, azurecr.us or an extra suffix. Everything
// else is refused, in particular: other schemes (http included) and ports,
// userinfo, paths, queries, fragments, percent-encoding, backslashes,
// whitespace, control and non-ASCII bytes, IP literals, punycode labels,
// empty or over-long labels, a trailing dot, data endpoints
// (name.region.data.azurecr.io) and look-alikes such as
// name.azurecr.io.evil.com or evilazurecr.io.
//
// A trailing dot is refused rather than stripped: docker keys credHelpers
// by exact host, so "myreg.azurecr.io." only reaches us if a user wrote it,
// and one canonical spelling keeps cache keys unambiguous.
//
// Built-in suffixes are matched before extra ones, so a custom cloud can
// never change how a public, China or US Government host is parsed.
func Parse(input string, extra ...CloudSuffix) (Registry, error) {
	if input == "" {
		return Registry{}, notOurs("empty server URL")
	}
	if len(input) > maxServerURLLen {
		return Registry{}, notOurs("server URL is %d bytes, longer than %d", len(input), maxServerURLLen)
	}
	// Userinfo may hold a password: refuse it before any message could
	// quote a byte of it.
	if strings.IndexByte(input, '@') >= 0 {
		return Registry{}, notOurs("server URL has userinfo ('@'); a login server is a bare host")
	}
	s := input
	if i := strings.Index(s, "://"); i >= 0 {
		// ASCII folding only: strings.EqualFold would take "httpſ" (U+017F
		// folds to 's') for https, and this is the security boundary.
		if scheme := s[:i]; !safetext.EqualFold(scheme, "https") {
			// Only http is named: anything else may be garbage or worse.
			if safetext.EqualFold(scheme, "http") {
				return Registry{}, notOurs("scheme http is not https; ACR login servers are reached over https only")
			}
			return Registry{}, notOurs("scheme is not https")
		}
		s = s[i+3:]
	}
	// Docker and friends sometimes append one slash; more is a path.
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return Registry{}, notOurs("no host in server URL")
	}

	colon, upper := -1, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == ':':
			if colon >= 0 {
				return Registry{}, notOurs("more than one ':' (IPv6 literals are never login servers)")
			}
			colon = i
		default:
			return Registry{}, hostBadByte(c, i)
		}
	}
	host := s
	if colon >= 0 {
		host = s[:colon]
		if port := s[colon+1:]; port != "443" {
			if port == "" {
				return Registry{}, notOurs("empty port after ':'")
			}
			return Registry{}, notOurs("port %q is not 443", port)
		}
	}
	if upper {
		host = safetext.Lower(host)
	}
	return parseHost(host, extra)
}

// hostBadByte explains why byte c at offset i cannot be part of a login
// server. Userinfo was refused earlier, and everything after the first
// '/', '?' or '#' is never reached, so quoting c leaks nothing.
func hostBadByte(c byte, i int) error {
	switch {
	case c == '/':
		return notOurs("server URL has a path (byte %d); only host, host/ or https://host[:443][/] are accepted", i)
	case c == '?':
		return notOurs("server URL has a query (byte %d)", i)
	case c == '#':
		return notOurs("server URL has a fragment (byte %d)", i)
	case c == '%':
		return notOurs("server URL is percent-encoded (byte %d)", i)
	case c == '\\':
		return notOurs("server URL has a backslash (byte %d)", i)
	case c == '[' || c == ']':
		return notOurs("server URL has a bracketed IP literal (byte %d)", i)
	case c == ' ' || c == '\t':
		return notOurs("server URL has whitespace (byte %d)", i)
	case c < 0x20 || c == 0x7f:
		return notOurs("server URL has control byte 0x%02x at byte %d", c, i)
	case c >= 0x80:
		return notOurs("server URL has a non-ASCII byte at byte %d (internationalised hosts are never login servers)", i)
	case c == '_':
		return notOurs("server URL has '_' at byte %d, which no host name may contain", i)
	}
	return notOurs("server URL has %q at byte %d, which no host name may contain", c, i)
}

// parseHost recognises a lower-case host made only of [a-z0-9.-].
func parseHost(host string, extra []CloudSuffix) (Registry, error) {
	if host == "" {
		return Registry{}, notOurs("empty host")
	}
	if len(host) > maxHostLen {
		return Registry{}, notOurs("host is %d bytes, longer than %d", len(host), maxHostLen)
	}
	if host[0] == '.' {
		return Registry{}, notOurs("host %q starts with an empty label", host)
	}
	if host[len(host)-1] == '.' {
		return Registry{}, notOurs("host %q ends with a dot; write the login server without it", host)
	}

	var (
		prefix string
		reg    Registry
		found  bool
	)
	for _, b := range hostBuiltinSuffixes() {
		if p, ok := hostCutSuffix(host, b.suffix); ok {
			prefix, found = p, true
			reg.Cloud = b.cloud()
			reg.Scope = token.DefaultScope
			break
		}
	}
	if !found {
		for _, e := range extra {
			if !hostUsableSuffix(e.Suffix) {
				continue
			}
			if p, ok := hostCutSuffix(host, e.Suffix); ok {
				prefix, found = p, true
				reg.Cloud = e.Cloud
				reg.Custom = true
				reg.Scope = e.Scope
				if reg.Scope == "" {
					reg.Scope = token.DefaultScope
				}
				break
			}
		}
	}
	if !found {
		return Registry{}, hostNoSuffix(host, extra)
	}
	if prefix == "" {
		return Registry{}, notOurs("host %q is a bare registry suffix and names no registry", host)
	}

	// prefix is one label (name) or three (name.region.geo).
	first, rest, multi := strings.Cut(prefix, ".")
	if err := hostCheckLabel(host, first); err != nil {
		return Registry{}, err
	}
	if multi {
		region, geo, ok := strings.Cut(rest, ".")
		if err := hostCheckLabel(host, region); err != nil {
			return Registry{}, err
		}
		if !ok {
			return Registry{}, notOurs("host %q has two labels before the suffix; login servers are name.suffix or name.region.geo.suffix", host)
		}
		if strings.IndexByte(geo, '.') >= 0 {
			return Registry{}, notOurs("host %q has too many labels before the suffix", host)
		}
		if err := hostCheckLabel(host, geo); err != nil {
			return Registry{}, err
		}
		switch geo {
		case "geo":
		case "data":
			return Registry{}, notOurs("host %q is a data endpoint, never a login server", host)
		default:
			return Registry{}, notOurs("host %q is not name.region.geo.suffix", host)
		}
		if !hostIsRegion(region) {
			return Registry{}, notOurs("host %q: region %q is not %d-%d lower-case letters and digits starting with a letter", host, region, minRegionLen, maxRegionLen)
		}
		reg.Region = region
		reg.Form = FormRegional
	}

	name, hash, dnl := strings.Cut(first, "-")
	if !hostIsAlnum(name, minRegistryName, maxRegistryName) {
		return Registry{}, notOurs("host %q: registry name %q is not %d-%d letters and digits", host, name, minRegistryName, maxRegistryName)
	}
	if dnl {
		if !hostIsAlnum(hash, dnlHashLen, dnlHashLen) {
			return Registry{}, notOurs("host %q: %q after '-' is not a %d-character domain-name-label hash", host, hash, dnlHashLen)
		}
		reg.DNLHash = hash
		if reg.Form == 0 {
			reg.Form = FormDNL
		}
	}
	if reg.Form == 0 {
		reg.Form = FormStandard
	}
	reg.Host = host
	reg.Name = name
	return reg, nil
}

// hostCutSuffix returns the part of host before ".suffix".
func hostCutSuffix(host, suffix string) (string, bool) {
	if len(host) < len(suffix) || host[len(host)-len(suffix):] != suffix {
		return "", false
	}
	if len(host) == len(suffix) {
		return "", true
	}
	if host[len(host)-len(suffix)-1] != '.' {
		return "", false
	}
	return host[:len(host)-len(suffix)-1], true
}

// IsDNSName reports whether s is a lower-case DNS name of at least two
// labels of a-z, 0-9 and '-' (LDH rules, no punycode): the one host-name
// rule for suffixes and for the config's other host names (mirrors).
func IsDNSName(s string) bool { return hostUsableSuffix(s) }

// hostUsableSuffix guards against a malformed extra suffix (callers other
// than the config loader may build CloudSuffix values): only a lower-case
// DNS name of at least two labels can match.
func hostUsableSuffix(s string) bool {
	if s == "" || len(s) > maxHostLen || strings.IndexByte(s, '.') < 0 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if hostLabelError(label) != "" {
			return false
		}
	}
	return true
}

func hostCheckLabel(host, label string) error {
	if why := hostLabelError(label); why != "" {
		return notOurs("host %q: %s", host, why)
	}
	return nil
}

// hostLabelError checks one DNS label of [a-z0-9-]: LDH rules, length, and
// no punycode.
func hostLabelError(label string) string {
	switch {
	case label == "":
		return "empty label"
	case len(label) > maxLabelLen:
		return fmt.Sprintf("label is %d bytes, longer than %d", len(label), maxLabelLen)
	case strings.HasPrefix(label, "xn--"):
		return "punycode (internationalised) label"
	case label[0] == '-' || label[len(label)-1] == '-':
		return "label starts or ends with '-'"
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return "label has characters other than a-z, 0-9 and '-'"
		}
	}
	return ""
}

func hostIsAlnum(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func hostIsRegion(s string) bool {
	return hostIsAlnum(s, minRegionLen, maxRegionLen) && 'a' <= s[0] && s[0] <= 'z'
}

// hostNoSuffix explains a host under no known suffix, naming the usual
// attacks so a debug log makes the refusal obvious.
func hostNoSuffix(host string, extra []CloudSuffix) error {
	if hostLooksLikeIPv4(host) {
		return notOurs("host %q is an IP address", host)
	}
	for _, b := range hostBuiltinSuffixes() {
		if strings.Contains(host, b.suffix) {
			return notOurs("host %q contains %q but does not end with \".%s\" (look-alike)", host, b.suffix, b.suffix)
		}
	}
	known := "azurecr.io, azurecr.cn, azurecr.us"
	for _, e := range extra {
		if hostUsableSuffix(e.Suffix) {
			known += ", " + e.Suffix
		}
	}
	return notOurs("host %q is not under a known ACR suffix (%s); custom clouds are added in the config file", host, known)
}

func hostLooksLikeIPv4(host string) bool {
	for i := 0; i < len(host); i++ {
		if c := host[i]; !('0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}
