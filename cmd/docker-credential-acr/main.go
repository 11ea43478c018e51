// Command docker-credential-acr is a docker credential helper for Azure
// Container Registry that needs no stored password: it exchanges the
// machine's Azure identity for ACR refresh tokens.
package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// Set by the linker: -X main.version=… -X main.commit=….
var (
	version = ""
	commit  = ""
)

// maxInput bounds what a command reads from stdin. docker sends a host
// name (get, erase) or a small JSON object (store).
const maxInput = 64 << 10

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	action := args[0]
	switch action {
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case credentials.ActionGet, credentials.ActionStore, credentials.ActionErase, credentials.ActionList:
	default:
		fmt.Fprintf(stdout, "docker-credential-acr: unknown command %q; run 'docker-credential-acr help'\n", action)
		return 1
	}

	logger, logErr := newLogger(stderr, getenv("DOCKER_CREDENTIAL_ACR_LOG"))
	if logErr != nil {
		fmt.Fprintln(stderr, logErr)
	}
	in, err := readInput(stdin, action)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	helper := credhelper.New(credhelper.Options{
		Getenv:      getenv,
		Logger:      logger,
		Cache:       newCache(getenv, logger),
		IgnoreStore: getenv("DOCKER_CREDENTIAL_ACR_IGNORE_STORE") == "1",
	})
	if err := credentials.HandleCommand(helper, action, bytes.NewReader(in), stdout); err != nil {
		// The protocol puts errors on stdout, where docker shows them.
		fmt.Fprintln(stdout, err)
		return 1
	}
	return 0
}

// readInput takes stdin whole and rejects what no client sends, so that
// garbage gets a clear message instead of a confusing one from deeper
// down.
func readInput(stdin io.Reader, action string) ([]byte, error) {
	if action == credentials.ActionList {
		return nil, nil
	}
	in, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("docker-credential-acr: reading standard input: %v", err)
	}
	if len(in) > maxInput {
		return nil, fmt.Errorf("docker-credential-acr: standard input is longer than %d KiB; '%s' expects a registry host name such as myreg.azurecr.io", maxInput>>10, action)
	}
	if bytes.IndexByte(in, 0) >= 0 {
		return nil, fmt.Errorf("docker-credential-acr: standard input contains a NUL byte; '%s' expects a registry host name such as myreg.azurecr.io", action)
	}
	if !utf8.Valid(in) {
		return nil, fmt.Errorf("docker-credential-acr: standard input is not valid UTF-8; '%s' expects a registry host name such as myreg.azurecr.io", action)
	}
	if action != credentials.ActionStore && len(bytes.TrimSpace(in)) == 0 {
		return nil, fmt.Errorf("docker-credential-acr: no registry host on standard input; '%s' expects one, e.g. echo myreg.azurecr.io | docker-credential-acr %s", action, action)
	}
	return in, nil
}

// newCache returns the on-disk cache, or no cache where it is turned off
// or has no home: a read-only or HOME-less machine still gets tokens.
func newCache(getenv func(string) string, logger *slog.Logger) token.Cache {
	if getenv("DOCKER_CREDENTIAL_ACR_NO_CACHE") == "1" {
		return token.NoCache{}
	}
	dir, err := filecache.DefaultDir(getenv)
	if err != nil {
		// Ignoring a directory the user named deserves a word; having no
		// HOME is ordinary on some machines.
		if getenv(filecache.EnvCacheDir) != "" {
			logger.Warn("running without a token cache", "reason", err)
		} else {
			logger.Debug("running without a token cache", "reason", err)
		}
		return token.NoCache{}
	}
	return filecache.New(dir, filecache.Options{Logger: logger})
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	var err error
	switch strings.ToLower(level) {
	case "", "warn", "warning":
		l = slog.LevelWarn
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelWarn
		err = fmt.Errorf("docker-credential-acr: DOCKER_CREDENTIAL_ACR_LOG=%q is not a level; use debug, info, warn or error (using warn)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), err
}

func versionLine() string {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("docker-credential-acr %s (commit %s)", v, c)
}

const usage = `docker-credential-acr: a docker credential helper for Azure Container Registry.
It obtains ACR tokens from the machine's Azure identity; it stores no password.

Usage: docker-credential-acr <command>   (input on stdin, as docker sends it)

Commands:
  get       print credentials for the registry host read from stdin
  store     refuse to store (set DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1 to accept silently)
  erase     drop the cached tokens of the registry host read from stdin
  list      list registries with an unexpired cached token
  version   print the version
  help      print this text

Configure docker (~/.docker/config.json):
  {"credHelpers": {"myreg.azurecr.io": "acr"}}

Environment:
  DOCKER_CREDENTIAL_ACR_SOURCES       ordered identity sources, comma-separated:
                                      workload, managed, cli, env, github, pipelines, azd
                                      (unset: automatic, see README)
  DOCKER_CREDENTIAL_ACR_SCOPE         Entra scope (default https://containerregistry.azure.net/.default)
  DOCKER_CREDENTIAL_ACR_CONFIG        per-registry config file
                                      (default $XDG_CONFIG_HOME/docker-credential-acr/config.yaml)
  DOCKER_CREDENTIAL_ACR_CACHE_DIR     token cache directory
                                      (default $XDG_CACHE_HOME/docker-credential-acr, else ~/.cache/docker-credential-acr)
  DOCKER_CREDENTIAL_ACR_NO_CACHE=1    cache nothing
  DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1  make 'store' succeed without storing
  DOCKER_CREDENTIAL_ACR_LOG           debug, info, warn (default) or error; logs go to stderr
  AZURE_CLIENT_ID, AZURE_TENANT_ID    the identity and tenant to use
  AZURE_FEDERATED_TOKEN_FILE          workload identity token file (AKS)
  AZURE_AUTHORITY_HOST                Entra authority (default: the registry's cloud)

Documentation: README.md of docker-credential-acr.
`
