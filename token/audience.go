package token

import (
	"errors"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// isAudienceUnavailableCode reports the Entra codes that mean "this tenant
// or cloud cannot mint tokens for the requested resource", as opposed to a
// problem with the identity itself. Environments such as Azure Local
// answer the ACR audience with these (azure-cli#33674), and only there is
// retrying with the ARM audience useful.
func isAudienceUnavailableCode(code string) bool {
	switch code {
	case "AADSTS50001", // the resource is disabled or does not exist
		"AADSTS500011": // the resource principal was not found in the tenant
		return true
	}
	return false
}

// IsAudienceUnavailable reports whether err means the requested Entra
// audience cannot be had here, so that the next configured scope (the
// "acr-then-arm" audience) may be tried. Only Entra's answer counts: an
// exchange error carries registry-supplied text and is never taken for
// one.
func IsAudienceUnavailable(err error) bool {
	var exchangeErr exchangeFailure
	if err == nil || errors.As(err, &exchangeErr) {
		return false
	}
	// Every whole code counts: AADSTS50001 must not match AADSTS500014.
	for _, code := range safetext.AADSTSCodes(err.Error()) {
		if isAudienceUnavailableCode(code) {
			return true
		}
	}
	return false
}
