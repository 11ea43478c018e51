package token

import (
	"fmt"
	"strings"
	"time"
)

// Kind says what kind of failure a SourceError reports, so that a caller
// can decide what to do, or what to tell its user, without reading the
// text.
type Kind int

const (
	// KindOther is a failure none of the other kinds describes: a developer
	// tool's own error or unreadable output, or a bug.
	KindOther Kind = iota
	// KindUnavailable: the source does not exist here (no federated token,
	// no IMDS, no az on PATH, not logged in). The provider tries the next
	// source; errors.Is(err, ErrSourceUnavailable) reports the same.
	KindUnavailable
	// KindIncomplete: the source's environment is present but lacks a
	// value it needs (a client ID, a tenant, the other half of a pair).
	KindIncomplete
	// KindInvalid: a value the source was given is present but unusable (a
	// tenant ID that cannot be one, an authority that is not https, an
	// unreadable certificate or token file, a CI token service URL that is
	// not https).
	KindInvalid
	// KindRefused: the endpoint answered with an error: Entra (Code then
	// holds its AADSTS code, if it gave one), a managed identity endpoint,
	// a CI system's ID token service, or a developer tool reporting
	// Entra's refusal.
	KindRefused
	// KindNetwork: the endpoint did not answer (no route, refused
	// connection, no such host, a proxy's failure).
	KindNetwork
	// KindCanceled: the caller's context ended first; errors.Is matches
	// context.Canceled or context.DeadlineExceeded.
	KindCanceled
)

var kindNames = [...]string{"other", "unavailable", "incomplete", "invalid", "refused", "network", "canceled"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Remedy names, in the API's own terms, the change that would resolve a
// SourceError when it is not the obvious fix of the value the error
// names, so that a front end can word it in its own terms (a variable, a
// configuration key, a flag).
type Remedy int

const (
	// RemedyNone: the error's text, kind and code say what to change.
	RemedyNone Remedy = iota
	// RemedyOtherSource: the source's environment, as its platform set it,
	// cannot be used (or this is a bug): the way out is another source.
	RemedyOtherSource
	// RemedyClientTenant: the client ID and tenant the caller gives the
	// source (its settings' ClientID and TenantID) are the ones to set.
	RemedyClientTenant
	// RemedyAssignIdentity: the managed identity endpoint does not know
	// the user-assigned identity asked for (IMDS: "Identity not found"):
	// assign it to this machine, or name one that is.
	RemedyAssignIdentity
)

// Assertion holds the claims of a federated token that a federated
// identity credential must match. They identify; they do not authorise,
// and the token itself is never kept.
type Assertion struct {
	Issuer, Subject, Audience string
}

// SourceError is the error every identity source returns. Its text says
// what failed and why, in the terms of this API, and never holds a token,
// secret or assertion; its fields are the facts a front end needs to add
// its own advice.
type SourceError struct {
	// Kind says what kind of failure this is.
	Kind Kind
	// Source is the source's name, e.g. "workload".
	Source string
	// Code is the Entra error code when Entra answered with one, e.g.
	// "AADSTS500011" (the resource is unknown in the tenant: a reason to try
	// the ARM audience).
	Code string
	// Endpoint is what the source asked, when it got that far: the Entra
	// authority ("https://login.microsoftonline.com/"), a managed identity
	// endpoint's description, or a CI token service's URL without query.
	Endpoint string
	// ClientID and TenantID are the identity the source tried to
	// authenticate as, where it has one.
	ClientID, TenantID string
	// Assertion is the federated token's claims when Entra refused one.
	Assertion *Assertion
	// Login is the developer tool's login command (cli, azd), with the
	// tenant when one is set, e.g. "az login --tenant contoso".
	Login string
	// Remedy names a change beyond the one the text names.
	Remedy Remedy
	// Skipped reports that the automatic order left the source out on its
	// environment alone, without trying it; the text then reads
	// "name: reason", as in a list of skipped sources.
	Skipped bool
	// Reason is the text after the source's name.
	Reason string
	// Err is an underlying error kept for errors.Is (a context error), or
	// nil. Its text is already in Reason.
	Err error
}

func (e *SourceError) Error() string {
	if e.Skipped {
		return e.Source + ": " + e.Reason
	}
	return e.Source + " source: " + e.Reason
}

func (e *SourceError) Unwrap() []error {
	var errs []error
	if e.Kind == KindUnavailable {
		errs = append(errs, ErrSourceUnavailable)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// NoSourceError is the provider's error when none of its sources is
// available. errors.Is(err, ErrNoSource) matches it.
type NoSourceError struct {
	// LoginServer is the registry the token was for.
	LoginServer string
	// Reasons say why each source was left out or unavailable: those the
	// automatic order skipped first (ProviderOptions.Skipped), then those
	// tried, in order. Usually *SourceError values.
	Reasons []error
	// Sources names the sources the provider had, in order.
	Sources []string
	// Remembered reports that the sources were not tried now: none was
	// available a moment ago, and that is remembered for TTL.
	Remembered bool
	TTL        time.Duration
}

func (e *NoSourceError) Error() string {
	if e.Remembered {
		return fmt.Sprintf("%v for %s: none of the identity sources (%s) was available a moment ago, and that is remembered for %s",
			ErrNoSource, e.LoginServer, strings.Join(e.Sources, ", "), e.TTL)
	}
	reasons := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		reasons[i] = r.Error()
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "no identity sources are configured")
	}
	return fmt.Sprintf("%v for %s: %s", ErrNoSource, e.LoginServer, strings.Join(reasons, "; "))
}

// Unwrap gives ErrNoSource only: the reasons are unavailable sources, and
// the error as a whole must not read as one source's unavailability.
func (e *NoSourceError) Unwrap() error { return ErrNoSource }
