package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// kubeletCacheDir is the token cache of the kubelet mode when neither
// DOCKER_CREDENTIAL_ACR_CACHE_DIR, XDG_CACHE_HOME nor HOME names one, as
// for a kubelet started by systemd; used only when running as root, the
// kubelet's user. docker's get keeps its rule: no HOME, no cache.
const kubeletCacheDir = "/var/cache/docker-credential-acr"

// kubeletTimeout is the kubelet mode's default budget of one request,
// from exec to exit (DOCKER_CREDENTIAL_ACR_TIMEOUT or the config's timeout
// overrides it). The kubelet kills a plugin after one minute and then
// pulls anonymously, logging only that it killed it; ending at half that
// leaves our own error, which names what hung, time to reach its log. It
// is longer than get's 10 s because a node's IMDS is slow while the VM
// boots (its 410 answers, which a managed identity retries), when no user
// is waiting at a terminal, and the pull would otherwise go anonymous.
const kubeletTimeout = 30 * time.Second

// runKubelet is the kubelet image credential provider: one
// CredentialProviderRequest on stdin, one CredentialProviderResponse on
// stdout. Errors go to stderr, which the kubelet copies into its log, as
// one line, with exit code 1.
func runKubelet(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	start := time.Now()
	printConfig, saMode := false, false
	for _, a := range args {
		switch a {
		case "--print-config":
			printConfig = true
		case "--sa-mode":
			saMode = true
		case "--help", "-h", "help":
			fmt.Fprint(stdout, kubeletUsage)
			return 0
		default:
			fmt.Fprintf(stderr, "docker-credential-acr: kubelet: unknown argument %q; see 'docker-credential-acr kubelet --help'\n", oneLine(a))
			return 1
		}
	}
	if saMode && !printConfig {
		fmt.Fprintln(stderr, "docker-credential-acr: kubelet: --sa-mode goes with --print-config; a request with a service-account token is answered in that mode by itself")
		return 1
	}
	logger, closeLog, logErr := commandLogger(stderr, getenv)
	defer closeLog()
	if logErr != nil {
		fmt.Fprintln(stderr, oneLine(logErr.Error()))
	}
	fallback := ""
	if os.Geteuid() == 0 {
		fallback = kubeletCacheDir
	}
	helper := credhelper.New(credhelper.Options{
		Getenv:  getenv,
		Logger:  logger,
		Cache:   newCache(getenv, logger, fallback),
		Timeout: kubeletTimeout,
		Start:   start,
	})
	var err error
	if printConfig {
		var cfg string
		if cfg, err = helper.KubeletConfig(saMode); err == nil {
			_, err = io.WriteString(stdout, cfg)
		}
	} else {
		// The helper puts the deadline (start + timeout) on the fetch.
		err = helper.Kubelet(context.Background(), stdin, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "docker-credential-acr: kubelet: "+oneLine(err.Error()))
		return 1
	}
	return 0
}

// oneLine keeps an error on one line of the kubelet's log.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

const kubeletUsage = `Usage: docker-credential-acr kubelet [--print-config [--sa-mode]]

The kubelet's image credential provider (credentialprovider.kubelet.k8s.io/v1):
reads one CredentialProviderRequest on stdin and writes one
CredentialProviderResponse on stdout. Name it in the kubelet's
CredentialProviderConfig (--image-credential-provider-config) with
  name: docker-credential-acr
  args: [kubelet]
and put the binary in --image-credential-provider-bin-dir.

  An ACR login server gets the registry's refresh token (username
  00000000-0000-0000-0000-000000000000), keyed by that login server, cached
  by the kubelet until our cache would refresh it. Any other image gets no
  credentials, at once and without any network call.

  Node mode (no service-account token in the request): the identity comes
  from the same sources, config file and environment as 'get' (typically the
  node's managed identity); settings come from the config's env entries.
  Without HOME the cache goes to /var/cache/docker-credential-acr (as root).

  Service-account mode (KEP-4412, Kubernetes 1.34+): the pod's
  service-account token is the federated assertion (workload identity) of
  the client in annotation azure.workload.identity/client-id (or
  kubernetes.azure.com/acr-client-id), tenant from
  azure.workload.identity/tenant-id (or kubernetes.azure.com/acr-tenant-id),
  else the configured tenant. Never the node's identity.

  --print-config   print a ready CredentialProviderConfig (node mode)
  --sa-mode        with --print-config: with tokenAttributes for per-pod identities
`
