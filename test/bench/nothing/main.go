// Command nothing is the yardstick for a cached `get`: it links the same
// packages as docker-credential-acr, so their package initialisation and
// the runtime's start-up are paid exactly as the helper pays them, and
// then exits 0 without doing anything. The helper's cost above this
// binary is what its own code adds.
package main

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/docker/docker-credential-helpers/credentials"

	_ "github.com/docker-credential-acr/docker-credential-acr/credhelper"
	_ "github.com/docker-credential-acr/docker-credential-acr/token"
	_ "github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

func main() {}
