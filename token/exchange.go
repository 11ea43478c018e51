package token

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxResponseBytes caps every response body the Exchanger reads. ACR's
// answers are a few KiB; a larger one is an error, never a truncated parse.
const MaxResponseBytes = 1 << 20

// Defaults for ExchangerOptions.
const (
	DefaultExchangeTimeout = 10 * time.Second
	defaultMaxRetries      = 2
	defaultRetryBackoff    = 200 * time.Millisecond
	maxRetryBackoff        = time.Second
	defaultMaxRetryAfter   = 2 * time.Second
)

// ExchangerOptions configures an Exchanger. The zero value is usable.
type ExchangerOptions struct {
	// HTTPClient sends the requests. nil means a client built on a clone of
	// http.DefaultTransport (so HTTPS_PROXY and NO_PROXY apply). The
	// Exchanger works on a copy whose CheckRedirect refuses every redirect:
	// a redirect must never carry the Entra token to another place.
	HTTPClient *http.Client
	// Logger receives debug records; nil discards them. No record holds a
	// token.
	Logger *slog.Logger
	// Timeout bounds each HTTP request, body included. 0 means
	// DefaultExchangeTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a 429 or 5xx answer is retried. 0 means
	// 2; negative means never. Nothing else is retried: a network error or
	// a 4xx will not fix itself within a docker pull.
	MaxRetries int
	// RetryBackoff is the first wait before a retry when the server sends
	// no Retry-After; it doubles per retry up to 1 s. 0 means 200 ms.
	RetryBackoff time.Duration
	// MaxRetryAfter caps the wait a Retry-After header may ask for: docker
	// is waiting on us. 0 means 2 s.
	MaxRetryAfter time.Duration
	// UserAgent is sent with every request. "" means "docker-credential-acr".
	UserAgent string
}

// Exchanger turns an Entra access token into an ACR refresh token: it reads
// the registry's challenge (GET /v2/) and posts to /oauth2/exchange.
// It is safe for concurrent use.
type Exchanger struct {
	client        *http.Client
	log           *slog.Logger
	timeout       time.Duration
	maxRetries    int
	backoff       time.Duration
	maxRetryAfter time.Duration
	userAgent     string
	// sleep waits between retries; tests replace it to observe the waits
	// without spending them.
	sleep func(context.Context, time.Duration) error
}

// NewExchanger returns an Exchanger. It does no I/O.
func NewExchanger(o ExchangerOptions) *Exchanger {
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient
	} else {
		c.Transport = httpx.CloneDefaultTransport()
	}
	c.CheckRedirect = httpx.NoRedirect
	x := &Exchanger{
		client:        &c,
		log:           o.Logger,
		timeout:       o.Timeout,
		maxRetries:    o.MaxRetries,
		backoff:       o.RetryBackoff,
		maxRetryAfter: o.MaxRetryAfter,
		userAgent:     o.UserAgent,
		sleep:         sleepCtx,
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	if x.timeout <= 0 {
		x.timeout = DefaultExchangeTimeout
	}
	switch {
	case x.maxRetries == 0:
		x.maxRetries = defaultMaxRetries
	case x.maxRetries < 0:
		x.maxRetries = 0
	}
	if x.backoff <= 0 {
		x.backoff = defaultRetryBackoff
	}
	if x.maxRetryAfter <= 0 {
		x.maxRetryAfter = defaultMaxRetryAfter
	}
	if x.userAgent == "" {
		x.userAgent = "docker-credential-acr"
	}
	return x
}

// ExchangeErrorKind classifies an ExchangeError so callers can react
// without parsing text.
type ExchangeErrorKind int

const (
	// ExchangeInvalidInput: the caller passed an unusable login server or
	// an empty token. Nothing was sent.
	ExchangeInvalidInput ExchangeErrorKind = iota + 1
	// ExchangeRefused: a safety rule stopped us (realm not https, realm on
	// another host or port, a redirect). The Entra token was not sent to
	// the place in question.
	ExchangeRefused
	// ExchangeNoChallenge: GET /v2/ gave no usable Bearer challenge (it
	// answered 200, offered another scheme, or sent a malformed header).
	ExchangeNoChallenge
	// ExchangeARMAudienceDisallowed: 401 "arm aad token disallowed": the
	// registry refuses ARM-audience tokens; the ACR audience must be used.
	ExchangeARMAudienceDisallowed
	// ExchangeUnauthorized: any other 401.
	ExchangeUnauthorized
	// ExchangeForbidden: 403 (role missing, or network rules).
	ExchangeForbidden
	// ExchangeNotFound: 404.
	ExchangeNotFound
	// ExchangeThrottled: 429 after the retries.
	ExchangeThrottled
	// ExchangeUnavailable: 5xx after the retries.
	ExchangeUnavailable
	// ExchangeUnexpectedStatus: any other non-2xx status.
	ExchangeUnexpectedStatus
	// ExchangeBadResponse: a 2xx body we cannot use (not JSON, no
	// refresh_token, larger than MaxResponseBytes).
	ExchangeBadResponse
	// ExchangeNetwork: no HTTP answer: DNS, connection, TLS, timeout or
	// cancellation. Err holds the cause.
	ExchangeNetwork
)

// ExchangeError is a failed challenge or exchange. Its text says what
// failed, why, and what to do; it never holds a token (ACR's message is
// sanitised and anything token-shaped in it is redacted).
type ExchangeError struct {
	Kind ExchangeErrorKind
	// LoginServer is the login server as passed to Exchange.
	LoginServer string
	// Step is "challenge" (GET /v2/) or "exchange" (POST /oauth2/exchange).
	Step string
	// StatusCode is the HTTP status, 0 when there was no HTTP answer.
	StatusCode int
	// Code and Message are the first entry of ACR's error body
	// ({"errors":[{"code":…,"message":…}]}), when it sent one.
	Code, Message string
	// Hint is what the user can do about it.
	Hint string
	// Err is the underlying cause, e.g. a *net.DNSError or
	// context.DeadlineExceeded.
	Err error

	detail string
}

func (e *ExchangeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Step)
	b.WriteString(" at ")
	b.WriteString(e.LoginServer)
	b.WriteString(": ")
	if e.detail != "" {
		b.WriteString(e.detail)
	} else {
		b.WriteString("failed")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *ExchangeError) Unwrap() error { return e.Err }

// IsARMAudienceDisallowed reports whether err is the registry refusing an
// ARM-audience Entra token. With audience acr-then-arm this means the ARM
// fallback is pointless: the registry wants the ACR audience.
func IsARMAudienceDisallowed(err error) bool {
	var e *ExchangeError
	return errors.As(err, &e) && e.Kind == ExchangeARMAudienceDisallowed
}

// Exchange obtains an ACR refresh token for loginServer (host or
// host:port, no scheme) in exchange for entraToken. tenant is sent when not
// empty.
//
// The Entra token is sent only to https://<loginServer>/oauth2/exchange,
// and only after the registry's challenge has named a realm on that same
// host and port over https. Errors are *ExchangeError.
func (x *Exchanger) Exchange(ctx context.Context, loginServer, entraToken, tenant string) (string, error) {
	origin, err := parseLoginServer(loginServer)
	if err != nil {
		return "", &ExchangeError{Kind: ExchangeInvalidInput, LoginServer: safetext.ServerText(loginServer, ""), Step: "challenge",
			detail: err.Error(), Hint: "pass a login server such as myreg.azurecr.io", Err: err}
	}
	if entraToken == "" {
		return "", &ExchangeError{Kind: ExchangeInvalidInput, LoginServer: loginServer, Step: "exchange",
			detail: "no Entra token to exchange", Hint: "this is a bug in the caller"}
	}
	exchangeURL, service, err := x.challenge(ctx, loginServer, origin, entraToken)
	if err != nil {
		return "", err
	}
	return x.exchange(ctx, loginServer, exchangeURL, service, entraToken, tenant)
}

// parseLoginServer checks that s is a bare host or host:port and returns
// https://s.
func parseLoginServer(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("empty login server")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("/\\?#@%", c) >= 0 {
			return nil, fmt.Errorf("login server %q is not a host or host:port", safetext.ServerText(s, ""))
		}
	}
	u, err := url.Parse("https://" + s)
	if err != nil || u.Host != s || u.Hostname() == "" {
		return nil, fmt.Errorf("login server %q is not a host or host:port", safetext.ServerText(s, ""))
	}
	return u, nil
}

// sameOrigin compares host (case-insensitively, as DNS does) and port,
// with 443 as the https default. A trailing dot makes a different host:
// it is not how a login server is written, and tricks live there.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && httpsPort(a) == httpsPort(b)
}

func httpsPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "443"
}

// challenge reads the registry's Bearer challenge and returns where to
// exchange and for which service.
func (x *Exchanger) challenge(ctx context.Context, loginServer string, origin *url.URL, secret string) (*url.URL, string, error) {
	v2 := origin.JoinPath("/v2/")
	resp, err := x.do(ctx, "challenge", loginServer, secret, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, v2.String(), nil)
	})
	if err != nil {
		return nil, "", err
	}
	fail := func(kind ExchangeErrorKind, detail, hint string, cause error) (*url.URL, string, error) {
		return nil, "", &ExchangeError{Kind: kind, LoginServer: loginServer, Step: "challenge", StatusCode: resp.status,
			detail: detail, Hint: hint, Err: cause}
	}
	switch {
	case resp.status >= 200 && resp.status < 300:
		return fail(ExchangeNoChallenge, fmt.Sprintf("registry answered %d to an anonymous GET /v2/", resp.status),
			"it asks for no authentication, so there is no token to exchange; is this an Azure Container Registry login server? (anonymous pulls need no credential helper)", nil)
	case resp.status != http.StatusUnauthorized:
		return nil, "", x.statusError("challenge", loginServer, "", resp, secret)
	}

	challenges, err := ParseChallenges(resp.header.Values("Www-Authenticate"))
	if err != nil {
		return fail(ExchangeNoChallenge, "registry answered 401 with a "+safetext.ServerText(err.Error(), secret),
			"an Azure Container Registry sends a well-formed Bearer challenge; is a proxy answering for the registry?", err)
	}
	var bearer *Challenge
	var schemes []string
	for i := range challenges {
		c := &challenges[i]
		schemes = append(schemes, c.Scheme)
		if c.Scheme != "bearer" {
			continue
		}
		if bearer != nil && (bearer.Params["realm"] != c.Params["realm"] || bearer.Params["service"] != c.Params["service"]) {
			return fail(ExchangeNoChallenge, "registry answered 401 with several conflicting Bearer challenges",
				"refusing to guess which realm to trust; is a proxy adding its own challenge?", nil)
		}
		bearer = c
	}
	if bearer == nil {
		got := "none"
		if len(schemes) > 0 {
			got = safetext.ServerText(strings.Join(schemes, ", "), secret)
		}
		return fail(ExchangeNoChallenge, "registry answered 401 without a Bearer challenge (schemes offered: "+got+")",
			"an Azure Container Registry always offers Bearer; is this an ACR login server, or is a proxy answering?", nil)
	}
	realmText, ok := bearer.Params["realm"]
	if !ok || realmText == "" {
		return fail(ExchangeNoChallenge, "registry's Bearer challenge has no realm",
			"is this an Azure Container Registry login server?", nil)
	}
	realm, err := url.Parse(realmText)
	shown := safetext.ServerText(realmText, secret)
	switch {
	case err != nil || realm.Host == "" || realm.Opaque != "":
		return fail(ExchangeRefused, fmt.Sprintf("registry's challenge names realm %q, which is not an absolute URL", shown),
			"refusing to send the Entra token; is this an Azure Container Registry login server?", err)
	case realm.Scheme != "https":
		return fail(ExchangeRefused, fmt.Sprintf("registry's challenge names realm %q, which is not https", shown),
			"refusing to send the Entra token over an unencrypted connection; a proxy or a compromised endpoint may be answering", nil)
	case realm.User != nil:
		return fail(ExchangeRefused, "registry's challenge names a realm with user information",
			"refusing to send the Entra token; a proxy or a compromised endpoint may be answering", nil)
	case !sameOrigin(realm, origin):
		return fail(ExchangeRefused, fmt.Sprintf("registry's challenge names realm %q, which is not on the login server %s itself", shown, origin.Host),
			"refusing to send the Entra token anywhere but the login server; a proxy or a compromised endpoint may be answering. Use the registry's own login server name", nil)
	}
	service := bearer.Params["service"]
	if service == "" {
		// ACR always names itself here. Without it, the login server's
		// host is what ACR would have said; the token still goes only to
		// the verified host, and a wrong guess just earns a clear 4xx.
		service = strings.ToLower(origin.Hostname())
		if p := origin.Port(); p != "" && p != "443" {
			service += ":" + p
		}
		x.log.DebugContext(ctx, "acr challenge has no service; using the login server", "login_server", loginServer)
	}
	exchangeURL := &url.URL{Scheme: "https", Host: realm.Host, Path: "/oauth2/exchange"}
	x.log.DebugContext(ctx, "acr challenge", "login_server", loginServer, "realm", shown, "service", safetext.ServerText(service, secret))
	return exchangeURL, service, nil
}

type exchangeAnswer struct {
	RefreshToken string `json:"refresh_token"`
}

func (x *Exchanger) exchange(ctx context.Context, loginServer string, exchangeURL *url.URL, service, entraToken, tenant string) (string, error) {
	form := url.Values{
		"grant_type":   {"access_token"},
		"service":      {service},
		"access_token": {entraToken},
	}
	if tenant != "" {
		form.Set("tenant", tenant)
	}
	body := form.Encode()
	resp, err := x.do(ctx, "exchange", loginServer, entraToken, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, exchangeURL.String(), strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	})
	if err != nil {
		return "", err
	}
	if resp.status < 200 || resp.status >= 300 {
		return "", x.statusError("exchange", loginServer, tenant, resp, entraToken)
	}
	bad := func(detail string, cause error) (string, error) {
		return "", &ExchangeError{Kind: ExchangeBadResponse, LoginServer: loginServer, Step: "exchange", StatusCode: resp.status,
			detail: detail, Hint: "the registry's answer is not what Azure Container Registry sends; is a proxy answering? Retry, and report it if it persists", Err: cause}
	}
	// A 2xx body holds the refresh token: no part of it may reach an
	// error, so errors here describe the body's shape, never its content.
	if resp.tooLarge {
		return bad(fmt.Sprintf("registry answered %d with a body larger than %d bytes", resp.status, MaxResponseBytes), nil)
	}
	var ans exchangeAnswer
	if err := json.Unmarshal(resp.body, &ans); err != nil {
		return bad(fmt.Sprintf("registry answered %d with a body that is not the expected JSON object", resp.status), errNotJSON)
	}
	if ans.RefreshToken == "" {
		return bad(fmt.Sprintf("registry answered %d without a refresh_token", resp.status), nil)
	}
	for i := 0; i < len(ans.RefreshToken); i++ {
		if c := ans.RefreshToken[i]; c <= ' ' || c >= 0x7f {
			return bad(fmt.Sprintf("registry answered %d with a refresh_token holding characters no token has", resp.status), nil)
		}
	}
	x.log.DebugContext(ctx, "acr exchange succeeded", "login_server", loginServer, "status", resp.status)
	return ans.RefreshToken, nil
}

// errNotJSON stands in for the json error, whose text may quote the body.
var errNotJSON = errors.New("response body is not valid JSON")

type response struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
}

// do sends the request built by build, retrying 429 and 5xx briefly.
// secret is redacted from anything that could reach a log or error.
func (x *Exchanger) do(ctx context.Context, step, loginServer, secret string, build func(context.Context) (*http.Request, error)) (*response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := x.once(ctx, build)
		if err != nil {
			return nil, x.networkError(ctx, step, loginServer, err, secret)
		}
		if resp.status >= 300 && resp.status < 400 {
			return nil, redirectError(step, loginServer, resp, secret)
		}
		if (resp.status != http.StatusTooManyRequests && resp.status < 500) || attempt >= x.maxRetries {
			return resp, nil
		}
		wait := x.retryWait(attempt, resp.header.Get("Retry-After"))
		x.log.DebugContext(ctx, "acr request will be retried", "step", step, "login_server", loginServer,
			"status", resp.status, "attempt", attempt+1, "wait", wait)
		if err := x.sleep(ctx, wait); err != nil {
			return nil, x.networkError(ctx, step, loginServer, err, secret)
		}
	}
}

// once sends one request under the per-request timeout and reads the body,
// at most MaxResponseBytes of it.
func (x *Exchanger) once(ctx context.Context, build func(context.Context) (*http.Request, error)) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", x.userAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := x.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	// An answer that raced the deadline may be one the server sent because
	// it saw us give up (seen with TLS close_notify): it is late either way.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) > MaxResponseBytes {
		r.body, r.tooLarge = nil, true
	}
	return r, nil
}

// retryWait honours Retry-After (seconds or HTTP date) up to
// maxRetryAfter, else backs off exponentially up to maxRetryBackoff.
func (x *Exchanger) retryWait(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter, time.Now()); ok {
		return min(d, x.maxRetryAfter)
	}
	d := x.backoff
	for i := 0; i < attempt && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (x *Exchanger) networkError(ctx context.Context, step, loginServer string, err error, secret string) error {
	e := &ExchangeError{Kind: ExchangeNetwork, LoginServer: loginServer, Step: step, Err: err}
	what := "GET /v2/"
	if step == "exchange" {
		what = "POST /oauth2/exchange"
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var opErr *net.OpError
	switch {
	case ctx.Err() != nil:
		e.detail = what + " was cancelled: " + ctx.Err().Error()
		e.Hint = "the caller stopped waiting (docker gave up, or the helper is being stopped)"
		e.Err = ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		e.detail = fmt.Sprintf("%s got no answer within %s", what, x.timeout)
		e.Hint = "the registry or the network is slow or unreachable; check connectivity and proxy settings (HTTPS_PROXY, NO_PROXY)"
		e.Err = context.DeadlineExceeded
	case errors.As(err, &dnsErr):
		e.detail = what + " failed: DNS lookup of " + safetext.ServerText(dnsErr.Name, secret) + " failed"
		e.Hint = "check the registry name and this machine's DNS; a private-endpoint registry needs its private DNS zone"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		e.detail = what + " failed: the registry's TLS certificate is not trusted: " + safetext.ServerText(innerError(err).Error(), secret)
		e.Hint = "a TLS-inspecting proxy may be in the way; add its CA to the system trust store (or SSL_CERT_FILE)"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		e.detail = what + " failed: " + safetext.ServerText(innerError(err).Error(), secret)
		e.Hint = "could not connect to the registry; check the network, firewalls and proxy settings (HTTPS_PROXY, NO_PROXY)"
	default:
		e.detail = what + " failed: " + safetext.ServerText(innerError(err).Error(), secret)
		e.Hint = "check connectivity to the registry and proxy settings (HTTPS_PROXY, NO_PROXY)"
	}
	return e
}

// innerError drops net/http's `Get "url": ` prefix; the step already says
// which request it was.
func innerError(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

func redirectError(step, loginServer string, resp *response, secret string) error {
	to := "another location"
	if loc, err := url.Parse(resp.header.Get("Location")); err == nil && loc.Host != "" {
		// Scheme and host only: a redirect's query may carry a signature.
		to = safetext.ServerText(loc.Scheme+"://"+loc.Host, secret)
	}
	return &ExchangeError{Kind: ExchangeRefused, LoginServer: loginServer, Step: step, StatusCode: resp.status,
		detail: fmt.Sprintf("registry answered %d, a redirect to %s", resp.status, to),
		Hint:   "credentials are never sent on after a redirect; configure the registry's own login server name (e.g. myreg.azurecr.io), not an alias or data endpoint"}
}

type acrErrors struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// statusError turns a non-2xx, non-3xx answer into an error with ACR's
// own message and a hint.
func (x *Exchanger) statusError(step, loginServer, tenant string, resp *response, secret string) error {
	e := &ExchangeError{LoginServer: loginServer, Step: step, StatusCode: resp.status}
	var ae acrErrors
	var excerpt string
	switch {
	case resp.tooLarge:
		excerpt = fmt.Sprintf(" (body larger than %d bytes)", MaxResponseBytes)
	case json.Unmarshal(resp.body, &ae) == nil && len(ae.Errors) > 0:
		e.Code = safetext.ServerText(ae.Errors[0].Code, secret)
		e.Message = safetext.ServerText(ae.Errors[0].Message, secret)
	case len(strings.TrimSpace(string(resp.body))) > 0:
		excerpt = fmt.Sprintf(" (body: %q)", safetext.ServerText(strings.TrimSpace(string(resp.body)), secret))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "registry answered %d", resp.status)
	switch {
	case e.Code != "" || e.Message != "":
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, " %q", e.Message)
		}
	default:
		if t := http.StatusText(resp.status); t != "" {
			b.WriteString(" " + t)
		}
		b.WriteString(excerpt)
	}
	e.detail = b.String()

	msg := strings.ToLower(e.Message)
	switch {
	case resp.status == http.StatusUnauthorized && strings.Contains(msg, "arm aad token disallowed"):
		e.Kind = ExchangeARMAudienceDisallowed
		e.Hint = "the registry refuses ARM-audience tokens (its azureADAuthenticationAsArmPolicy is disabled); use the ACR audience: set DOCKER_CREDENTIAL_ACR_AUDIENCE=acr (or audience: acr in the config file), and unset DOCKER_CREDENTIAL_ACR_SCOPE (or scope: in the config file) if it names an ARM scope"
	case resp.status == http.StatusUnauthorized:
		e.Kind = ExchangeUnauthorized
		e.Hint = "the identity may lack the AcrPull (or AcrPush) role on this registry, or its token comes from another tenant than the registry's"
		if tenant != "" {
			e.Hint += fmt.Sprintf(" (tenant sent: %s)", safetext.ServerText(tenant, secret))
		}
		e.Hint += "; set DOCKER_CREDENTIAL_ACR_TENANT_ID (or tenantID in the config file) to the registry's tenant"
	case resp.status == http.StatusForbidden && (strings.Contains(msg, "not allowed access") || strings.Contains(msg, "firewall")):
		e.Kind = ExchangeForbidden
		e.Hint = "the registry's network rules (firewall, private endpoint) block this machine; see https://aka.ms/acr/firewall"
	case resp.status == http.StatusForbidden:
		e.Kind = ExchangeForbidden
		e.Hint = "the identity is not allowed to use this registry; check its AcrPull (or AcrPush) role assignment"
	case resp.status == http.StatusNotFound && step == "exchange":
		e.Kind = ExchangeNotFound
		e.Hint = "the registry has no /oauth2/exchange endpoint: is this an Azure Container Registry with Microsoft Entra authentication?"
	case resp.status == http.StatusNotFound:
		e.Kind = ExchangeNotFound
		e.Hint = "the registry has no /v2/ endpoint: is this a container registry login server?"
	case resp.status == http.StatusTooManyRequests:
		e.Kind = ExchangeThrottled
		e.Hint = fmt.Sprintf("the registry is throttling requests (attempts: %d); try again shortly", x.maxRetries+1)
	case resp.status >= 500:
		e.Kind = ExchangeUnavailable
		e.Hint = fmt.Sprintf("the registry is failing (attempts: %d); try again shortly", x.maxRetries+1)
	default:
		e.Kind = ExchangeUnexpectedStatus
		e.Hint = "unexpected answer; rerun with DOCKER_CREDENTIAL_ACR_LOG=debug for details"
	}
	x.log.Debug("acr request failed", "step", step, "login_server", loginServer, "status", resp.status, "code", e.Code)
	return e
}
