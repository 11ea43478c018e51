package credhelper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
)

// DefaultDoctorTimeout bounds a whole doctor run when DoctorOptions.Timeout
// is zero.
const DefaultDoctorTimeout = 60 * time.Second

// MaxClockSkew is how far the servers' clocks may be from this machine's
// before doctor reports clock-skew.
const MaxClockSkew = 5 * time.Minute

// The step names of a doctor report: a stable interface.
const (
	StepHost          = "host"
	StepSettings      = "settings"
	StepEntraToken    = "entra-token"
	StepChallenge     = "challenge"
	StepExchange      = "exchange"
	StepRegistryToken = "registry-token"
	StepClock         = "clock"
)

// The problem codes of a doctor report: a stable interface.
const (
	ProblemNoIdentity          = "no-identity"
	ProblemIdentityNotFound    = "identity-not-found"
	ProblemAudienceDisallowed  = "audience-disallowed"
	ProblemFirewall            = "firewall"
	ProblemMissingRole         = "missing-role"
	ProblemFederatedMismatch   = "federated-mismatch"
	ProblemClockSkew           = "clock-skew"
	ProblemRegistryUnreachable = "registry-unreachable"
	// ProblemOther is any other failure; its summary is the server's own
	// words.
	ProblemOther = "other"
)

// DoctorOptions configure one doctor run.
type DoctorOptions struct {
	// Registry is the login server to check; "" checks the machine only.
	Registry string
	// Repository, with a Registry, asks for a registry access token for
	// repository:<Repository>:pull and reports what it grants.
	Repository string
	// Timeout bounds the run; zero means DefaultDoctorTimeout.
	Timeout time.Duration
	// LookPath finds az and azd; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// Now is the local clock; nil means time.Now.
	Now func() time.Time
}

// DoctorReport is what doctor found. Its JSON form is documented in the
// README and is a stable interface.
type DoctorReport struct {
	// Registry is the login server, nil without one.
	Registry *string `json:"registry"`
	// OK is false when a step or check failed.
	OK bool `json:"ok"`
	// Sources are the identity sources, in the order they are tried.
	Sources []DoctorSource `json:"sources"`
	// Chosen is the source that would be (or was) used, nil if none.
	Chosen *string `json:"chosen"`
	// Steps are the steps of one get, run fresh, in order; empty without
	// a registry.
	Steps []DoctorStep `json:"steps"`
	// Checks are the machine's: imds, proxy, config, cache.
	Checks []DoctorStep `json:"checks"`
	// Problem is the first failure, nil when there is none.
	Problem *DoctorProblem `json:"problem"`
}

// DoctorSource is one identity source and whether it is usable here.
type DoctorSource struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
}

// DoctorStep is one step or check, its result and duration.
type DoctorStep struct {
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	MS     float64 `json:"ms"`
	Detail string  `json:"detail"`
}

// DoctorProblem names the first failure: its code, the evidence and the
// fix.
type DoctorProblem struct {
	Code    string `json:"code"`
	Summary string `json:"summary"`
	Fix     string `json:"fix"`
}

// Doctor runs the checks and writes the report to w, as JSON when asJSON,
// else as a checklist. It returns the report; the caller's exit status is
// non-zero when !report.OK. It never writes a token.
func (h *Helper) Doctor(ctx context.Context, o DoctorOptions, asJSON bool, w io.Writer) (*DoctorReport, error) {
	r := h.Diagnose(ctx, o)
	var err error
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(w)
	}
	return r, err
}

// doctorRun is the state of one run.
type doctorRun struct {
	h     *Helper
	o     DoctorOptions
	r     *DoctorReport
	clock *clockWatch
	// failure is the first failed step's error and name.
	failErr  error
	failStep string
	// facts gathered on the way, for the diagnosis.
	entra      acr.EntraFacts
	haveEntra  bool
	tokenSkews []string
	skew       *clockSkewError
}

// Diagnose runs the checks and returns the report.
func (h *Helper) Diagnose(ctx context.Context, o DoctorOptions) *DoctorReport {
	if o.Timeout <= 0 {
		o.Timeout = DefaultDoctorTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	d := &doctorRun{h: h, o: o, r: &DoctorReport{OK: true, Sources: []DoctorSource{}, Steps: []DoctorStep{}, Checks: []DoctorStep{}},
		clock: &clockWatch{now: o.Now}}
	cfg := d.machine(ctx)
	if o.Registry != "" {
		d.registry(ctx, cfg)
	}
	d.conclude()
	return d.r
}

// timed runs f and records it as a step (or check) named name.
func (d *doctorRun) timed(list *[]DoctorStep, name string, f func() (string, error)) error {
	start := time.Now()
	detail, err := f()
	st := DoctorStep{Name: name, OK: err == nil, MS: ms(time.Since(start)), Detail: detail}
	if err != nil {
		d.r.OK = false
		if st.Detail == "" {
			st.Detail = err.Error()
		}
		if d.failErr == nil {
			d.failErr, d.failStep = err, name
		}
	}
	*list = append(*list, st)
	return err
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// registry runs the steps of one get for o.Registry, fresh: no cache is
// read or written.
func (d *doctorRun) registry(ctx context.Context, cfg *config.Config) {
	var reg loginserver.Registry
	err := d.timed(&d.r.Steps, StepHost, func() (string, error) {
		var extra []loginserver.CloudSuffix
		if cfg != nil {
			extra = cfg.CloudSuffixes()
		}
		var err error
		reg, err = loginserver.Parse(d.o.Registry, extra...)
		if err != nil {
			return "", fmt.Errorf("%s is not an Azure Container Registry login server: %w", printable(d.o.Registry), err)
		}
		host := reg.Host
		d.r.Registry = &host
		return fmt.Sprintf("%s (cloud %s)", reg.Host, reg.Cloud.Name), nil
	})
	if err != nil {
		name := printable(d.o.Registry)
		d.r.Registry = &name
		d.placeholderSources(ctx, cfg)
		d.clockStep()
		return
	}
	if cfg == nil {
		d.timed(&d.r.Steps, StepSettings, func() (string, error) {
			return "", errors.New("the config file cannot be used (see the config check)")
		})
		d.clockStep()
		return
	}
	var s config.Settings
	if d.timed(&d.r.Steps, StepSettings, func() (string, error) {
		var err error
		s, err = cfg.ResolveRegistry(reg, d.h.o.Getenv)
		if err != nil {
			return "", err
		}
		return describeSettings(s), nil
	}) != nil {
		d.placeholderSources(ctx, cfg)
		d.clockStep()
		return
	}
	// The sources are listed for this registry's settings.
	d.r.Sources, d.r.Chosen = d.sources(ctx, reg, s)
	d.r.Chosen = nil

	x := acr.NewExchanger(acr.Options{HTTPClient: d.clock.client(d.h.o.HTTPClient), Logger: d.h.o.Logger})
	var entra token.EntraToken
	if d.timed(&d.r.Steps, StepEntraToken, func() (string, error) {
		var src string
		var err error
		entra, src, err = d.entraToken(ctx, reg, s)
		if src != "" {
			d.r.Chosen = &src
		}
		if err != nil {
			return "", err
		}
		return d.entraDetail(src, entra), nil
	}) != nil {
		d.clockStep()
		return
	}
	var ch acr.Challenge
	if d.timed(&d.r.Steps, StepChallenge, func() (string, error) {
		var err error
		ch, err = x.Challenge(ctx, reg.Host)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Bearer challenge for service %s, realm on the login server", ch.Service), nil
	}) != nil {
		d.clockStep()
		return
	}
	var rt token.RefreshToken
	if d.timed(&d.r.Steps, StepExchange, func() (string, error) {
		var err error
		rt, err = x.ExchangeAt(ctx, ch, token.ExchangeRequest{LoginServer: reg.Host, EntraToken: entra.Token, Tenant: s.TenantID})
		if err != nil {
			return "", err
		}
		return d.refreshDetail(rt), nil
	}) != nil {
		d.clockStep()
		return
	}
	if d.o.Repository != "" {
		d.timed(&d.r.Steps, StepRegistryToken, func() (string, error) {
			return d.registryToken(ctx, x, ch, rt)
		})
	}
	d.clockStep()
}

// entraToken asks the sources in order, as the provider does (the next on
// an unavailable one, the next scope where the audience is unavailable),
// for a fresh Entra token.
func (d *doctorRun) entraToken(ctx context.Context, reg loginserver.Registry, s config.Settings) (token.EntraToken, string, error) {
	sources, skipped, err := d.identitySources(reg, s)
	if err != nil {
		return token.EntraToken{}, "", err
	}
	reasons := append([]error(nil), skipped...)
	names := make([]string, len(sources))
	for i, src := range sources {
		names[i] = src.Name()
	}
	for _, src := range sources {
		var lastErr error
		for i, scope := range s.Scopes {
			tok, err := src.EntraToken(ctx, reg.Cloud, scope)
			if err == nil {
				return tok, src.Name(), nil
			}
			lastErr = err
			if !errors.Is(err, token.ErrSourceUnavailable) && token.IsAudienceUnavailable(err) && i+1 < len(s.Scopes) {
				continue
			}
			break
		}
		if !errors.Is(lastErr, token.ErrSourceUnavailable) {
			return token.EntraToken{}, src.Name(), lastErr
		}
		reasons = append(reasons, lastErr)
	}
	return token.EntraToken{}, "", &token.NoSourceError{LoginServer: reg.Host, Reasons: reasons, Sources: names}
}

// identitySources are the sources get would use for reg, built as the
// provider's are.
func (d *doctorRun) identitySources(reg loginserver.Registry, s config.Settings) ([]token.Source, []error, error) {
	h := d.h
	if h.o.Credential != nil {
		return []token.Source{token.FromCredential("credential", h.o.CredentialIdentity, h.o.Credential)}, nil, nil
	}
	ss, so := h.identitySettings(reg, s)
	so.LookPath = d.o.LookPath
	if len(s.Sources) > 0 {
		sources, err := identity.New(s.Sources, ss, so)
		return sources, nil, err
	}
	sources, skipped := identity.Auto(ss, so)
	return sources, skipped, nil
}

func (d *doctorRun) entraDetail(src string, t token.EntraToken) string {
	f, ok := acr.EntraTokenFacts(t.Token)
	if !ok {
		return fmt.Sprintf("from %s; the token's claims cannot be read; expires %s", src, stamp(t.ExpiresOn))
	}
	d.entra, d.haveEntra = f, true
	now := d.o.Now()
	if !f.NotBefore.IsZero() && f.NotBefore.After(now.Add(MaxClockSkew)) {
		d.tokenSkews = append(d.tokenSkews, "the Entra token is not valid before "+stamp(f.NotBefore))
	}
	if !f.ExpiresAt.IsZero() && !f.ExpiresAt.After(now) {
		d.tokenSkews = append(d.tokenSkews, "the Entra token expired at "+stamp(f.ExpiresAt)+" when it was issued")
	}
	parts := []string{"from " + src}
	for _, kv := range [][2]string{{"tenant", f.Tenant}, {"object id", f.ObjectID}, {"app id", f.AppID}, {"audience", f.Audience}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if !f.ExpiresAt.IsZero() {
		parts = append(parts, "expires "+stamp(f.ExpiresAt))
	}
	return strings.Join(parts, ", ")
}

func (d *doctorRun) refreshDetail(rt token.RefreshToken) string {
	now := d.o.Now()
	if rt.ExpiresAt.IsZero() {
		return "refresh token without a readable expiry (it would be used once and not cached)"
	}
	if !rt.ExpiresAt.After(now) {
		d.tokenSkews = append(d.tokenSkews, "the refresh token expired at "+stamp(rt.ExpiresAt)+" when it was issued")
	}
	if !rt.IssuedAt.IsZero() && rt.IssuedAt.After(now.Add(MaxClockSkew)) {
		d.tokenSkews = append(d.tokenSkews, "the refresh token was issued at "+stamp(rt.IssuedAt)+", in this machine's future")
	}
	detail := "refresh token expires " + stamp(rt.ExpiresAt)
	if rt.Tenant != "" {
		detail += ", tenant " + rt.Tenant
	}
	return detail
}

// registryToken asks for repository:REPO:pull and checks that pull is
// granted.
func (d *doctorRun) registryToken(ctx context.Context, x *acr.Exchanger, ch acr.Challenge, rt token.RefreshToken) (string, error) {
	scope := "repository:" + d.o.Repository + ":pull"
	f, err := x.AccessToken(ctx, ch, rt.Token, scope)
	if err != nil {
		return "", err
	}
	actions := f.Actions("repository", d.o.Repository)
	granted := "none"
	if len(actions) > 0 {
		granted = strings.Join(actions, ",")
	}
	detail := fmt.Sprintf("%s: granted actions: %s", scope, granted)
	for _, a := range actions {
		if a == "pull" || a == "*" {
			return detail, nil
		}
	}
	return detail, &noGrantError{repository: d.o.Repository, granted: granted}
}

// noGrantError is a registry access token that does not grant pull.
type noGrantError struct{ repository, granted string }

func (e *noGrantError) Error() string {
	return fmt.Sprintf("the registry granted no pull on repository %s (granted: %s)", e.repository, e.granted)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
