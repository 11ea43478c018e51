package acr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// DefaultTimeout bounds each request when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Options configures an Exchanger. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. nil means a client built on a clone of
	// http.DefaultTransport (so HTTPS_PROXY and NO_PROXY apply). The
	// Exchanger works on a copy whose CheckRedirect refuses every redirect:
	// a redirect must never carry the Entra token to another place. When
	// its Transport is an *http.Transport (or nil, for
	// http.DefaultTransport), the copy gets a clone of it, with a TLS dial
	// that Prepare can start ahead of the exchange; another RoundTripper is
	// used as it is, and Prepare then warms nothing.
	HTTPClient *http.Client
	// Logger receives debug records; nil discards them. No record holds a
	// token.
	Logger *slog.Logger
	// Timeout bounds each HTTP request, body included. 0 means
	// DefaultTimeout.
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
// the registry's challenge (GET /v2/) unless the request says the login
// server's form fixes it, and posts to /oauth2/exchange. It implements
// token.Exchanger and token.Preparer and is safe for concurrent use.
type Exchanger struct {
	// conn is made on first use: a Provider that answers from its cache
	// never needs an HTTP transport, so it never pays for cloning one.
	conn func() *conn
	// client is conn's client, for the request code.
	client        func() *http.Client
	log           *slog.Logger
	timeout       time.Duration
	maxRetries    int
	backoff       time.Duration
	maxRetryAfter time.Duration
	userAgent     string
	// sleep waits between retries; tests replace it to observe the waits
	// without spending them.
	sleep func(context.Context, time.Duration) error

	// early holds the challenges Prepare started, by login server, until
	// Exchange collects them or their context ends. Made on first use, as
	// the cached path never prepares.
	mu    sync.Mutex
	early map[string][]*earlyChallenge
	// work counts what Prepare started (requests, dials, clean-ups); tests
	// wait on it to see that nothing outlives its context.
	work sync.WaitGroup
}

var (
	_ token.Exchanger = (*Exchanger)(nil)
	_ token.Preparer  = (*Exchanger)(nil)
)

// NewExchanger returns an Exchanger. It does no I/O.
func NewExchanger(o Options) *Exchanger {
	x := &Exchanger{
		conn:          sync.OnceValue(func() *conn { return newConn(o.HTTPClient) }),
		log:           o.Logger,
		timeout:       o.Timeout,
		maxRetries:    o.MaxRetries,
		backoff:       o.RetryBackoff,
		maxRetryAfter: o.MaxRetryAfter,
		userAgent:     o.UserAgent,
		sleep:         sleepCtx,
	}
	x.client = func() *http.Client { return x.conn().client }
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	if x.timeout <= 0 {
		x.timeout = DefaultTimeout
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

// Exchange obtains an ACR refresh token for r.LoginServer (host or
// host:port, no scheme) in exchange for r.EntraToken. The tenant sent is
// r.Tenant, or when that is empty the Entra token's tid claim (none when it
// has none); the answer reports it, with the refresh token's iat and exp.
//
// The Entra token is sent only to https://<LoginServer>/oauth2/exchange.
// With r.SkipChallenge that URL is built from the login server alone, and
// the service is its host name: no answer of any server chooses either.
// Without it, the token goes there only after the registry's challenge
// (read now, or collected from Prepare) has named a realm on that same
// host and port over https, and the challenge's service is sent. Errors
// are *Error.
func (x *Exchanger) Exchange(ctx context.Context, r token.ExchangeRequest) (token.RefreshToken, error) {
	loginServer, entraToken := r.LoginServer, r.EntraToken
	origin, err := parseLoginServer(loginServer)
	if err != nil {
		return token.RefreshToken{}, &Error{Kind: KindInvalidInput, LoginServer: safetext.ServerText(loginServer, ""), Step: "challenge",
			detail: err.Error(), Hint: "pass a login server such as myreg.azurecr.io", Err: err}
	}
	if entraToken == "" {
		return token.RefreshToken{}, &Error{Kind: KindInvalidInput, LoginServer: loginServer, Step: "exchange",
			detail: "no Entra token to exchange", Hint: "this is a bug in the caller"}
	}
	if r.SkipChallenge {
		// ACR fixes both for the standard and DNL forms; the caller
		// vouches for the form.
		x.log.DebugContext(ctx, "acr challenge skipped: the login server's form fixes the exchange endpoint and service", "login_server", loginServer)
		return x.trade(ctx, loginServer, exchangeEndpoint(origin.Host), loginServerService(origin), r)
	}
	exchangeURL, service, err := x.collectChallenge(ctx, loginServer, origin, entraToken)
	if err != nil {
		return token.RefreshToken{}, err
	}
	return x.trade(ctx, loginServer, exchangeURL, service, r)
}

// trade posts r's Entra token to exchangeURL, with r's tenant or else the
// token's tid, and reads the refresh token's times.
func (x *Exchanger) trade(ctx context.Context, loginServer string, exchangeURL *url.URL, service string, r token.ExchangeRequest) (token.RefreshToken, error) {
	tenant := r.Tenant
	if tenant == "" {
		tenant = tenantFromEntraToken(r.EntraToken)
	}
	refresh, err := x.exchange(ctx, loginServer, exchangeURL, service, r.EntraToken, tenant)
	if err != nil {
		return token.RefreshToken{}, err
	}
	rt := token.RefreshToken{Token: refresh, Tenant: tenant}
	if iat, exp, ok := refreshTokenTimes(refresh); ok {
		rt.IssuedAt, rt.ExpiresAt = iat, exp
	}
	return rt, nil
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
	fail := func(kind Kind, detail, hint string, cause error) (*url.URL, string, error) {
		return nil, "", &Error{Kind: kind, LoginServer: loginServer, Step: "challenge", StatusCode: resp.status,
			detail: detail, Hint: hint, Err: cause}
	}
	switch {
	case resp.status >= 200 && resp.status < 300:
		return fail(KindNoChallenge, fmt.Sprintf("registry answered %d to an anonymous GET /v2/", resp.status),
			"it asks for no authentication, so there is no token to exchange; is this an Azure Container Registry login server? (anonymous pulls need no credential helper)", nil)
	case resp.status != http.StatusUnauthorized:
		return nil, "", x.statusError("challenge", loginServer, "", resp, secret)
	}

	challenges, err := parseChallenges(resp.header.Values("Www-Authenticate"))
	if err != nil {
		return fail(KindNoChallenge, "registry answered 401 with a "+safetext.ServerText(err.Error(), secret),
			"an Azure Container Registry sends a well-formed Bearer challenge; is a proxy answering for the registry?", err)
	}
	var bearer *authChallenge
	var schemes []string
	for i := range challenges {
		c := &challenges[i]
		schemes = append(schemes, c.Scheme)
		if c.Scheme != "bearer" {
			continue
		}
		if bearer != nil && (bearer.Params["realm"] != c.Params["realm"] || bearer.Params["service"] != c.Params["service"]) {
			return fail(KindNoChallenge, "registry answered 401 with several conflicting Bearer challenges",
				"refusing to guess which realm to trust; is a proxy adding its own challenge?", nil)
		}
		bearer = c
	}
	if bearer == nil {
		got := "none"
		if len(schemes) > 0 {
			got = safetext.ServerText(strings.Join(schemes, ", "), secret)
		}
		return fail(KindNoChallenge, "registry answered 401 without a Bearer challenge (schemes offered: "+got+")",
			"an Azure Container Registry always offers Bearer; is this an ACR login server, or is a proxy answering?", nil)
	}
	realmText, ok := bearer.Params["realm"]
	if !ok || realmText == "" {
		return fail(KindNoChallenge, "registry's Bearer challenge has no realm",
			"is this an Azure Container Registry login server?", nil)
	}
	realm, err := url.Parse(realmText)
	shown := safetext.ServerText(realmText, secret)
	switch {
	case err != nil || realm.Host == "" || realm.Opaque != "":
		return fail(KindRefused, fmt.Sprintf("registry's challenge names realm %q, which is not an absolute URL", shown),
			"refusing to send the Entra token; is this an Azure Container Registry login server?", err)
	case realm.Scheme != "https":
		return fail(KindRefused, fmt.Sprintf("registry's challenge names realm %q, which is not https", shown),
			"refusing to send the Entra token over an unencrypted connection; a proxy or a compromised endpoint may be answering", nil)
	case realm.User != nil:
		return fail(KindRefused, "registry's challenge names a realm with user information",
			"refusing to send the Entra token; a proxy or a compromised endpoint may be answering", nil)
	case !sameOrigin(realm, origin):
		return fail(KindRefused, fmt.Sprintf("registry's challenge names realm %q, which is not on the login server %s itself", shown, origin.Host),
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
	exchangeURL := exchangeEndpoint(realm.Host)
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
	resp, err := x.do(ctx, "exchange", loginServer, entraToken, postForm(exchangeURL, form))
	if err != nil {
		return "", err
	}
	if resp.status < 200 || resp.status >= 300 {
		return "", x.statusError("exchange", loginServer, tenant, resp, entraToken)
	}
	bad := func(detail string, cause error) (string, error) {
		return "", &Error{Kind: KindBadResponse, LoginServer: loginServer, Step: "exchange", StatusCode: resp.status,
			detail: detail, Hint: "the registry's answer is not what Azure Container Registry sends; is a proxy answering? Retry, and report it if it persists", Err: cause}
	}
	// A 2xx body holds the refresh token: no part of it may reach an
	// error, so errors here describe the body's shape, never its content.
	if resp.tooLarge {
		return bad(fmt.Sprintf("registry answered %d with a body larger than %d bytes", resp.status, maxResponseBytes), nil)
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

// postForm builds a POST of form to u, for x.do (which may build it again
// for a retry).
func postForm(u *url.URL, form url.Values) func(context.Context) (*http.Request, error) {
	body := form.Encode()
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
}
