package token

import (
	"net/url"
	"strings"
)

// NormalizeAuthorityHost checks an Entra authority host URL and returns it
// with the trailing slash azidentity expects. When s cannot be one, host is
// "" and problem says why, as a phrase that follows the value in a message:
// "is not a URL", "must be https", "has no host", "must not have userinfo",
// "must not have a query or fragment". Entra tokens and client assertions
// are only ever sent over https to a plain host.
func NormalizeAuthorityHost(s string) (host, problem string) {
	u, err := url.Parse(s)
	switch {
	case err != nil, u.Scheme == "" && u.Host == "":
		return "", "is not a URL"
	case u.Scheme != "https":
		return "", "must be https"
	case u.Host == "" || u.Hostname() == "":
		return "", "has no host"
	case u.User != nil:
		return "", "must not have userinfo"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.Contains(s, "#"):
		return "", "must not have a query or fragment"
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, ""
}
