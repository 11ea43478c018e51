package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// runCache is 'cache list [--json]' and 'cache clear [REGISTRY]'.
func runCache(args []string, _ io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var sub string
	var json bool
	var rest []string
	for _, a := range args {
		switch {
		case a == "--help" || a == "-h" || a == "help":
			fmt.Fprint(stdout, cacheUsage)
			return 0
		case a == "--json":
			json = true
		case strings.HasPrefix(a, "-"):
			return cmdFail(stderr, "cache", fmt.Errorf("unknown flag %q; see 'docker-credential-acr cache --help'", oneLine(a)))
		case sub == "":
			sub = a
		default:
			rest = append(rest, a)
		}
	}
	helper, closeLog := newCommandHelper(getenv, stderr)
	defer closeLog()
	ctx := context.Background()
	var err error
	switch {
	case sub == "list" && len(rest) == 0:
		err = helper.CacheList(ctx, credhelper.CacheListOptions{JSON: json}, stdout)
	case sub == "clear" && len(rest) <= 1 && !json:
		var o credhelper.CacheClearOptions
		if len(rest) == 1 {
			o.Registry = rest[0]
		}
		err = helper.CacheClear(ctx, o, stdout)
	case sub == "list" || sub == "clear":
		err = fmt.Errorf("usage: cache list [--json] | cache clear [REGISTRY]; see 'docker-credential-acr cache --help'")
	default:
		err = fmt.Errorf("want 'list' or 'clear'; see 'docker-credential-acr cache --help'")
	}
	if err != nil {
		return cmdFail(stderr, "cache", err)
	}
	return 0
}

const cacheUsage = `Usage: docker-credential-acr cache list [--json]
       docker-credential-acr cache clear [REGISTRY]

Shows or empties the token cache (DOCKER_CREDENTIAL_ACR_CACHE_DIR, default
$XDG_CACHE_HOME/docker-credential-acr, else ~/.cache/docker-credential-acr).

  list           each cached refresh token's registry, identity, tenant,
                 audience and expiry; never the token
  list --json    one JSON array of {"registry", "identity", "tenant",
                 "audience", "source", "issuedAt", "expiresAt", "expired"},
                 times in RFC 3339
  clear          remove every cached token and the record that no identity
                 was found
  clear REGISTRY remove the cached tokens of one login server

clear takes each entry's lock, so a helper fetching that token at the same
time finishes first; the .lock files stay (removing them would break the
locking of processes that hold them open).

Exit status 0 on success; 1 with the reason on stderr.
`
