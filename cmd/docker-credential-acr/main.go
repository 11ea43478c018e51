// Command docker-credential-acr is a docker credential helper for Azure
// Container Registry that needs no stored password: it exchanges the
// machine's Azure identity for ACR refresh tokens.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
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
	// First of all: the timeout bounds the caller's wall time from exec to
	// exit, and only the runtime's start and package initialisation (a few
	// milliseconds; see make bench-profile) come before this.
	start := time.Now()
	os.Exit(runFrom(start, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run is runFrom starting now, for tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runFrom(time.Now(), args, stdin, stdout, stderr, getenv)
}

// runFrom runs the command line args of a process that started at start.
// The commands of the table record their own start: they are dispatched
// within microseconds of it.
func runFrom(start time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 2 && (args[1] == "--help" || args[1] == "-h") {
		if c, ok := lookupAnyCommand(args[0]); ok {
			fmt.Fprint(stdout, c.usage)
			return 0
		}
	}
	if len(args) > 0 {
		if c, ok := lookupCommand(args[0]); ok {
			return c.run(args[1:], stdin, stdout, stderr, getenv)
		}
	}
	if len(args) == 2 && args[0] == "help" {
		if args[1] == "--man" {
			fmt.Fprint(stdout, manPage())
			return 0
		}
		if c, ok := lookupAnyCommand(args[1]); ok {
			fmt.Fprint(stdout, c.usage)
			return 0
		}
		fmt.Fprintf(stderr, "docker-credential-acr: help: no command %q; run 'docker-credential-acr help'\n", oneLine(args[1]))
		return 1
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, usage())
		return 1
	}
	action := args[0]
	switch action {
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage())
		return 0
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case credentials.ActionGet, credentials.ActionStore, credentials.ActionErase, credentials.ActionList:
	default:
		return fail(stdout, fmt.Errorf("unknown command %q; run 'docker-credential-acr help'", action))
	}

	logger, closeLog, logErr := commandLogger(stderr, getenv)
	defer closeLog()
	if logErr != nil {
		fmt.Fprintln(stderr, logErr)
	}
	in, err := readInput(stdin, action)
	if err != nil {
		return fail(stdout, err)
	}
	helper := credhelper.New(credhelper.Options{
		Getenv:      getenv,
		Logger:      logger,
		Cache:       newCache(getenv, logger, ""),
		IgnoreStore: getenv("DOCKER_CREDENTIAL_ACR_IGNORE_STORE") == "1",
		Start:       start,
	})
	if err := credentials.HandleCommand(helper, action, bytes.NewReader(in), stdout); err != nil {
		return fail(stdout, err)
	}
	return 0
}

// fail prints err where the protocol wants it, on stdout, and says whose
// error it is. The protocol's own messages stay exactly as they are:
// clients compare them ("credentials not found in native keychain" makes
// docker go on anonymously).
func fail(stdout io.Writer, err error) int {
	msg := err.Error()
	if !credentials.IsErrCredentialsNotFound(err) && !credentials.IsCredentialsMissingServerURL(err) &&
		!strings.HasPrefix(msg, "docker-credential-acr") {
		msg = "docker-credential-acr: " + msg
	}
	fmt.Fprintln(stdout, msg)
	return 1
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
		return nil, fmt.Errorf("reading standard input: %v", err)
	}
	if len(in) > maxInput {
		return nil, fmt.Errorf("standard input is longer than %d KiB; '%s' expects a registry host name such as myreg.azurecr.io", maxInput>>10, action)
	}
	if bytes.IndexByte(in, 0) >= 0 {
		return nil, fmt.Errorf("standard input contains a NUL byte; '%s' expects a registry host name such as myreg.azurecr.io", action)
	}
	if !utf8.Valid(in) {
		return nil, fmt.Errorf("standard input is not valid UTF-8; '%s' expects a registry host name such as myreg.azurecr.io", action)
	}
	if action != credentials.ActionStore && len(bytes.TrimSpace(in)) == 0 {
		return nil, fmt.Errorf("no registry host on standard input; '%s' expects one, e.g. echo myreg.azurecr.io | docker-credential-acr %s", action, action)
	}
	// docker-credential-helpers joins the lines of a get's or erase's
	// input into one host ("myreg\n.azurecr.io" is myreg.azurecr.io). No
	// client sends more than one line, so a line break inside is refused
	// rather than parsed leniently.
	if action != credentials.ActionStore && bytes.ContainsAny(bytes.TrimSpace(in), "\r\n") {
		return nil, fmt.Errorf("standard input holds more than one line; '%s' expects one registry host name such as myreg.azurecr.io", action)
	}
	return in, nil
}

// newCache returns the on-disk cache, or no cache where it is turned off
// or has no home: a read-only or HOME-less machine still gets tokens.
// fallback, if not empty, is the directory to use where the environment
// names none (the kubelet mode's, for a kubelet started without HOME).
func newCache(getenv func(string) string, logger *slog.Logger, fallback string) token.Cache {
	if getenv("DOCKER_CREDENTIAL_ACR_NO_CACHE") == "1" {
		return token.NoCache{}
	}
	dir, err := config.CacheDir(getenv)
	if errors.Is(err, filecache.ErrNoDir) && fallback != "" {
		dir, err = fallback, nil
	}
	if err != nil {
		// Ignoring a directory the user named deserves a word; having no
		// HOME is ordinary on some machines.
		if getenv(config.EnvCacheDir) != "" {
			logger.Warn("running without a token cache", "reason", err)
		} else {
			logger.Debug("running without a token cache", "reason", err)
		}
		return token.NoCache{}
	}
	return filecache.New(dir, filecache.Options{Logger: logger, DirSetting: config.EnvCacheDir})
}

func parseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "", "warn", "warning":
		return slog.LevelWarn, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelWarn, fmt.Errorf("docker-credential-acr: DOCKER_CREDENTIAL_ACR_LOG=%q is not a level; use debug, info, warn or error (using warn)", level)
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

// usage is the help text, with the source names as package identity lists
// them and the commands as the command table lists them, so that neither a
// source nor a command can be left out.
func usage() string {
	var cmds strings.Builder
	for _, c := range allCommands() {
		fmt.Fprintf(&cmds, "  %-10s %s\n", c.name, c.summary)
	}
	return strings.NewReplacer("{{sources}}", strings.Join(identity.Names(), ","), "{{commands}}", cmds.String()).Replace(usageTemplate)
}

const usageTemplate = `docker-credential-acr: a docker credential helper for Azure Container Registry.
It obtains ACR tokens from the machine's Azure identity; it stores no password.

Usage: docker-credential-acr <command>   (input on stdin, as docker or the kubelet sends it)

Commands:
{{commands}}
Configure docker, podman, buildah and skopeo:
  docker-credential-acr configure myreg.azurecr.io
  (it adds {"credHelpers": {"myreg.azurecr.io": "acr"}} to ~/.docker/config.json
  and the containers auth.json, keeping everything else)

Identity sources, tried in order; unset, the automatic order uses each only
where its environment is present:
  env        service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or
             AZURE_CLIENT_CERTIFICATE_PATH (+ AZURE_CLIENT_CERTIFICATE_PASSWORD,
             AZURE_CLIENT_SEND_CERTIFICATE_CHAIN)
  workload   AZURE_FEDERATED_TOKEN_FILE or AZURE_FEDERATED_TOKEN, AZURE_CLIENT_ID,
             AZURE_TENANT_ID (AKS workload identity, GitLab id_tokens)
  github     GitHub Actions OIDC: ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN,
             AZURE_CLIENT_ID, AZURE_TENANT_ID
  pipelines  Azure Pipelines: SYSTEM_OIDCREQUESTURI, SYSTEM_ACCESSTOKEN,
             AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, AZURESUBSCRIPTION_CLIENT_ID,
             AZURESUBSCRIPTION_TENANT_ID
  managed    managed identity (IMDS, or IDENTITY_ENDPOINT); user-assigned by AZURE_CLIENT_ID
  cli        the Azure CLI's login (az on PATH)
  azd        the Azure Developer CLI's login (azd on PATH)

Settings (DOCKER_CREDENTIAL_ACR_* beat the config file, which beats AZURE_CLIENT_ID
and AZURE_TENANT_ID):
  DOCKER_CREDENTIAL_ACR_SOURCES       ordered sources, e.g. "workload,managed"
                                      (default: {{sources}})
  DOCKER_CREDENTIAL_ACR_CLIENT_ID     client ID for every registry
  DOCKER_CREDENTIAL_ACR_TENANT_ID     tenant for every registry
  DOCKER_CREDENTIAL_ACR_AUDIENCE      acr (default), arm, or acr-then-arm
  DOCKER_CREDENTIAL_ACR_SCOPE         an explicit Entra scope; beats the audience
                                      (default https://containerregistry.azure.net/.default)
  DOCKER_CREDENTIAL_ACR_USERNAME      token (default: "<token>") or zero-guid
  DOCKER_CREDENTIAL_ACR_CHALLENGE     auto (default: read the registry's challenge only for
                                      regional and custom-cloud hosts) or always (for every
                                      registry: one behind a proxy that names another service)
  DOCKER_CREDENTIAL_ACR_TIMEOUT       how long a get may take, start to exit, when it must fetch
                                      (a duration, 1s to 10m; default 10s, kubelet mode 30s)
  DOCKER_CREDENTIAL_ACR_CONFIG        per-registry config file (default
                                      $XDG_CONFIG_HOME/docker-credential-acr/config.yaml,
                                      else ~/.config/docker-credential-acr/config.yaml)
  DOCKER_CREDENTIAL_ACR_CACHE_DIR     token cache, an absolute path (default
                                      $XDG_CACHE_HOME/docker-credential-acr,
                                      else ~/.cache/docker-credential-acr)
  DOCKER_CREDENTIAL_ACR_NO_CACHE=1    cache nothing
  DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1  make 'store' succeed without storing
  DOCKER_CREDENTIAL_ACR_LOG           debug, info, warn (default) or error; logs go to stderr
  DOCKER_CREDENTIAL_ACR_LOG_FILE      a file that gets the log too (0600, 1 MiB, one rotation to .1)
  AZURE_AUTHORITY_HOST                Entra authority, https (default: the registry's cloud)
  HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE  honoured for Entra, CI token services and the registry;
                                      managed identity endpoints are never reached through a proxy

Troubleshooting: echo myreg.azurecr.io | DOCKER_CREDENTIAL_ACR_LOG=debug docker-credential-acr get
(AZURE_SDK_GO_LOGGING=all adds the Azure SDK's own request log). The README of
docker-credential-acr documents all of this.
`
