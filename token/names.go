package token

import (
	"errors"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"slices"
	"strings"
)

// ParseSourceNames checks a list of identity source names, as given in
// DOCKER_CREDENTIAL_ACR_SOURCES (split at commas) or a config file's
// sources, and returns them normalised: lower case, without surrounding
// white space, in the given order. An empty list, an empty or unknown name,
// or a name given twice is an error that says which and lists the valid
// names. The list is not changed.
func ParseSourceNames(list []string) ([]string, error) {
	valid := strings.Join(SourceNames(), ", ")
	if len(list) == 0 {
		return nil, errors.New("no identity source is named: name one or more of " + valid)
	}
	out := make([]string, 0, len(list))
	for _, raw := range list {
		n := asciiLower(strings.TrimSpace(raw))
		switch {
		case n == "":
			return nil, errors.New("an identity source name is empty: valid sources are " + valid)
		case !slices.Contains(SourceNames(), n):
			return nil, fmt.Errorf("unknown identity source %q: valid sources are %s", safetext.Printable(strings.TrimSpace(raw)), valid)
		case slices.Contains(out, n):
			return nil, fmt.Errorf("identity source %q is listed twice: name each source once", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// asciiLower folds only A-Z: Unicode folding would let "wor\u212Aload"
// (a Kelvin sign) pass for "workload".
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
