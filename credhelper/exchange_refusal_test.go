package credhelper_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// TestGetAdvisesOnRegistryRefusal runs a refusal through Get: the
// text a docker user reads names the setting; the error is still an
// *acr.Error for errors.As.
func TestGetAdvisesOnRegistryRefusal(t *testing.T) {
	reg := newFakeACR()
	defer reg.server.Close()
	for _, tt := range []struct {
		name string
		cred *staticCredential
		want []string
	}{
		// The simulated registry keeps azureADAuthenticationAsArmPolicy
		// off, as many real ones do.
		{"ARM audience", reg.credential(azuresim.ARMAudience), []string{`registry answered 401 UNAUTHORIZED "arm aad token disallowed"`, "DOCKER_CREDENTIAL_ACR_AUDIENCE=acr", "unset DOCKER_CREDENTIAL_ACR_SCOPE"}},
		{"token it did not issue", &staticCredential{token: "entra-token-for-advice-test"}, []string{`401 UNAUTHORIZED "invalid AAD access token`, "set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file) to the registry's tenant"}},
	} {
		h := credhelper.New(credhelper.Options{
			Getenv:             func(string) string { return "" },
			Credential:         tt.cred,
			CredentialIdentity: "client-id",
			HTTPClient:         reg.client(),
		})
		_, _, err := h.GetContext(context.Background(), "myreg.azurecr.io")
		if err == nil {
			t.Fatalf("%s: Get succeeded against a refusing registry", tt.name)
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
