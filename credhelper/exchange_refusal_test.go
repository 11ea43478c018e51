package credhelper_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// TestGetAdvisesOnRegistryRefusal runs a refusal through Get: the
// text a docker user reads names the setting; the error is still an
// *acr.Error for errors.As.
func TestGetAdvisesOnRegistryRefusal(t *testing.T) {
	for _, tt := range []struct {
		message string
		want    []string
	}{
		{"arm aad token disallowed", []string{`registry answered 401 UNAUTHORIZED "arm aad token disallowed"`, "DOCKER_CREDENTIAL_ACR_AUDIENCE=acr", "unset DOCKER_CREDENTIAL_ACR_SCOPE"}},
		{"aad token is invalid", []string{`401 UNAUTHORIZED "aad token is invalid"`, "set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file) to the registry's tenant"}},
	} {
		reg := newFakeACR()
		defer reg.server.Close()
		reg.refusal = tt.message
		h := credhelper.New(credhelper.Options{
			Getenv:             func(string) string { return "" },
			Credential:         &staticCredential{token: "entra-token-for-advice-test"},
			CredentialIdentity: "client-id",
			HTTPClient:         reg.client(),
		})
		_, _, err := h.GetContext(context.Background(), "myreg.azurecr.io")
		if err == nil {
			t.Fatal("Get succeeded against a refusing registry")
		}
		for _, s := range tt.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not contain %q", err, s)
			}
		}
		var xe *acr.Error
		if !errors.As(err, &xe) || xe.StatusCode != 401 {
			t.Errorf("errors.As(%v) finds no 401 *acr.Error", err)
		}
	}
}
