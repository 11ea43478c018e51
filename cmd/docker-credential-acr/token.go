package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// runToken prints a registry's refresh token for tools that do not speak
// the credential-helper protocol: helm, oras, notation (--password-stdin).
// stdout carries only the token (or its JSON); errors go to stderr.
func runToken(args []string, _ io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	start := time.Now()
	var o credhelper.TokenOptions
	var regs []string
	for _, a := range args {
		switch {
		case a == "--json":
			o.JSON = true
		case a == "--help" || a == "-h":
			fmt.Fprint(stdout, tokenUsage)
			return 0
		case strings.HasPrefix(a, "-"):
			return cmdFail(stderr, "token", fmt.Errorf("unknown flag %q; see 'docker-credential-acr token --help'", oneLine(a)))
		default:
			regs = append(regs, a)
		}
	}
	if len(regs) != 1 {
		return cmdFail(stderr, "token", fmt.Errorf("want one registry, got %d arguments; e.g. docker-credential-acr token myreg.azurecr.io", len(regs)))
	}
	o.Registry = regs[0]
	helper, closeLog := newCommandHelperFrom(getenv, stderr, start)
	defer closeLog()
	if err := helper.Token(context.Background(), o, stdout); err != nil {
		return cmdFail(stderr, "token", err)
	}
	return 0
}

// newCommandHelper is the Helper of an operator command: get's logger,
// cache and settings.
func newCommandHelper(getenv func(string) string, stderr io.Writer) (*credhelper.Helper, func()) {
	return newCommandHelperFrom(getenv, stderr, time.Time{})
}

// newCommandHelperFrom is newCommandHelper for a command that fetches as
// get does, in a process that started at start.
func newCommandHelperFrom(getenv func(string) string, stderr io.Writer, start time.Time) (*credhelper.Helper, func()) {
	logger, closeLog, logErr := commandLogger(stderr, getenv)
	if logErr != nil {
		fmt.Fprintln(stderr, logErr)
	}
	return credhelper.New(credhelper.Options{
		Getenv: getenv,
		Logger: logger,
		Cache:  newCache(getenv, logger, ""),
		Start:  start,
	}), closeLog
}

// cmdFail prints an operator command's error on stderr, naming the
// command, and returns exit code 1.
func cmdFail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "docker-credential-acr: %s: %s\n", name, err)
	return 1
}

const tokenUsage = `Usage: docker-credential-acr token REGISTRY [--json]

Prints the registry's ACR refresh token, as 'az acr login --expose-token'
does, for tools that do not speak the credential-helper protocol. It takes
the path of 'get': the same identity sources, settings and token cache.

  helm registry login myreg.azurecr.io --username 00000000-0000-0000-0000-000000000000 \
    --password-stdin < <(docker-credential-acr token myreg.azurecr.io)

  --json   print {"loginServer", "username", "refreshToken", "expiresOn"}
           (username 00000000-0000-0000-0000-000000000000, expiresOn RFC 3339)

Exit status 0 on success; 1 with the reason and what to change on stderr.
`
