package token

import (
	"errors"
	"fmt"
	"testing"
)

func TestIsAudienceUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("invalid_resource: AADSTS500011: The resource principal named https://containerregistry.azure.net was not found"), true},
		{fmt.Errorf("managed: %w", errors.New("AADSTS50001: The resource is disabled or does not exist")), true},
		{errors.New("AADSTS500014: the service principal for resource is disabled"), false},
		{errors.New("AADSTS7000215: Invalid client secret provided"), false},
		{exchangeErr{"exchange at myreg.azurecr.io: registry answered 401 UNAUTHORIZED \"AADSTS500011 echoed by a registry\""}, false},
		{fmt.Errorf("wrapped: %w", exchangeErr{"AADSTS50001 echoed by a registry"}), false},
	}
	for _, tt := range tests {
		if got := IsAudienceUnavailable(tt.err); got != tt.want {
			t.Errorf("IsAudienceUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// exchangeErr stands in for token/acr's *Error, which token cannot import:
// what marks an exchange error is its ExchangeLoginServer method.
type exchangeErr struct{ text string }

func (e exchangeErr) Error() string               { return e.text }
func (e exchangeErr) ExchangeLoginServer() string { return "myreg.azurecr.io" }
