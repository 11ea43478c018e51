package credhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The service-account annotations that name a pod's identity (KEP-4412).
// azure.workload.identity/* are the ones AKS users already put on service
// accounts for workload identity; kubernetes.azure.com/acr-* are
// cloud-provider-azure's acr-credential-provider's, for drop-in use.
const (
	AnnotationClientID       = "azure.workload.identity/client-id"
	AnnotationTenantID       = "azure.workload.identity/tenant-id"
	AnnotationACRClientID    = "kubernetes.azure.com/acr-client-id"
	AnnotationACRTenantID    = "kubernetes.azure.com/acr-tenant-id"
	kubeletCacheKeyRegistry  = "Registry"
	envFederatedToken        = "AZURE_FEDERATED_TOKEN"
	envFederatedTokenFile    = "AZURE_FEDERATED_TOKEN_FILE"
	kubeletServiceAccountSrc = "workload"
	// kubeletKillAfter is when the kubelet kills a credential provider
	// plugin (FIELD-NOTES §7).
	kubeletKillAfter = time.Minute
)

// Kubelet answers one kubelet image credential provider request read from
// r with exactly one response object on w (credentialprovider.kubelet.k8s.io/v1).
//
// An image whose registry is not an ACR login server (nor a configured
// mirror) gets a response without credentials, at once and without any
// network call. A request that carries a service-account token is always
// answered with that pod's identity (workload identity federation, the
// token as the assertion), never with the node's: see kubeletPodHelper.
func (h *Helper) Kubelet(ctx context.Context, r io.Reader, w io.Writer) error {
	req, err := decodeKubeletRequest(r)
	if err != nil {
		return err
	}
	// The image is the repository without tag or digest; the registry is
	// its first component, port included, as the kubelet matches it.
	host, _, _ := strings.Cut(req.Image, "/")
	// A configured mirror answers for its upstream with its own token,
	// keyed by the upstream host, which is what the kubelet asks for.
	target := host
	cfg, cfgErr := h.config()
	if m, ok := cfg.MirrorFor(host); ok && cfgErr == nil {
		h.o.Logger.Debug("answering for a mirrored registry", "upstream", m.Upstream, "mirror", m.Registry)
		target = m.Registry
	}
	cfg, reg, err := h.recogniseIn(cfg, cfgErr, target)
	if credentials.IsErrCredentialsNotFound(err) {
		return encodeKubeletResponse(w, kubeletResponse{CacheKeyType: kubeletCacheKeyRegistry})
	}
	if err != nil {
		return err
	}
	settings, err := cfg.ResolveRegistry(reg, h.o.Getenv)
	if err != nil {
		return err
	}
	hh := h
	if req.ServiceAccountToken != "" {
		if hh, settings, err = h.kubeletPodHelper(req, settings); err != nil {
			return err
		}
	}
	provider, err := hh.provider(reg, settings)
	if err != nil {
		return err
	}
	if d, _ := hh.timeout(settings); d >= kubeletKillAfter {
		h.o.Logger.Warn("the timeout is not shorter than the minute after which the kubelet kills a plugin; a hang then ends in the kubelet's message, which names nothing", "timeout", d)
	}
	entry, err := hh.fetch(ctx, provider, reg, settings)
	if err != nil {
		return err
	}
	if entry.RefreshToken == req.ServiceAccountToken {
		// Never hand the pod's own token back as a registry password.
		return errors.New("the registry's answer is the service-account token itself; refusing to return it")
	}
	return encodeKubeletResponse(w, kubeletResponse{
		CacheKeyType:  kubeletCacheKeyRegistry,
		CacheDuration: kubeletCacheDuration(time.Now(), entry.RefreshAt()),
		Auth:          map[string]kubeletAuthPair{host: {Username: ZeroGUIDUsername, Password: entry.RefreshToken}},
	})
}

// kubeletPodHelper returns the Helper and settings for a request that
// carries a pod's service-account token: workload identity with that token
// as the federated assertion, for the client named by the service
// account's annotations, whatever the sources chosen for node mode.
//
// Nothing is cached by us in this mode: a refresh token that Entra issued
// for one service account's assertion must never answer another's, even
// when both are annotated with the same client ID, so Entra judges every
// assertion. The kubelet caches the answer per service account itself
// (tokenAttributes.cacheType: ServiceAccount) for the cacheDuration given.
func (h *Helper) kubeletPodHelper(req kubeletRequest, s config.Settings) (*Helper, config.Settings, error) {
	ann := req.ServiceAccountAnnotations
	clientID := firstAnnotation(ann, AnnotationClientID, AnnotationACRClientID)
	if clientID == "" {
		return nil, s, fmt.Errorf("the pod's service account has no client ID annotation: annotate it with %s (or %s) naming the application or user-assigned identity whose federated credential trusts it, and list that key under tokenAttributes.requiredServiceAccountAnnotationKeys", AnnotationClientID, AnnotationACRClientID)
	}
	if !config.IsGUID(clientID) {
		return nil, s, fmt.Errorf("the service account's client ID annotation (%s or %s) is not a GUID; set it to the client (application) ID of the identity", AnnotationClientID, AnnotationACRClientID)
	}
	tenant := firstAnnotation(ann, AnnotationTenantID, AnnotationACRTenantID)
	if tenant != "" && !token.ValidTenantID(tenant) {
		return nil, s, fmt.Errorf("the service account's tenant annotation (%s or %s) is not a tenant ID; use the directory (tenant) ID, a GUID", AnnotationTenantID, AnnotationACRTenantID)
	}
	if tenant != "" {
		s.TenantID = tenant
	}
	if s.TenantID == "" {
		return nil, s, fmt.Errorf("no tenant for the pod's identity: annotate the service account with %s, or set the tenant for the node (DOCKER_CREDENTIAL_ACR_TENANT_ID or AZURE_TENANT_ID in the CredentialProviderConfig's env, or tenantID in the config file)", AnnotationTenantID)
	}
	s.Sources = []string{kubeletServiceAccountSrc}
	s.ClientID, s.ResourceID, s.ObjectID = clientID, "", ""
	o := h.o
	getenv := h.o.Getenv
	saToken := req.ServiceAccountToken
	o.Getenv = func(k string) string {
		switch k {
		case envFederatedToken:
			return saToken
		case envFederatedTokenFile:
			return "" // the node's file must not win over the pod's token
		}
		return getenv(k)
	}
	o.Cache = token.NoCache{}
	o.Credential = nil
	return &Helper{o: o}, s, nil
}

func firstAnnotation(ann map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(ann[k]); v != "" {
			return v
		}
	}
	return ""
}

// KubeletConfig returns a ready CredentialProviderConfig (YAML) that names
// this binary for every login server it recognises: for each suffix,
// "*.suffix" (standard and DNL names) and "*.*.geo.suffix" (geo-replicas:
// the kubelet's globs match label by label, so the regional form needs a
// pattern of its own). Data endpoints (name.region.data.suffix) are left
// out on purpose: they are reached by redirect and never get a token.
// saMode adds the tokenAttributes for per-pod identities (KEP-4412).
func (h *Helper) KubeletConfig(saMode bool) (string, error) {
	cfg, err := h.config()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n")
	b.WriteString("  - name: docker-credential-acr\n    apiVersion: " + kubeletAPIVersion + "\n    args: [kubelet]\n    matchImages:\n")
	for _, s := range loginserver.Suffixes(cfg.CloudSuffixes()...) {
		fmt.Fprintf(&b, "      - \"*.%s\"\n      - \"*.*.geo.%s\"\n", s, s)
	}
	for _, m := range cfg.Mirrors() {
		fmt.Fprintf(&b, "      - %q\n", m.Upstream)
	}
	// The kubelet's cache entry is refreshed by our cacheDuration; this
	// default applies only to answers without one (other images).
	b.WriteString("    defaultCacheDuration: 10m\n")
	if saMode {
		b.WriteString(`    tokenAttributes:
      serviceAccountTokenAudience: api://AzureADTokenExchange
      cacheType: ServiceAccount
      requireServiceAccount: true
      requiredServiceAccountAnnotationKeys:
        - ` + AnnotationClientID + `
      optionalServiceAccountAnnotationKeys:
        - ` + AnnotationTenantID + "\n")
	}
	return b.String(), nil
}
