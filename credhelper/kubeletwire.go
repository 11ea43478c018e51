package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The kubelet's image credential provider protocol, version
// credentialprovider.kubelet.k8s.io/v1 (k8s.io/kubelet/pkg/apis/
// credentialprovider/v1). The structs are our own, not the kubelet's: its
// types pull in k8s.io/apimachinery, whose package initialisation would run
// on every docker 'get' (measured: about 1 ms and 2 MiB). Tests check them
// against the kubelet's types and its strict decoder.
const (
	kubeletAPIVersion   = "credentialprovider.kubelet.k8s.io/v1"
	kubeletRequestKind  = "CredentialProviderRequest"
	kubeletResponseKind = "CredentialProviderResponse"
)

// kubeletRequest is what the kubelet writes to the plugin's stdin.
type kubeletRequest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Image is the repository, without tag or digest:
	// "myreg.azurecr.io/team/app".
	Image string `json:"image"`
	// ServiceAccountToken is the pod's service-account token for the
	// audience the provider's tokenAttributes name (KEP-4412); empty in
	// node mode. It is a credential: never logged, never returned.
	ServiceAccountToken       string            `json:"serviceAccountToken,omitempty"`
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`
}

// kubeletResponse is what the plugin writes to stdout: exactly this object.
// The kubelet decodes it strictly: an unknown field, a numeric
// cacheDuration or a cacheKeyType in another case is refused.
type kubeletResponse struct {
	Kind         string `json:"kind"`
	APIVersion   string `json:"apiVersion"`
	CacheKeyType string `json:"cacheKeyType"`
	// CacheDuration is a Go duration string ("2h45m0s"); absent means
	// the provider config's defaultCacheDuration, "0s" not cached.
	CacheDuration string                     `json:"cacheDuration,omitempty"`
	Auth          map[string]kubeletAuthPair `json:"auth,omitempty"`
}

type kubeletAuthPair struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// maxKubeletRequest bounds the request: an image name, a service-account
// token of a few KiB and a handful of annotations.
const maxKubeletRequest = 1 << 20

// decodeKubeletRequest reads exactly one request object. Unknown fields are
// accepted, so that a newer kubelet's additions do not break pulls; the
// version, the kind, the image and the shape of the input are not.
func decodeKubeletRequest(r io.Reader) (kubeletRequest, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKubeletRequest+1))
	if err != nil {
		return kubeletRequest{}, fmt.Errorf("reading the CredentialProviderRequest from standard input: %v", err)
	}
	if len(data) > maxKubeletRequest {
		return kubeletRequest{}, fmt.Errorf("the CredentialProviderRequest on standard input is larger than %d KiB", maxKubeletRequest>>10)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return kubeletRequest{}, errors.New("no CredentialProviderRequest on standard input: the kubelet sends one JSON object; run this command only from a kubelet CredentialProviderConfig")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var req kubeletRequest
	if err := dec.Decode(&req); err != nil {
		return kubeletRequest{}, fmt.Errorf("the CredentialProviderRequest on standard input is not valid JSON: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return kubeletRequest{}, errors.New("standard input holds more than one JSON value; the kubelet sends exactly one CredentialProviderRequest")
	}
	switch {
	case req.APIVersion != kubeletAPIVersion:
		return kubeletRequest{}, fmt.Errorf("the request's apiVersion is %q, but this plugin speaks %s; set apiVersion: %s in the kubelet's CredentialProviderConfig", printableField(req.APIVersion), kubeletAPIVersion, kubeletAPIVersion)
	case req.Kind != kubeletRequestKind:
		return kubeletRequest{}, fmt.Errorf("the request's kind is %q, want %s", printableField(req.Kind), kubeletRequestKind)
	case strings.TrimSpace(req.Image) == "":
		return kubeletRequest{}, errors.New("the CredentialProviderRequest has no image")
	}
	return req, nil
}

// jsonProblem says where JSON decoding failed without echoing the input,
// which may hold a service-account token.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s, not a JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends in the middle of the object"
	}
	return "it is not one JSON object"
}

// printableField bounds an echoed request field: apiVersion and kind are
// short names, never secrets, but may be anything.
func printableField(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// kubeletCacheDuration is how long the kubelet may keep a token: its
// remaining life minus the refresh margin, so that the kubelet asks again
// just when our cache would refresh. A token without a known expiry gets
// "0s" (not cached by the kubelet), as it is not cached by us either.
func kubeletCacheDuration(now, refreshAt time.Time) string {
	d := refreshAt.Sub(now).Truncate(time.Second)
	if refreshAt.IsZero() || d <= 0 {
		return "0s"
	}
	return d.String()
}

// encodeKubeletResponse writes one response object and a newline.
func encodeKubeletResponse(w io.Writer, resp kubeletResponse) error {
	resp.Kind, resp.APIVersion = kubeletResponseKind, kubeletAPIVersion
	data, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
