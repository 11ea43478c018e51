// Package kubelet checks docker-credential-acr as a kubelet image
// credential provider with the kubelet's own code: its strict decoder for
// the plugin's responses (this file), and its plugin runner,
// k8s.io/kubernetes/pkg/credentialprovider/plugin (scenario.go, and the
// end-to-end tests in ./e2e).
//
// It is a module of its own so that the product's go.mod never depends on
// k8s.io/kubernetes.
package kubelet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	kubeletconfigv1 "k8s.io/kubelet/config/v1"
	credentialproviderapi "k8s.io/kubelet/pkg/apis/credentialprovider"
	"k8s.io/kubelet/pkg/apis/credentialprovider/install"
	credentialproviderv1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"
)

// APIVersion is the credential provider API the product speaks.
const APIVersion = "credentialprovider.kubelet.k8s.io/v1"

// What the product's configs and requests use.
const (
	ProviderName       = "docker-credential-acr"
	FederatedAudience  = "api://AzureADTokenExchange"
	AnnotationClientID = "azure.workload.identity/client-id"
	AnnotationTenantID = "azure.workload.identity/tenant-id"
	// cloud-provider-azure's acr-credential-provider annotations.
	AnnotationACRClientID = "kubernetes.azure.com/acr-client-id"
	AnnotationACRTenantID = "kubernetes.azure.com/acr-tenant-id"
	// ZeroGUID is the username of an ACR refresh token.
	ZeroGUID = "00000000-0000-0000-0000-000000000000"
)

// The same scheme and codec factory as the kubelet's plugin package
// (pkg/credentialprovider/plugin/plugin.go): the credential provider API
// groups installed, strict decoding.
var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme, serializer.EnableStrict)
)

func init() { install.Install(scheme) }

// DecodeResponse accepts a plugin's stdout exactly when the kubelet would,
// and returns the response as the kubelet sees it. It follows
// execPlugin.ExecPlugin and decodeResponse (the apiVersion read first and
// compared with the config's, then the strict universal decoder, the kind
// and group checked), then pluginProvider.provide's check of cacheKeyType.
func DecodeResponse(data []byte) (*credentialproviderapi.CredentialProviderResponse, error) {
	gvk, err := k8sjson.DefaultMetaFactory.Interpret(data)
	if err != nil {
		return nil, fmt.Errorf("error reading GVK from response: %w", err)
	}
	if gvk.GroupVersion().String() != APIVersion {
		return nil, fmt.Errorf("apiVersion from credential plugin response did not match expected apiVersion:%s, actual apiVersion:%s", APIVersion, gvk.GroupVersion().String())
	}
	obj, gvk2, err := codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("error decoding credential provider plugin response from stdout: %w", err)
	}
	if gvk2.Kind != "CredentialProviderResponse" {
		return nil, fmt.Errorf("failed to decode CredentialProviderResponse, unexpected Kind: %q", gvk2.Kind)
	}
	if gvk2.Group != credentialproviderapi.GroupName {
		return nil, fmt.Errorf("failed to decode CredentialProviderResponse, unexpected Group: %s", gvk2.Group)
	}
	resp, ok := obj.(*credentialproviderapi.CredentialProviderResponse)
	if !ok {
		return nil, fmt.Errorf("unable to convert %T to *CredentialProviderResponse", obj)
	}
	switch resp.CacheKeyType {
	case credentialproviderapi.ImagePluginCacheKeyType, credentialproviderapi.RegistryPluginCacheKeyType, credentialproviderapi.GlobalPluginCacheKeyType:
	default:
		return nil, fmt.Errorf("credential plugin did not return a valid cacheKeyType: %s", resp.CacheKeyType)
	}
	return resp, nil
}

// EncodeRequest is the request the kubelet writes to the plugin's stdin
// (execPlugin.encodeRequest): the internal type encoded as v1 JSON.
func EncodeRequest(image, saToken string, annotations map[string]string) ([]byte, error) {
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		return nil, errors.New("no JSON serializer")
	}
	enc := codecs.EncoderForVersion(info.Serializer, credentialproviderv1.SchemeGroupVersion)
	return runtime.Encode(enc, &credentialproviderapi.CredentialProviderRequest{Image: image, ServiceAccountToken: saToken, ServiceAccountAnnotations: annotations})
}

// Provider describes one entry of a CredentialProviderConfig.
type Provider struct {
	// Name is the binary's name in the bin directory; default ProviderName.
	Name         string
	MatchImages  []string
	CacheDefault time.Duration
	Env          map[string]string
	// SA, when set, puts the provider in service-account-token mode.
	SA *SAMode
}

// SAMode is a provider's tokenAttributes.
type SAMode struct {
	Audience     string // default FederatedAudience
	CacheType    string // default ServiceAccount
	RequireSA    bool
	RequiredKeys []string
	OptionalKeys []string
}

// WriteConfig writes a CredentialProviderConfig (kubelet.config.k8s.io/v1)
// with one entry per provider, each run as `NAME kubelet`.
func WriteConfig(path string, providers ...Provider) error {
	cfg := kubeletconfigv1.CredentialProviderConfig{
		TypeMeta: metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1", Kind: "CredentialProviderConfig"},
	}
	for _, p := range providers {
		cp := kubeletconfigv1.CredentialProvider{
			Name:                 p.Name,
			MatchImages:          p.MatchImages,
			DefaultCacheDuration: &metav1.Duration{Duration: p.CacheDefault},
			APIVersion:           APIVersion,
			Args:                 []string{"kubelet"},
		}
		if cp.Name == "" {
			cp.Name = ProviderName
		}
		if p.CacheDefault == 0 {
			cp.DefaultCacheDuration.Duration = 10 * time.Minute
		}
		for _, k := range sortedKeys(p.Env) {
			cp.Env = append(cp.Env, kubeletconfigv1.ExecEnvVar{Name: k, Value: p.Env[k]})
		}
		if p.SA != nil {
			aud, ct := p.SA.Audience, p.SA.CacheType
			if aud == "" {
				aud = FederatedAudience
			}
			if ct == "" {
				ct = string(kubeletconfigv1.ServiceAccountServiceAccountTokenCacheType)
			}
			req := p.SA.RequireSA
			cp.TokenAttributes = &kubeletconfigv1.ServiceAccountTokenAttributes{
				ServiceAccountTokenAudience:          aud,
				CacheType:                            kubeletconfigv1.ServiceAccountTokenCacheType(ct),
				RequireServiceAccount:                &req,
				RequiredServiceAccountAnnotationKeys: p.SA.RequiredKeys,
				OptionalServiceAccountAnnotationKeys: p.SA.OptionalKeys,
			}
		}
		cfg.Providers = append(cfg.Providers, cp)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
