// Package acr trades a Microsoft Entra access token for an Azure Container
// Registry refresh token: it reads the registry's challenge (GET /v2/,
// RFC 7235), posts to /oauth2/exchange, and reports the refresh token's
// lifetime and the tenant it was exchanged for, so that no other package
// decodes JWTs. Its errors (*Error) say what failed in terms of the
// protocol, with a Kind to test; what a user of a particular front end
// should change is for that front end to say.
package acr
