package config

import (
	"slices"
	"strconv"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// A Mirror maps an upstream registry host to the ACR login server that
// mirrors it, for the kubelet front end: containerd can be set to pull
// mcr.microsoft.com's images from myreg.azurecr.io, and the kubelet then
// asks for mcr.microsoft.com's credentials. Opt-in only: without a mirrors
// entry no host but a login server is answered.
//
//	mirrors:
//	  - upstream: mcr.microsoft.com      # host[:port], as in image names
//	    registry: myreg.azurecr.io       # a genuine ACR login server
type Mirror struct {
	// Upstream is the host the images are named by, lower case, with its
	// port if it has one.
	Upstream string
	// Registry is the mirror's canonical login server.
	Registry string
}

func mirrorKeys() []string { return []string{"upstream", "registry"} }

// Mirrors returns the configured mirrors.
func (c *Config) Mirrors() []Mirror {
	if c == nil {
		return nil
	}
	return slices.Clone(c.mirrors)
}

// MirrorFor returns the mirror whose upstream is host (compared in ASCII
// lower case), if any.
func (c *Config) MirrorFor(host string) (Mirror, bool) {
	if c == nil {
		return Mirror{}, false
	}
	host = safetext.Lower(host)
	for _, m := range c.mirrors {
		if m.Upstream == host {
			return m, true
		}
	}
	return Mirror{}, false
}

// decodeMirrors checks the mirrors entries. The registry must be a login
// server (with the file's clouds): a mirror is a way to hand a registry's
// token to the host that names its images, never a way to make another
// host ours.
func decodeMirrors(entries [][]pair, clouds []loginserver.CloudSuffix, errs *problems) []Mirror {
	var out []Mirror
	seen := map[string]int{}
	for i, ps := range entries {
		var up, reg text
		for _, p := range ps {
			switch p.key {
			case "upstream":
				up = stringValue(p.v, "upstream", errs)
			case "registry":
				reg = stringValue(p.v, "registry", errs)
			}
		}
		line := firstLine(up.line, reg.line)
		if up.value == "" || reg.value == "" {
			errs.add(line, "mirror entry %d needs both upstream (the host images are named by, e.g. mcr.microsoft.com) and registry (the ACR login server that mirrors it)", i+1)
			continue
		}
		host := safetext.Lower(up.value)
		if why := upstreamProblem(host); why != "" {
			errs.add(up.line, "upstream: %q %s", up.value, why)
			continue
		}
		if _, err := loginserver.Parse(host, clouds...); err == nil {
			errs.add(up.line, "upstream: %q is an ACR login server itself, which gets its own token; a mirror's upstream is another registry's host", up.value)
			continue
		}
		r, err := loginserver.Parse(reg.value, clouds...)
		if err != nil {
			errs.add(reg.line, "registry: %q is not an ACR login server: %s; a mirror must be an Azure Container Registry (e.g. myreg.azurecr.io)", reg.value, strings.TrimPrefix(err.Error(), loginserver.ErrNotLoginServer.Error()+": "))
			continue
		}
		if at, dup := seen[host]; dup {
			errs.add(up.line, "upstream: %q repeats the mirror at line %d; one upstream has one mirror", up.value, at)
			continue
		}
		seen[host] = up.line
		out = append(out, Mirror{Upstream: host, Registry: r.Host})
	}
	return out
}

// upstreamProblem says why host cannot name an upstream registry, or "":
// a DNS name of letters, digits, '-' and '.', with an optional port, as in
// image references ("mcr.microsoft.com", "registry.k8s.io",
// "localhost:5000" is refused: a mirror is for a registry on the network).
func upstreamProblem(host string) string {
	name, port, hasPort := strings.Cut(host, ":")
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "has a port that is not a number from 1 to 65535"
		}
	}
	if !loginserver.IsDNSName(name) {
		return "is not a registry host name such as mcr.microsoft.com"
	}
	if strings.Trim(name[strings.LastIndexByte(name, '.')+1:], "0123456789") == "" {
		return "is an IP address; a mirror's upstream is a registry host name"
	}
	return ""
}
