package credhelper

import (
	"errors"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// exchangeAdvice returns what a docker user should change when err's chain
// holds a registry refusal (*acr.Error) that a setting of ours can fix: the
// variable, the config key. token/acr says what happened in the API's
// terms; the CLI's text is the error followed by "; " and this advice.
func exchangeAdvice(err error) (advice string, ok bool) {
	var xe *acr.Error
	if !errors.As(err, &xe) {
		return "", false
	}
	switch xe.Kind {
	case acr.KindARMAudienceDisallowed:
		return "set " + config.EnvAudience + "=acr (or audience: acr in the config file), and unset " + config.EnvScope +
			" (or scope: in the config file) if it names an ARM scope", true
	case acr.KindUnauthorized:
		return "set " + config.EnvTenantID + " (or tenantID in the config file) to the registry's tenant", true
	case acr.KindUnexpectedStatus:
		return "rerun with DOCKER_CREDENTIAL_ACR_LOG=debug for details", true
	}
	return "", false
}
