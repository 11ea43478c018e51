// Package loginserver recognises Azure Container Registry login servers.
// It is the helper's security boundary: a host that Parse accepts receives
// an Entra token exchange, so Parse accepts only the documented
// login-server shapes under the built-in ACR suffixes (and, opt-in, the
// suffixes of custom clouds from the config file) and refuses everything
// else. It does no I/O and knows nothing of the config file's syntax.
package loginserver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Form is the shape of an ACR login server's host name.
type Form int

const (
	// FormStandard is "name.azurecr.io".
	FormStandard Form = iota + 1
	// FormDNL is "name-hash.azurecr.io": a registry created with a domain
	// name label scope, whose 16-character hash keeps a re-created
	// registry of the same name from inheriting its DNS name.
	FormDNL
	// FormRegional is "name.region.geo.azurecr.io" (or, for a DNL
	// registry, "name-hash.region.geo.azurecr.io"): the login server of one
	// geo-replica.
	FormRegional
)

func (f Form) String() string {
	switch f {
	case FormStandard:
		return "standard"
	case FormDNL:
		return "dnl"
	case FormRegional:
		return "regional"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// Registry is a recognised ACR login server.
type Registry struct {
	// Host is the canonical login server: lower case, no port, no scheme,
	// no trailing dot, e.g. "myreg.azurecr.io".
	Host string
	// Name is the registry's resource name, e.g. "myreg" (without any DNL
	// hash).
	Name string
	// DNLHash is the domain-name-label hash of a DNL registry, e.g.
	// "e7ggejfuhzhgedc8"; empty otherwise.
	DNLHash string
	// Region is the replica's region in the regional form, e.g. "eastus2".
	Region string
	Form   Form
	// Cloud is the cloud the login-server suffix belongs to, with its
	// Entra authority and ARM audience.
	Cloud token.Cloud
	// Scope is the cloud's Entra scope for ACR's own audience.
	Scope string
	// Custom is set when the suffix is a custom cloud's (a CloudSuffix
	// from the config file), not a built-in one.
	Custom bool
}

// FixedExchange reports whether the login server's form alone fixes where
// its exchange is (https://<Host>/oauth2/exchange) and the service it
// names (Host): the standard and DNL forms under a built-in suffix, as ACR
// answers for them, so that their challenge need not be read. For the
// regional form and custom clouds the simulator cannot vouch for the
// service, so their challenge is read.
func (r Registry) FixedExchange() bool {
	return !r.Custom && (r.Form == FormStandard || r.Form == FormDNL)
}

// CloudSuffix lets the config file add a custom or air-gapped cloud. It is
// opt-in only: without one, only the public, China and US Government
// suffixes are recognised.
type CloudSuffix struct {
	// Suffix is the login-server suffix without a leading dot, e.g.
	// "azurecr.contoso.local". Lower case.
	Suffix string
	Cloud  token.Cloud
	// Scope is the Entra scope for the registry audience in this cloud;
	// empty means token.DefaultScope.
	Scope string
}

// ErrNotLoginServer is wrapped by every error of Parse.
var ErrNotLoginServer = errors.New("not an Azure Container Registry login server")

// Limits of the login-server grammar. ACR registry names are 5-50 letters
// and digits (Azure resource naming rules; the portal and az acr create
// refuse anything else). The DNL hash is 16 lower-case letters and digits
// in every documented and observed example (Azure docs:
// "contosoacrregistry-e7ggejfuhzhgedc8.azurecr.io"); ACR puts exactly one
// '-' between name and hash and forbids '-' in names for that reason.
const (
	maxServerURLLen = 512
	maxHostLen      = 253
	maxLabelLen     = 63
	minRegistryName = 5
	maxRegistryName = 50
	dnlHashLen      = 16
	minRegionLen    = 2
	maxRegionLen    = 32
)

// builtinSuffix is one cloud recognised without configuration.
type builtinSuffix struct {
	suffix string
	cloud  func() token.Cloud
}

// hostBuiltinSuffixes is read-only; a function keeps it out of mutable
// package state. The clouds, ARM scopes included, are token's, unchanged,
// so that a Registry's Cloud compares equal to token.PublicCloud() and
// friends.
func hostBuiltinSuffixes() [3]builtinSuffix {
	return [3]builtinSuffix{
		{"azurecr.io", token.PublicCloud},
		{"azurecr.cn", token.ChinaCloud},
		{"azurecr.us", token.USGovCloud},
	}
}

// Suffixes lists the login-server suffixes recognised: the built-in ones,
// then those of extra, in order. Every login server is "name.suffix" or,
// for a geo-replica, "name.region.geo.suffix".
func Suffixes(extra ...CloudSuffix) []string {
	var out []string
	for _, b := range hostBuiltinSuffixes() {
		out = append(out, b.suffix)
	}
	for _, e := range extra {
		out = append(out, e.Suffix)
	}
	return out
}

// UnderSuffix reports whether host is suffix itself or ends in "."+suffix:
// the one suffix rule, used by Parse and by the config's cloud lookups.
func UnderSuffix(host, suffix string) bool {
	_, ok := hostCutSuffix(host, suffix)
	return ok
}

// SuffixProblem says why s cannot be a custom login-server suffix, or "".
// Without the public suffix list (it would double the binary's size) it
// refuses what it can tell: single labels, numeric TLDs, two-label
// registry-style suffixes such as co.uk, and the built-in ACR domains.
func SuffixProblem(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "*") {
		return "must be written without a leading '.' or '*'"
	}
	if s != safetext.Lower(s) {
		return "must be lower case"
	}
	if !hostUsableSuffix(s) {
		return "is not a DNS name of at least two labels (letters, digits and '-')"
	}
	labels := strings.Split(s, ".")
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "ends in a numeric label; IP addresses are never login servers"
	}
	if len(labels) == 2 {
		switch labels[0] {
		case "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nom", "ltd", "plc":
			return "is a public suffix that anybody can register names under"
		}
	}
	for _, b := range hostBuiltinSuffixes() {
		if s == b.suffix || strings.HasSuffix(s, "."+b.suffix) || strings.HasSuffix(b.suffix, "."+s) {
			return fmt.Sprintf("overlaps the built-in suffix %q", b.suffix)
		}
	}
	return ""
}
