package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// runDoctor explains this machine and, with a registry, runs each step of
// one get fresh. The report goes to stdout; exit status 0 when nothing
// failed, 1 when a step failed (the problem names it), 2 for a usage error.
func runDoctor(args []string, _ io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var o credhelper.DoctorOptions
	asJSON := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--help" || a == "-h" || a == "help":
			fmt.Fprint(stdout, doctorUsage)
			return 0
		case a == "--json":
			asJSON = true
		case a == "--repository" || a == "-r":
			if i+1 >= len(args) || args[i+1] == "" {
				fmt.Fprintln(stderr, "docker-credential-acr: doctor: --repository needs a repository name, e.g. --repository hello-world")
				return 2
			}
			i++
			o.Repository = args[i]
		case strings.HasPrefix(a, "--repository="):
			o.Repository = strings.TrimPrefix(a, "--repository=")
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "docker-credential-acr: doctor: unknown option %q; see 'docker-credential-acr doctor --help'\n", oneLine(a))
			return 2
		case o.Registry == "":
			o.Registry = a
		default:
			fmt.Fprintln(stderr, "docker-credential-acr: doctor: one registry at a time; see 'docker-credential-acr doctor --help'")
			return 2
		}
	}
	if o.Repository != "" && o.Registry == "" {
		fmt.Fprintln(stderr, "docker-credential-acr: doctor: --repository goes with a registry, e.g. doctor myreg.azurecr.io --repository hello-world")
		return 2
	}
	helper, closeLog := newCommandHelper(getenv, stderr)
	defer closeLog()
	r, err := helper.Doctor(context.Background(), o, asJSON, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "docker-credential-acr: doctor: writing the report: "+oneLine(err.Error()))
		return 1
	}
	if !r.OK {
		return 1
	}
	return 0
}

const doctorUsage = `Usage: docker-credential-acr doctor [REGISTRY] [--repository REPO] [--json]

Explains this machine in plain words, and never prints a token.

  Without a registry: each identity source (available or not, why, which
  would be chosen), IMDS reachability and its time, the proxy settings in
  effect, the config file (path, valid, trusted), and the token cache
  (directory, permissions, entries and their expiry).

  With a registry, each step of one 'get' is run fresh (the cached token is
  neither used nor overwritten), with its result and duration: host,
  settings (and the layer each came from), entra-token (tenant, object and
  app id, audience, expiry), challenge, exchange (the refresh token's
  expiry), with --repository registry-token (an access token for
  repository:REPO:pull and the actions it grants), and clock (the servers'
  Date against this machine's clock).

  The first failure is the problem, with a code, the evidence and the fix:
  no-identity, identity-not-found, audience-disallowed, firewall,
  missing-role, federated-mismatch, clock-skew, registry-unreachable, or
  other (with the server's own words).

  --repository REPO  also ask for a pull token for REPO
  --json             print one JSON object (schema in the README)

Exit status: 0 when nothing failed, 1 when a step failed, 2 for a usage error.
`
