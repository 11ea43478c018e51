package credhelper_test

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// A Go program (ko, cosign, kaniko, …) embeds the helper with its own
// credential and uses it as a go-containerregistry keychain. Here the
// credential and the registry are fakes; a real program passes, say,
// azidentity.NewDefaultAzureCredential and leaves HTTPClient nil.
func Example() {
	acr := newFakeACR() // stands in for myreg.azurecr.io
	defer acr.server.Close()
	cacheDir, _ := os.MkdirTemp("", "acr-example")
	defer os.RemoveAll(cacheDir)

	helper := credhelper.New(credhelper.Options{
		Credential:         acr.credential(azuresim.ACRAudience),
		CredentialIdentity: "example-app",
		Cache:              filecache.New(cacheDir, filecache.Options{}),
		HTTPClient:         acr.client(),
	})
	keychain := authn.NewKeychainFromHelper(helper)

	repo, _ := name.NewRepository("myreg.azurecr.io/hello")
	auth, err := keychain.Resolve(repo)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, _ := auth.Authorization()
	fmt.Println("identity token:", cfg.IdentityToken != "")

	_, err = keychain.Resolve(name.MustParseReference("docker.io/library/alpine").Context())
	fmt.Println("docker.io:", err)
	// Output:
	// identity token: true
	// docker.io: <nil>
}
