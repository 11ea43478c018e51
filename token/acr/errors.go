package acr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Kind classifies an Error so callers can react without parsing text.
type Kind int

const (
	// KindInvalidInput: the caller passed an unusable login server or
	// an empty token. Nothing was sent.
	KindInvalidInput Kind = iota + 1
	// KindRefused: a safety rule stopped us (realm not https, realm on
	// another host or port, a redirect: then StatusCode is the 3xx). The
	// Entra token was not sent to the place in question.
	KindRefused
	// KindNoChallenge: GET /v2/ gave no usable Bearer challenge (it
	// answered 200, offered another scheme, or sent a malformed header).
	KindNoChallenge
	// KindARMAudienceDisallowed: 401 "arm aad token disallowed": the
	// registry refuses ARM-audience tokens; the ACR audience must be used.
	KindARMAudienceDisallowed
	// KindUnauthorized: any other 401. Tenant says which tenant was sent.
	KindUnauthorized
	// KindForbidden: 403 for the identity (a role is missing).
	KindForbidden
	// KindFirewall: 403 from the registry's network rules (firewall,
	// private endpoint). ClientIP is the address ACR saw, when it said.
	KindFirewall
	// KindNotFound: 404.
	KindNotFound
	// KindThrottled: 429 after the retries.
	KindThrottled
	// KindUnavailable: 5xx after the retries.
	KindUnavailable
	// KindUnexpectedStatus: any other non-2xx status.
	KindUnexpectedStatus
	// KindBadResponse: a 2xx body we cannot use (not JSON, no
	// refresh_token, larger than the 1 MiB cap).
	KindBadResponse
	// KindNetwork: no HTTP answer: DNS, connection, TLS, timeout or
	// cancellation. Err holds the cause.
	KindNetwork
)

var kindNames = [...]string{
	KindInvalidInput:          "invalid input",
	KindRefused:               "refused",
	KindNoChallenge:           "no challenge",
	KindARMAudienceDisallowed: "ARM audience disallowed",
	KindUnauthorized:          "unauthorized",
	KindForbidden:             "forbidden",
	KindFirewall:              "firewall",
	KindNotFound:              "not found",
	KindThrottled:             "throttled",
	KindUnavailable:           "unavailable",
	KindUnexpectedStatus:      "unexpected status",
	KindBadResponse:           "bad response",
	KindNetwork:               "network",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a failed challenge or exchange. Its text says what failed, why,
// and what can be done about it in terms of the registry and the identity;
// it never holds a token (ACR's message is sanitised and anything
// token-shaped in it is redacted).
type Error struct {
	Kind Kind
	// LoginServer is the login server as passed to Exchange.
	LoginServer string
	// Step is "challenge" (GET /v2/) or "exchange" (POST /oauth2/exchange).
	Step string
	// StatusCode is the HTTP status, 0 when there was no HTTP answer.
	StatusCode int
	// Endpoint is the URL the step asked (scheme, host and path: never a
	// query or user information), when it got as far as a request.
	Endpoint string
	// Tries is how many requests the step sent (retries of 429 and 5xx
	// included); 0 when it sent none.
	Tries int
	// Code and Message are the first entry of ACR's error body
	// ({"errors":[{"code":…,"message":…}]}), when it sent one.
	Code, Message string
	// Tenant is the tenant the exchange sent ("" when none was), on the
	// errors the registry answered to it.
	Tenant string
	// ClientIP is the address a firewall refusal names, when it names one.
	ClientIP string
	// Hint is what can be done about it, in the API's terms.
	Hint string
	// RequestID is the registry's correlation or request id of the
	// answer (x-ms-correlation-request-id, else x-ms-request-id), for a
	// support ticket; "" when it sent none.
	RequestID string
	// Err is the underlying cause, e.g. a *net.DNSError or
	// context.DeadlineExceeded.
	Err error

	detail string
}

func (e *Error) Error() string {
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
	if e.RequestID != "" {
		b.WriteString(" (registry request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ExchangeLoginServer returns LoginServer. It is how token.Provider learns
// that the error names the login server already, and how
// token.IsAudienceUnavailable learns that it carries the registry's text,
// not Entra's, without either importing this package.
func (e *Error) ExchangeLoginServer() string { return e.LoginServer }

func (x *Exchanger) networkError(ctx context.Context, step, loginServer string, t try, err error, secret string) error {
	e := &Error{Kind: KindNetwork, LoginServer: loginServer, Step: step, Endpoint: t.endpoint, Tries: t.tries, Err: err}
	method, path := "GET", "/v2/"
	switch step {
	case "exchange":
		method, path = "POST", "/oauth2/exchange"
	case "registry-token":
		method, path = "POST", "/oauth2/token"
	}
	what := method + " " + path
	// A hang is told with the whole URL: it is what the user checks.
	full := what
	if t.endpoint != "" {
		full = method + " " + safetext.ServerText(t.endpoint, secret)
	}
	tries := "1 try"
	if t.tries > 1 {
		tries = fmt.Sprintf("%d tries", t.tries)
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var opErr *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The caller's deadline, not the per-request timeout: the whole
		// budget is spent.
		e.detail = fmt.Sprintf("%s got no answer in %s, when the caller's deadline passed (%s)", full, t.took.Round(10*time.Millisecond), tries)
		e.Hint = "the registry or the network is slow or unreachable; check connectivity and proxy settings (HTTPS_PROXY, NO_PROXY)"
		e.Err = ctx.Err()
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
	case strings.Contains(err.Error(), "server response headers exceeded"):
		// The transport's cap (httpx.MaxResponseHeaderBytes for ours); net/http
		// gives it no error type.
		e.detail = what + " failed: the answer's headers are too large: " + safetext.ServerText(innerError(err).Error(), secret)
		e.Hint = "an Azure Container Registry sends about 1 KiB; is a proxy or another server answering for the registry?"
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
	return &Error{Kind: KindRefused, LoginServer: loginServer, Step: step, StatusCode: resp.status, Endpoint: resp.endpoint, Tries: resp.tries,
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
	e := &Error{LoginServer: loginServer, Step: step, StatusCode: resp.status, Tenant: safetext.ServerText(tenant, secret),
		RequestID: requestID(resp.header, secret), Endpoint: resp.endpoint, Tries: resp.tries}
	var ae acrErrors
	var excerpt string
	switch {
	case resp.tooLarge:
		excerpt = fmt.Sprintf(" (body larger than %d bytes)", maxResponseBytes)
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
		e.Kind = KindARMAudienceDisallowed
		e.Hint = "the registry refuses ARM-audience tokens (its azureADAuthenticationAsArmPolicy is disabled); use the ACR audience"
	case resp.status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
		e.Hint = "the identity may lack the AcrPull (or AcrPush) role on this registry, or its token comes from another tenant than the registry's"
		if e.Tenant != "" {
			e.Hint += fmt.Sprintf(" (tenant sent: %s)", e.Tenant)
		}
	case resp.status == http.StatusForbidden && (strings.Contains(msg, "not allowed access") || strings.Contains(msg, "firewall")):
		e.Kind = KindFirewall
		e.ClientIP = firewallClientIP(e.Message)
		e.Hint = "the registry's network rules (firewall, private endpoint) block this machine; see https://aka.ms/acr/firewall"
	case resp.status == http.StatusForbidden:
		e.Kind = KindForbidden
		e.Hint = "the identity is not allowed to use this registry; check its AcrPull (or AcrPush) role assignment"
	case resp.status == http.StatusNotFound && step == "exchange":
		e.Kind = KindNotFound
		e.Hint = "the registry has no /oauth2/exchange endpoint: is this an Azure Container Registry with Microsoft Entra authentication?"
	case resp.status == http.StatusNotFound:
		e.Kind = KindNotFound
		e.Hint = "the registry has no /v2/ endpoint: is this a container registry login server?"
	case resp.status == http.StatusTooManyRequests:
		e.Kind = KindThrottled
		e.Hint = fmt.Sprintf("the registry is throttling requests (%s); try again shortly", attempts(resp))
	case resp.status >= 500:
		e.Kind = KindUnavailable
		e.Hint = fmt.Sprintf("the registry is failing (%s); try again shortly", attempts(resp))
	default:
		e.Kind = KindUnexpectedStatus
		e.Hint = "unexpected answer"
	}
	x.log.Debug("acr request failed", "step", step, "login_server", loginServer, "status", resp.status, "code", e.Code)
	return e
}

// attempts says how many tries an answer took and, when the retries
// stopped early, why.
func attempts(resp *response) string {
	s := fmt.Sprintf("attempts: %d", max(resp.tries, 1))
	if resp.stopped != "" {
		s += "; not retried again: " + resp.stopped
	}
	return s
}

// firewallClientIP finds the address in ACR's firewall refusal ("client
// with IP 203.0.113.9 is not allowed access…"), or "".
func firewallClientIP(msg string) string {
	_, after, ok := strings.Cut(msg, "IP ")
	if !ok {
		return ""
	}
	word, _, _ := strings.Cut(after, " ")
	word = strings.Trim(strings.TrimRight(word, ".,;:"), `'"`)
	if ip := net.ParseIP(word); ip != nil {
		return ip.String()
	}
	return ""
}
