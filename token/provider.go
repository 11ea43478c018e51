package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultNegativeTTL is how long "no identity source is available here" is
// remembered. It is short so that a machine that gains an identity (az
// login, a new pod) is noticed quickly, and long enough that one docker
// build calling every configured helper pays the probe once.
const DefaultNegativeTTL = 30 * time.Second

// DefaultFetchTimeout bounds one fetch: long enough for a slow IMDS and an
// exchange with retries, short enough that docker never seems to hang.
const DefaultFetchTimeout = 60 * time.Second

// ProviderOptions configure a Provider. Sources and Exchanger are required.
type ProviderOptions struct {
	// Sources are tried in order until one is available.
	Sources []Source
	// Skipped explains sources that were left out of Sources (for the
	// error when none is available), e.g. a *SourceError reading
	// "workload: AZURE_FEDERATED_TOKEN_FILE is not set".
	Skipped []error
	// Cache keeps refresh tokens between calls; nil means NoCache.
	Cache Cache
	// Exchanger trades the Entra token for the refresh token (token/acr's
	// Exchanger). It is used only after a cache miss; without one, every
	// fetch fails with an error that says so.
	Exchanger Exchanger
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Scopes are the Entra scopes to try, in order; the next one is tried
	// only when the previous audience is unavailable (see
	// IsAudienceUnavailable). Empty means []string{DefaultScope}.
	Scopes []string
	// TenantID is sent to the exchange; empty means the Entra token's tid.
	TenantID string
	// Selector describes configuration that selects the identity beyond
	// what the sources report (e.g. the front end's per-registry entry);
	// it is part of the cache key.
	Selector string
	// FetchTimeout bounds everything after a cache miss: waiting for the
	// lock, the Entra token and the exchange. Zero means DefaultFetchTimeout.
	// A cache hit is not subject to it, so the hot path starts no timer.
	// ctx's deadline governs when it is sooner: a front end that bounds a
	// whole call puts that deadline on ctx, and every step (the lock wait
	// included) spends it. FetchTimeout is the backstop for an embedder
	// whose ctx has no deadline.
	FetchTimeout time.Duration
	// NegativeTTL overrides DefaultNegativeTTL; negative disables it.
	NegativeTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider turns an identity into ACR refresh tokens, through the cache.
type Provider struct {
	o ProviderOptions
}

// NewProvider returns a Provider with defaults filled in.
func NewProvider(o ProviderOptions) *Provider {
	if o.Cache == nil {
		o.Cache = NoCache{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{DefaultScope}
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Provider{o: o}
}

// Key is the cache key this provider uses for target.
func (p *Provider) Key(target Target) CacheKey {
	ids := make([]string, len(p.o.Sources))
	for i, s := range p.o.Sources {
		ids[i] = s.Identity()
	}
	identity := strings.Join(ids, ",")
	if p.o.Selector != "" {
		identity += ";" + p.o.Selector
	}
	return CacheKey{
		LoginServer: target.LoginServer,
		Identity:    identity,
		Tenant:      p.o.TenantID,
		Scope:       strings.Join(p.o.Scopes, " "),
	}
}

// refreshMargin is how long before exp a token stops being handed out
// from the cache: the larger of 5 minutes and a tenth of its lifetime, so
// that a client which starts a long pull just before the margin still has
// a valid token, but never more than half the lifetime, so that a short
// token is still reused.
func refreshMargin(issuedAt, expiresAt time.Time) time.Duration {
	life := expiresAt.Sub(issuedAt)
	margin := max(5*time.Minute, life/10)
	if issuedAt.IsZero() || life <= 0 {
		return 5 * time.Minute
	}
	return min(margin, life/2)
}

// RefreshAt is when the provider stops handing e out and fetches anew: its
// expiry less the refresh margin. A front end whose caller caches too (the
// kubelet) tells it to ask again then. Zero when e has no known expiry.
func (e Entry) RefreshAt() time.Time {
	if e.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return e.ExpiresAt.Add(-refreshMargin(e.IssuedAt, e.ExpiresAt))
}

// fresh reports whether e can be handed out at now without a refresh.
func fresh(e Entry, now time.Time) bool {
	return now.Before(e.RefreshAt())
}

// RefreshToken returns an ACR refresh token for target: from the cache
// while it is fresh, otherwise from an identity source and the exchange.
func (p *Provider) RefreshToken(ctx context.Context, target Target) (Entry, error) {
	key := p.Key(target)
	log := p.o.Logger.With("registry", target.LoginServer)
	cached, ok := p.o.Cache.Get(ctx, key)
	if ok && fresh(cached, p.o.Now()) {
		log.Debug("using cached refresh token", "source", cached.Source, "expires", cached.ExpiresAt.Format(time.RFC3339))
		return cached, nil
	}
	if !ok && p.o.NegativeTTL > 0 && p.o.Cache.GetNegative(ctx, key.Identity) {
		return Entry{}, p.rememberedNoSource(target)
	}

	ctx, cancel := context.WithTimeout(ctx, p.o.FetchTimeout)
	defer cancel()
	// One process fetches; the others wait here and then find its result.
	// After a lock timeout the holder may just have finished, so look
	// again either way.
	unlock, err := p.lock(ctx, key)
	if err != nil {
		log.Debug("going on without the cache lock", "error", err)
	} else {
		defer unlock()
	}
	if again, ok2 := p.o.Cache.Get(ctx, key); ok2 {
		if fresh(again, p.o.Now()) {
			log.Debug("another process refreshed the token while we waited", "source", again.Source)
			return again, nil
		}
		cached, ok = again, true
	}
	// Waiters queued behind a holder that found no identity must not each
	// probe the sources again.
	if !ok && p.o.NegativeTTL > 0 && p.o.Cache.GetNegative(ctx, key.Identity) {
		return Entry{}, p.rememberedNoSource(target)
	}

	// The registry's side (its TLS connection, its challenge) starts now,
	// so that it overlaps the Entra token instead of following it.
	if pr, ok := p.o.Exchanger.(Preparer); ok {
		pr.Prepare(ctx, ExchangeRequest{LoginServer: target.LoginServer, SkipChallenge: target.SkipChallenge, Tenant: p.o.TenantID})
	}
	fetched, err := p.fetch(ctx, target, log)
	if err != nil {
		// The deadline may be what failed: the bookkeeping below must not
		// fail with it.
		ctx := context.WithoutCancel(ctx)
		if errors.Is(err, ErrNoSource) && p.o.NegativeTTL > 0 {
			if perr := p.o.Cache.PutNegative(ctx, key.Identity, p.o.Now().Add(p.o.NegativeTTL)); perr != nil {
				log.Debug("could not remember that no identity is available", "error", perr)
			}
		}
		// A token that is due for refresh but not yet expired still works:
		// serving it beats failing a pull over a transient outage.
		if ok && p.o.Now().Before(cached.ExpiresAt) {
			log.Warn("refreshing the ACR token failed; using the cached one until it expires",
				"expires", cached.ExpiresAt.Format(time.RFC3339), "error", err)
			return cached, nil
		}
		return Entry{}, err
	}
	if fetched.ExpiresAt.IsZero() {
		log.Warn("the registry's refresh token has no readable exp claim; it is used once and not cached")
		return fetched, nil
	}
	if err := p.o.Cache.Put(context.WithoutCancel(ctx), key, fetched); err != nil {
		log.Debug("refresh token not cached", "error", err)
	}
	return fetched, nil
}

// lock takes key's cache lock, waiting at most half the time left before
// ctx's deadline. A waiter behind a holder that hangs (or died holding a
// lock the system has not yet released) then still has the other half to
// fetch for itself; a holder that is merely slow has had as long as a
// fetch normally takes many times over. Half, rather than a fixed margin,
// scales from a 1 s budget to a long one.
func (p *Provider) lock(ctx context.Context, key CacheKey) (func(), error) {
	if dl, ok := ctx.Deadline(); ok {
		// The wall clock, as ctx's: Options.Now may be a test's.
		now := time.Now()
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, now.Add(dl.Sub(now)/2))
		defer cancel()
	}
	return p.o.Cache.Lock(ctx, key)
}

// fetch walks the sources in order and exchanges the first Entra token it
// gets.
func (p *Provider) fetch(ctx context.Context, target Target, log *slog.Logger) (Entry, error) {
	reasons := append([]error(nil), p.o.Skipped...)
	for _, src := range p.o.Sources {
		entry, err := p.fetchFrom(ctx, src, target, log)
		if err == nil {
			return entry, nil
		}
		if !errors.Is(err, ErrSourceUnavailable) {
			// Exchange errors begin with the login server already.
			var xe exchangeFailure
			if errors.As(err, &xe) && xe.ExchangeLoginServer() == target.LoginServer {
				return Entry{}, err
			}
			return Entry{}, fmt.Errorf("%s: %w", target.LoginServer, err)
		}
		log.Debug("identity source unavailable", "source", src.Name(), "reason", err)
		reasons = append(reasons, err)
	}
	return Entry{}, &NoSourceError{LoginServer: target.LoginServer, Reasons: reasons, Sources: p.sourceNames()}
}

// fetchFrom gets an Entra token from src and exchanges it, trying the
// configured scopes in turn while the audience is unavailable.
func (p *Provider) fetchFrom(ctx context.Context, src Source, target Target, log *slog.Logger) (Entry, error) {
	var lastErr error
	for i, scope := range p.o.Scopes {
		if i > 0 {
			log.Info("retrying with the next audience", "scope", scope, "after", lastErr)
		}
		entra, err := src.EntraToken(ctx, target.Cloud, scope)
		if err != nil {
			lastErr = err
			if !errors.Is(err, ErrSourceUnavailable) && IsAudienceUnavailable(err) && i+1 < len(p.o.Scopes) {
				continue
			}
			return Entry{}, err
		}
		log.Debug("got an Entra token", "source", src.Name(), "identity", src.Identity(), "scope", scope)
		if p.o.Exchanger == nil {
			return Entry{}, errNoExchanger
		}
		// The exchanger sends the Entra token's tid when TenantID is empty.
		refresh, err := p.o.Exchanger.Exchange(ctx, ExchangeRequest{LoginServer: target.LoginServer, EntraToken: entra.Token,
			Tenant: p.o.TenantID, SkipChallenge: target.SkipChallenge})
		if err != nil {
			return Entry{}, err
		}
		e := Entry{LoginServer: target.LoginServer, Source: src.Name(), RefreshToken: refresh.Token}
		if exp := refresh.ExpiresAt; !exp.IsZero() {
			e.IssuedAt, e.ExpiresAt = refresh.IssuedAt, exp
			if e.IssuedAt.IsZero() {
				e.IssuedAt = p.o.Now()
			}
			if !p.o.Now().Before(exp) {
				return Entry{}, fmt.Errorf("the registry returned a refresh token that expired at %s (is this machine's clock right?)",
					exp.Format(time.RFC3339))
			}
		}
		log.Info("exchanged an Entra token for an ACR refresh token", "source", src.Name(), "expires", e.ExpiresAt.Format(time.RFC3339))
		return e, nil
	}
	return Entry{}, lastErr
}

func (p *Provider) rememberedNoSource(target Target) error {
	return &NoSourceError{LoginServer: target.LoginServer, Sources: p.sourceNames(), Remembered: true, TTL: p.o.NegativeTTL}
}

func (p *Provider) sourceNames() []string {
	names := make([]string, len(p.o.Sources))
	for i, s := range p.o.Sources {
		names[i] = s.Name()
	}
	return names
}
