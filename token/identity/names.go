package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// ParseNames checks a list of identity source names, as a user gave them
// (a front end splits its own list syntax first), and returns them
// normalised: lower case, without surrounding
// white space, in the given order. An empty list, an empty or unknown name,
// or a name given twice is an error that says which and lists the valid
// names. The list is not changed.
func ParseNames(list []string) ([]string, error) {
	valid := strings.Join(Names(), ", ")
	if len(list) == 0 {
		return nil, errors.New("no identity source is named: name one or more of " + valid)
	}
	out := make([]string, 0, len(list))
	for _, raw := range list {
		// ASCII folding only: Unicode folding would let "wor\u212Aload"
		// (a Kelvin sign) pass for "workload".
		n := safetext.Lower(strings.TrimSpace(raw))
		switch {
		case n == "":
			return nil, errors.New("an identity source name is empty: valid sources are " + valid)
		case !slices.Contains(Names(), n):
			return nil, fmt.Errorf("unknown identity source %q: valid sources are %s", safetext.Printable(strings.TrimSpace(raw)), valid)
		case slices.Contains(out, n):
			return nil, fmt.Errorf("identity source %q is listed twice: name each source once", n)
		}
		out = append(out, n)
	}
	return out, nil
}
