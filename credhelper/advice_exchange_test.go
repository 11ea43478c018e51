package credhelper

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// TestExchangeAdvice: the CLI's text for a registry refusal keeps the
// cause token/acr reports and adds the settings to change, which token/acr
// no longer names. These assertions were token's exchange tests'.
func TestExchangeAdvice(t *testing.T) {
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tests := []struct {
		name   string
		err    *acr.Error
		want   []string // substrings of the CLI text
		advice bool
	}{
		{
			name: "ARM audience disallowed",
			err: &acr.Error{Kind: acr.KindARMAudienceDisallowed, LoginServer: "myreg.azurecr.io", Step: "exchange", StatusCode: 401,
				Hint: "the registry refuses ARM-audience tokens (its azureADAuthenticationAsArmPolicy is disabled); use the ACR audience"},
			want:   []string{"exchange at myreg.azurecr.io", "ARM-audience", "use the ACR audience", "DOCKER_CREDENTIAL_ACR_AUDIENCE=acr", "audience: acr in the config file", "unset DOCKER_CREDENTIAL_ACR_SCOPE", "scope: in the config file"},
			advice: true,
		},
		{
			name: "unauthorized",
			err: &acr.Error{Kind: acr.KindUnauthorized, LoginServer: "myreg.azurecr.io", Step: "exchange", StatusCode: 401, Tenant: tenant,
				Hint: "the identity may lack the AcrPull (or AcrPush) role on this registry, or its token comes from another tenant than the registry's (tenant sent: " + tenant + ")"},
			want:   []string{"AcrPull", "tenant sent: " + tenant, "set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file) to the registry's tenant"},
			advice: true,
		},
		{
			name:   "unexpected status",
			err:    &acr.Error{Kind: acr.KindUnexpectedStatus, LoginServer: "myreg.azurecr.io", Step: "exchange", StatusCode: 400, Hint: "unexpected answer"},
			want:   []string{"unexpected answer; rerun with DOCKER_CREDENTIAL_ACR_LOG=debug for details"},
			advice: true,
		},
		{
			name: "firewall needs no setting of ours",
			err:  &acr.Error{Kind: acr.KindFirewall, LoginServer: "myreg.azurecr.io", Step: "exchange", StatusCode: 403, Hint: "see https://aka.ms/acr/firewall"},
			want: []string{"aka.ms/acr/firewall"},
		},
		{
			name: "network",
			err:  &acr.Error{Kind: acr.KindNetwork, LoginServer: "myreg.azurecr.io", Step: "challenge", Hint: "check connectivity to the registry and proxy settings (HTTPS_PROXY, NO_PROXY)"},
			want: []string{"HTTPS_PROXY"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the provider returns it, and wrapped once more.
			for _, err := range []error{tt.err, fmt.Errorf("outer: %w", tt.err)} {
				advice, ok := exchangeAdvice(err)
				if ok != tt.advice || (ok && advice == "") {
					t.Fatalf("exchangeAdvice(%v) = %q, %v; want advice: %v", err, advice, ok, tt.advice)
				}
				got := advise(err, adviceContext{})
				text := got.Error()
				if !strings.HasPrefix(text, err.Error()) {
					t.Errorf("CLI text %q does not begin with the cause %q", text, err)
				}
				for _, s := range tt.want {
					if !strings.Contains(text, s) {
						t.Errorf("CLI text %q does not contain %q", text, s)
					}
				}
				var xe *acr.Error
				if !errors.As(got, &xe) || xe != tt.err {
					t.Errorf("errors.As does not find the *acr.Error through the advice")
				}
				if !tt.advice && got != err {
					t.Errorf("an error without advice was wrapped: %v", got)
				}
			}
		})
	}
	if _, ok := exchangeAdvice(errors.New("401 arm aad token disallowed")); ok {
		t.Error("advice for an error that is not an *acr.Error")
	}
	if _, ok := exchangeAdvice(nil); ok {
		t.Error("advice for nil")
	}
}
