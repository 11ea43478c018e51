// Package token obtains ACR refresh tokens: it gets a Microsoft Entra ID
// token from an identity source, exchanges it at the registry's
// /oauth2/exchange endpoint, and keeps the result in a Cache until shortly
// before the token's own exp claim says it ends.
//
// The package knows nothing of the docker-credential protocol; front ends
// such as package credhelper call Provider.RefreshToken.
package token
