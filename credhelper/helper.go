package credhelper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
)

// TokenUsername is the docker-credential protocol's marker for an identity
// token: docker/cli turns a secret under this username into an
// IdentityToken, and clients then use the refresh-token grant.
const TokenUsername = "<token>"

// ZeroGUIDUsername is the username ACR expects when a refresh token is
// sent as a Basic password, for callers that know nothing of identity
// tokens (the kubelet, some older tools).
const ZeroGUIDUsername = "00000000-0000-0000-0000-000000000000"

// Options configure a Helper. The zero value works: it reads the process
// environment, caches nothing and logs nothing.
type Options struct {
	// Getenv reads configuration; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Cache keeps refresh tokens between calls; nil means token.NoCache.
	// The command-line helper passes a filecache.Cache.
	Cache token.Cache
	// Credential, when set, is the only identity used, instead of the
	// sources chosen by environment and config file. CredentialIdentity
	// must then name its principal (e.g. its client ID): it is the cache
	// key's identity, so two credentials never share a token.
	Credential         azcore.TokenCredential
	CredentialIdentity string
	// HTTPClient carries the challenge and exchange; nil means a client
	// with sane timeouts.
	HTTPClient *http.Client
	// Transport carries the identity sources' requests to Entra and IMDS;
	// nil means azidentity's default.
	Transport policy.Transporter
	// Config is the per-registry configuration; nil means it is loaded
	// from config.Path on each Get.
	Config *config.Config
	// IgnoreStore makes Add succeed without storing anything, for tools
	// that call store after a login.
	IgnoreStore bool
	// Timeout is the budget of one Get (and of one kubelet request) where
	// neither DOCKER_CREDENTIAL_ACR_TIMEOUT nor the config file's timeout
	// sets one; zero means DefaultTimeout. A cold Get fails by Start plus
	// the timeout (see ExitMargin); a cache hit never waits on it.
	Timeout time.Duration
	// Start is when the caller began to wait: the command records it
	// first thing in main, so that the timeout bounds the caller's wall
	// time from exec to exit. Set it only in a process that answers one
	// request; zero means each call's own start.
	Start time.Time
}

// DefaultTimeout is the budget of a get, from the process's start to its
// exit, when no setting gives one. docker and CI jobs wait for every
// configured helper; a failing get must say so within it.
const DefaultTimeout = 10 * time.Second

// ExitMargin is kept back from the timeout: the work's deadline is Start
// plus the timeout less ExitMargin, which leaves the time to write the
// error and exit before the caller's wall clock reaches the timeout. An
// embedder's timeout shorter than twice the margin keeps half of itself
// for the work instead (the settings refuse one under a second).
const ExitMargin = 500 * time.Millisecond

// Helper answers the docker-credential protocol for ACR login servers. It
// implements credentials.Helper and go-containerregistry's authn.Helper.
type Helper struct {
	o Options
}

var _ credentials.Helper = (*Helper)(nil)

// New returns a Helper.
func New(o Options) *Helper {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Cache == nil {
		o.Cache = token.NoCache{}
	}
	return &Helper{o: o}
}

// Get returns the username and ACR refresh token for serverURL. A server
// that is not an ACR login server gets credentials.NewErrCredentialsNotFound
// at once, without any network call.
func (h *Helper) Get(serverURL string) (string, string, error) {
	// The deadline is set once the registry's settings say how long.
	return h.GetContext(context.Background(), serverURL)
}

// GetContext is Get with a caller's context.
func (h *Helper) GetContext(ctx context.Context, serverURL string) (string, string, error) {
	cfg, reg, err := h.recognise(serverURL)
	if err != nil {
		return "", "", err
	}
	entry, settings, err := h.refreshToken(ctx, cfg, reg)
	if err != nil {
		return "", "", err
	}
	if settings.UsernameForm == config.UsernameZeroGUID {
		return ZeroGUIDUsername, entry.RefreshToken, nil
	}
	return TokenUsername, entry.RefreshToken, nil
}

// refreshToken is the one path of get and token: the registry's settings,
// the provider, the cache, and the advice on failure.
func (h *Helper) refreshToken(ctx context.Context, cfg *config.Config, reg loginserver.Registry) (token.Entry, config.Settings, error) {
	settings, err := cfg.ResolveRegistry(reg, h.o.Getenv)
	if err != nil {
		return token.Entry{}, settings, err
	}
	provider, err := h.provider(reg, settings)
	if err != nil {
		return token.Entry{}, settings, err
	}
	entry, err := h.fetch(ctx, provider, reg, settings)
	return entry, settings, err
}

// fetch asks provider for reg's refresh token under the deadline of
// settings s, and advises on failure.
func (h *Helper) fetch(ctx context.Context, provider *token.Provider, reg loginserver.Registry, s config.Settings) (token.Entry, error) {
	timeout, from := h.timeout(s)
	start := h.o.Start
	if start.IsZero() {
		start = time.Now()
	}
	deadline := start.Add(timeout - min(ExitMargin, timeout/2))
	// Only where ours is the deadline that governs does the advice name
	// the timeout setting: an embedder's own deadline is not ours to raise.
	theirs, ok := ctx.Deadline()
	ours := !ok || theirs.After(deadline)
	// A context.WithDeadline costs a cache hit one timer, started and
	// stopped: nothing next to the file read.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	entry, err := provider.RefreshToken(ctx, tokenTarget(reg, s))
	if err != nil {
		// The provider's errors name the registry already; advise adds
		// what to set.
		return token.Entry{}, advise(err, adviceContext{sourcesChosen: len(s.Sources) > 0,
			deadlinePassed: ours && ctx.Err() != nil, timeout: timeout, timeoutFrom: from})
	}
	return entry, nil
}

// timeout is the budget for settings s and where it came from: the
// setting, else Options.Timeout, else DefaultTimeout.
func (h *Helper) timeout(s config.Settings) (time.Duration, string) {
	switch {
	case s.Timeout > 0:
		return s.Timeout, s.From.Timeout
	case h.o.Timeout > 0:
		return h.o.Timeout, "the default"
	}
	return DefaultTimeout, "the default"
}

// recognise decides whether serverURL is ours, with the custom clouds of
// the config file. A config file that cannot be read fails only the hosts
// that are ours: it must not silently change whose identity is used.
func (h *Helper) recognise(serverURL string) (*config.Config, loginserver.Registry, error) {
	cfg, cfgErr := h.config()
	return h.recogniseIn(cfg, cfgErr, serverURL)
}

// recogniseIn is recognise with the config already loaded (or its error).
func (h *Helper) recogniseIn(cfg *config.Config, cfgErr error, serverURL string) (*config.Config, loginserver.Registry, error) {
	var extra []loginserver.CloudSuffix
	if cfgErr == nil {
		extra = cfg.CloudSuffixes()
	}
	reg, err := loginserver.Parse(serverURL, extra...)
	if err != nil {
		// The input itself is not logged: it may carry userinfo.
		h.o.Logger.Debug("not an ACR login server", "reason", err)
		if cfgErr != nil {
			// The broken file may be what declares this host's cloud:
			// say so, or its registries would go anonymous in silence.
			h.o.Logger.Warn("the config file could not be used, so registries of the clouds it declares are not recognised", "error", cfgErr)
		}
		return nil, loginserver.Registry{}, credentials.NewErrCredentialsNotFound()
	}
	if cfgErr != nil {
		return nil, loginserver.Registry{}, cfgErr
	}
	return cfg, reg, nil
}

func (h *Helper) config() (*config.Config, error) {
	if h.o.Config != nil {
		return h.o.Config, nil
	}
	cfg, err := config.Load(config.Path(h.o.Getenv))
	if err == nil && !cfg.Loaded() && h.o.Getenv(config.EnvConfig) != "" {
		h.o.Logger.Warn("the config file named by "+config.EnvConfig+" does not exist; using defaults", "path", cfg.Path())
	}
	return cfg, err
}

// tokenTarget is what the provider is asked for reg. The challenge is skipped
// where the host's form fixes the exchange endpoint and service, unless the
// settings ask for it always (a proxy that names another service).
func tokenTarget(reg loginserver.Registry, s config.Settings) token.Target {
	return token.Target{LoginServer: reg.Host, Cloud: reg.Cloud,
		SkipChallenge: reg.FixedExchange() && s.Challenge != config.ChallengeAlways}
}

// provider wires the sources, scopes and cache chosen for one registry.
func (h *Helper) provider(reg loginserver.Registry, s config.Settings) (*token.Provider, error) {
	budget, _ := h.timeout(s)
	opts := token.ProviderOptions{
		Cache:    h.o.Cache,
		Logger:   h.o.Logger,
		Scopes:   s.Scopes,
		TenantID: s.TenantID,
		Selector: s.Selector(),
		// ctx's deadline (see fetch) governs; this only keeps the
		// provider's own backstop from ending a long budget early.
		FetchTimeout: budget,
		// The exchanger makes its HTTP client only when a fetch needs it.
		Exchanger: acr.NewExchanger(acr.Options{HTTPClient: h.o.HTTPClient, Logger: h.o.Logger}),
	}
	if h.o.Credential != nil {
		if h.o.CredentialIdentity == "" {
			return nil, errors.New("credhelper: Options.Credential is set without Options.CredentialIdentity; " +
				"name the credential's principal (e.g. its client ID) so that two credentials never share a cached token")
		}
		opts.Sources = []token.Source{token.FromCredential("credential", h.o.CredentialIdentity, h.o.Credential)}
		return token.NewProvider(opts), nil
	}
	ss, so := h.identitySettings(reg, s)
	if len(s.Sources) > 0 {
		sources, err := identity.New(s.Sources, ss, so)
		if err != nil {
			return nil, err
		}
		opts.Sources = sources
		return token.NewProvider(opts), nil
	}
	opts.Sources, opts.Skipped = identity.Auto(ss, so)
	for _, why := range opts.Skipped {
		h.o.Logger.Debug("identity source skipped", "reason", why)
	}
	return token.NewProvider(opts), nil
}

// identitySettings are what the identity sources of reg are built with.
func (h *Helper) identitySettings(reg loginserver.Registry, s config.Settings) (identity.Settings, identity.Options) {
	ss := identity.Settings{
		ClientID:           s.ClientID,
		TenantID:           s.TenantID,
		ResourceID:         s.ResourceID,
		ObjectID:           s.ObjectID,
		FederatedTokenFile: h.o.Getenv("AZURE_FEDERATED_TOKEN_FILE"),
	}
	// A cloud declared in the config file brings its own authority; the
	// ambient AZURE_AUTHORITY_HOST (which AKS sets in every pod) may move
	// only the built-in clouds'.
	if isBuiltinCloud(reg.Cloud) {
		ss.AuthorityHost = h.o.Getenv("AZURE_AUTHORITY_HOST")
	}
	return ss, identity.Options{Getenv: h.o.Getenv, Logger: h.o.Logger, Transport: h.o.Transport}
}

// Add refuses to store anything: this helper's tokens come from Azure
// identity, and a stored password is what it exists to avoid.
func (h *Helper) Add(c *credentials.Credentials) error {
	if h.o.IgnoreStore {
		return nil
	}
	return errors.New("this helper does not store credentials: it obtains ACR tokens from the machine's Azure identity on each 'get'. " +
		"Nothing was saved. To let tools that call 'store' after a login succeed, set DOCKER_CREDENTIAL_ACR_IGNORE_STORE=1")
}

// Delete drops the cached tokens of serverURL's registry. It succeeds
// when there are none, and for hosts that are not ACR login servers.
func (h *Helper) Delete(serverURL string) error {
	_, reg, err := h.recognise(serverURL)
	if credentials.IsErrCredentialsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.o.Cache.Delete(context.Background(), reg.Host); err != nil {
		return fmt.Errorf("erasing cached tokens of %s: %w; check the permissions of the cache directory (DOCKER_CREDENTIAL_ACR_CACHE_DIR)", reg.Host, err)
	}
	return nil
}

// List maps each registry with an unexpired cached token to the
// identity-token username.
func (h *Helper) List() (map[string]string, error) {
	entries, err := h.o.Cache.List(context.Background())
	if err != nil {
		return nil, fmt.Errorf("listing cached tokens: %w; check the permissions of the cache directory (DOCKER_CREDENTIAL_ACR_CACHE_DIR)", err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		out[e.LoginServer] = TokenUsername
	}
	return out, nil
}

func isBuiltinCloud(c token.Cloud) bool {
	return c == token.PublicCloud() || c == token.ChinaCloud() || c == token.USGovCloud()
}
