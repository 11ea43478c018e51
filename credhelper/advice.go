package credhelper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// This file is the one place that turns the token packages' structured
// errors into what a docker user should do: which variable, which config
// key, which command. The token packages say what happened in the terms of
// their API; a program that embeds them gets that cause alone.
//
// The CLI's text is the cause, then "; " and the advice, so that the cause
// reads the same for every front end and the advice comes last.

// adviceContext is what the advice depends on beyond the error.
type adviceContext struct {
	// sourcesChosen says the user listed the sources (config.EnvSources or
	// sources: in the config file) rather than leaving the automatic order.
	sourcesChosen bool
	// deadlinePassed says the call's own deadline (its timeout) passed
	// before the error, so the budget, not a refusal, ended it; timeout is
	// that budget and timeoutFrom the setting it came from
	// (config.EnvTimeout, a config file entry, or "the default").
	deadlinePassed bool
	timeout        time.Duration
	timeoutFrom    string
}

// adviceError is a cause with the CLI's advice after it. The cause stays in
// the chain: errors.Is and errors.As see through it.
type adviceError struct {
	err    error
	advice string
}

func (e *adviceError) Error() string { return e.err.Error() + "; " + e.advice }
func (e *adviceError) Unwrap() error { return e.err }

// advise returns err with the advice for it, or err itself when there is
// none.
func advise(err error, a adviceContext) error {
	if err == nil {
		return nil
	}
	var advice string
	var nse *token.NoSourceError
	var se *token.SourceError
	switch {
	case a.deadlinePassed && errors.Is(err, context.DeadlineExceeded):
		advice = deadlineAdvice(err, a)
	case errors.As(err, &nse):
		advice = noSourceAdvice(nse, a)
	case errors.As(err, &se):
		advice = sourceAdvice(se)
	default:
		advice, _ = exchangeAdvice(err)
	}
	if advice == "" {
		return err
	}
	return &adviceError{err: err, advice: advice}
}

// deadlineAdvice names what hung, from the structured error's facts (an
// identity source's endpoint, the registry's step and URL), and the
// setting that bounds the wait.
func deadlineAdvice(err error, a adviceContext) string {
	what := "the step in progress"
	var xe *acr.Error
	var se *token.SourceError
	switch {
	case errors.As(err, &xe) && xe.Endpoint != "":
		what = "the registry's " + xe.Step + " (" + xe.Endpoint + ")"
	case errors.As(err, &xe):
		what = "the registry's " + xe.Step + " at " + xe.LoginServer
	case errors.As(err, &se) && se.Endpoint != "":
		what = "the " + se.Source + " source's " + se.Endpoint
	case errors.As(err, &se):
		what = "the " + se.Source + " source"
	}
	raise := fmt.Sprintf("raise %s (now %s, the default) or timeout: in the config file", config.EnvTimeout, a.timeout)
	switch {
	case a.timeoutFrom == config.EnvTimeout:
		raise = fmt.Sprintf("raise %s (now %s)", config.EnvTimeout, a.timeout)
	case strings.Contains(a.timeoutFrom, "config file"):
		raise = fmt.Sprintf("raise timeout: in %s (now %s), or set %s", a.timeoutFrom, a.timeout, config.EnvTimeout)
	}
	return fmt.Sprintf("%s did not answer within the %s this helper may take; if it is only slow, %s", what, a.timeout, raise)
}

// noSourceAdvice says how to choose a source, after the advice for each
// reason that has any (a skipped source's incomplete settings, an Entra
// code in a tool's answer).
func noSourceAdvice(e *token.NoSourceError, a adviceContext) string {
	var parts []string
	for _, r := range e.Reasons {
		var se *token.SourceError
		if errors.As(r, &se) {
			if s := sourceAdvice(se); s != "" {
				parts = append(parts, se.Source+": "+s)
			}
		}
	}
	choose := "set " + config.EnvSources + " to choose a source"
	if a.sourcesChosen {
		choose = "check the settings of the sources you chose (" + config.EnvSources + " or the config file), or choose others"
	}
	if e.Remembered {
		choose += ", or set DOCKER_CREDENTIAL_ACR_NO_CACHE=1 to retry at once"
	} else {
		choose += " (see 'docker-credential-acr help')"
	}
	return strings.Join(append(parts, choose), "; ")
}

// sourceAdvice names the settings behind an identity source's error: the
// Entra codes that point at the client ID, the tenant or the audience, and
// the remedies the source names in its own terms.
func sourceAdvice(e *token.SourceError) string {
	switch e.Code {
	case "AADSTS700016":
		return "the client ID and tenant come from " + config.EnvClientID + " / _TENANT_ID, clientID / tenantID in the config file, or AZURE_CLIENT_ID / AZURE_TENANT_ID"
	case "AADSTS90002", "AADSTS90072", "AADSTS50128", "AADSTS50049":
		return "the tenant comes from " + config.EnvTenantID + ", tenantID in the config file, or AZURE_TENANT_ID"
	case "AADSTS500011", "AADSTS50001":
		return "set " + config.EnvAudience + "=acr-then-arm to fall back to the cloud's ARM audience, or arm to use it only (audience: in the config file)"
	case "AADSTS50059", "AADSTS900023":
		return "set it with " + config.EnvTenantID + " (or tenantID in the config file, or AZURE_TENANT_ID)"
	}
	switch e.Remedy {
	case token.RemedyOtherSource:
		return "choose the sources with " + config.EnvSources
	case token.RemedyClientTenant:
		return "a client ID and a tenant are set with " + config.EnvClientID + " and " + config.EnvTenantID + ", the config file, or AZURE_CLIENT_ID and AZURE_TENANT_ID"
	}
	return ""
}
