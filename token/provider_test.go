package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/docker-credential-acr/docker-credential-acr/token/internal/jwtclaims"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/testkit"
)

// fakeSource is a hand-written Source: it answers with a fixed token or
// error and counts its calls.
type fakeSource struct {
	name, identity string
	token          string
	err            error
	// errFor fails only the given scope (audience tests).
	errFor map[string]error

	mu     sync.Mutex
	calls  int
	scopes []string
}

func (f *fakeSource) Name() string     { return f.name }
func (f *fakeSource) Identity() string { return f.identity }
func (f *fakeSource) EntraToken(_ context.Context, _ Cloud, scope string) (EntraToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.scopes = append(f.scopes, scope)
	if err := f.errFor[scope]; err != nil {
		return EntraToken{}, err
	}
	if f.err != nil {
		return EntraToken{}, f.err
	}
	return EntraToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeExchanger hands out a prepared refresh token and records what it got.
// Like token/acr's, it reports the token's iat (else nbf) and exp, zero
// when there is no usable exp.
type fakeExchanger struct {
	refresh string
	err     error

	mu      sync.Mutex
	calls   int
	entra   []string
	tenants []string
}

func (f *fakeExchanger) Exchange(_ context.Context, r ExchangeRequest) (RefreshToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.entra = append(f.entra, r.EntraToken)
	f.tenants = append(f.tenants, r.Tenant)
	if f.err != nil {
		return RefreshToken{}, f.err
	}
	rt := RefreshToken{Token: f.refresh, Tenant: r.Tenant}
	if claims, ok := jwtclaims.Unverified(f.refresh); ok {
		if exp, ok := jwtclaims.NumericDate(claims["exp"]); ok {
			rt.ExpiresAt = exp
			if iat, ok := jwtclaims.NumericDate(claims["iat"]); ok && iat.Before(exp) {
				rt.IssuedAt = iat
			}
		}
	}
	return rt, nil
}

// memCache is an in-memory Cache for provider tests.
type memCache struct {
	mu       sync.Mutex
	entries  map[CacheKey]Entry
	negative map[string]time.Time
	now      func() time.Time
	puts     int
}

func newMemCache(now func() time.Time) *memCache {
	return &memCache{entries: map[CacheKey]Entry{}, negative: map[string]time.Time{}, now: now}
}

func (m *memCache) Get(ctx context.Context, k CacheKey) (Entry, bool) {
	// Like filecache, a finished context is a miss.
	if ctx.Err() != nil {
		return Entry{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[k]
	if !ok || !m.now().Before(e.ExpiresAt) {
		return Entry{}, false
	}
	return e, true
}
func (m *memCache) Put(_ context.Context, k CacheKey, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	m.entries[k] = e
	return nil
}
func (m *memCache) Lock(context.Context, CacheKey) (func(), error) { return func() {}, nil }
func (m *memCache) Delete(context.Context, string) error           { return nil }
func (m *memCache) List(context.Context) ([]Entry, error)          { return nil, nil }
func (m *memCache) GetNegative(_ context.Context, set string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now().Before(m.negative[set])
}
func (m *memCache) PutNegative(_ context.Context, set string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.negative[set] = until
	return nil
}

// refreshToken is an ACR-like refresh token issued at iat and living for life.
func refreshToken(t *testing.T, iat time.Time, life time.Duration) string {
	return testkit.HS256(t, jwt.MapClaims{"iat": iat.Unix(), "exp": iat.Add(life).Unix(), "iss": "Azure Container Registry", "grant_type": "refresh_token"})
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var target = Target{LoginServer: "myreg.azurecr.io", Cloud: PublicCloud()}

func TestProviderFetchesOnceThenServesFromCache(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	src := &fakeSource{name: "managed", identity: "managed:system", token: testkit.HS256(t, jwt.MapClaims{"tid": "tenant-from-claim"})}
	ex := &fakeExchanger{refresh: refreshToken(t, clk.t, 3*time.Hour)}
	cache := newMemCache(clk.now)
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Cache: cache, Now: clk.now})

	for i := range 3 {
		e, err := p.RefreshToken(context.Background(), target)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if e.RefreshToken != ex.refresh || e.Source != "managed" || e.LoginServer != "myreg.azurecr.io" {
			t.Fatalf("call %d: entry %+v", i, e)
		}
		clk.t = clk.t.Add(time.Hour)
	}
	if src.calls != 1 || ex.calls != 1 {
		t.Fatalf("sources called %d times, exchange %d times; want 1 and 1", src.calls, ex.calls)
	}
	// "" asks the exchanger for the Entra token's tid (token/acr's
	// TestExchangeGrant asserts that it sends it).
	if ex.tenants[0] != "" {
		t.Fatalf("tenant asked of the exchange = %q, want \"\" (the Entra token's tid)", ex.tenants[0])
	}
}

func TestProviderRefreshesInsideTheMargin(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name        string
		elapsed     time.Duration
		wantFetches int
	}{
		{"well inside the lifetime", 2 * time.Hour, 1},
		{"just before the margin", 3*time.Hour - 18*time.Minute - time.Second, 1},
		{"inside the margin (10% of 3h = 18m)", 3*time.Hour - 17*time.Minute, 2},
		{"after exp", 3*time.Hour + time.Minute, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: start}
			src := &fakeSource{name: "managed", identity: "managed:system", token: "entra"}
			ex := &fakeExchanger{refresh: refreshToken(t, start, 3*time.Hour)}
			p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Cache: newMemCache(clk.now), Now: clk.now})
			if _, err := p.RefreshToken(context.Background(), target); err != nil {
				t.Fatal(err)
			}
			clk.t = start.Add(tt.elapsed)
			ex.refresh = refreshToken(t, clk.t, 3*time.Hour)
			if _, err := p.RefreshToken(context.Background(), target); err != nil {
				t.Fatal(err)
			}
			if ex.calls != tt.wantFetches {
				t.Fatalf("exchanges = %d, want %d", ex.calls, tt.wantFetches)
			}
		})
	}
}

func TestProviderServesUnexpiredTokenWhenRefreshFails(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{t: start}
	src := &fakeSource{name: "managed", identity: "managed:system", token: "entra"}
	first := refreshToken(t, start, time.Hour)
	ex := &fakeExchanger{refresh: first}
	var logs bytes.Buffer
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Cache: newMemCache(clk.now), Now: clk.now,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if _, err := p.RefreshToken(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	ex.err = errors.New("registry answered 503")

	clk.t = start.Add(57 * time.Minute) // inside the 5-minute margin, not expired
	e, err := p.RefreshToken(context.Background(), target)
	if err != nil || e.RefreshToken != first {
		t.Fatalf("inside the margin with a failing refresh: got %v, want the cached token", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("no warning logged when serving a token whose refresh failed:\n%s", logs.String())
	}

	clk.t = start.Add(61 * time.Minute) // expired
	if _, err := p.RefreshToken(context.Background(), target); err == nil {
		t.Fatal("an expired token was served after a failed refresh")
	}
}

// hangingSource blocks until the caller gives up, like an unreachable
// Entra.
type hangingSource struct{}

func (hangingSource) Name() string     { return "managed" }
func (hangingSource) Identity() string { return "managed:system" }
func (hangingSource) EntraToken(ctx context.Context, _ Cloud, _ string) (EntraToken, error) {
	<-ctx.Done()
	return EntraToken{}, fmt.Errorf("managed source: %w", ctx.Err())
}

func TestProviderServesValidTokenWhenRefreshTimesOut(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{t: start}
	cache := newMemCache(clk.now)
	first := refreshToken(t, start, time.Hour)
	seed := NewProvider(ProviderOptions{Sources: []Source{hangingSource{}}, Cache: cache, Now: clk.now,
		Exchanger: &fakeExchanger{refresh: first}})
	key := seed.Key(target)
	_ = cache.Put(context.Background(), key, Entry{LoginServer: target.LoginServer, Source: "managed", RefreshToken: first, IssuedAt: start, ExpiresAt: start.Add(time.Hour)})

	clk.t = start.Add(58 * time.Minute) // inside the margin, two minutes left
	p := NewProvider(ProviderOptions{Sources: []Source{hangingSource{}}, Cache: cache, Now: clk.now,
		Exchanger: &fakeExchanger{}, FetchTimeout: 50 * time.Millisecond})
	e, err := p.RefreshToken(context.Background(), target)
	if err != nil || e.RefreshToken != first {
		t.Fatalf("refresh timed out: got %v; want the cached, still valid token", err)
	}
}

func TestProviderDoesNotCacheTokenWithoutExp(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	noExp := testkit.HS256(t, jwt.MapClaims{"iss": "Azure Container Registry"})
	ex := &fakeExchanger{refresh: noExp}
	cache := newMemCache(clk.now)
	p := NewProvider(ProviderOptions{Sources: []Source{&fakeSource{name: "cli", identity: "cli", token: "entra"}}, Exchanger: ex, Cache: cache, Now: clk.now})
	for range 2 {
		e, err := p.RefreshToken(context.Background(), target)
		if err != nil || e.RefreshToken != noExp {
			t.Fatalf("got %v, %v", e, err)
		}
	}
	if cache.puts != 0 || ex.calls != 2 {
		t.Fatalf("a token without exp was cached (puts=%d, exchanges=%d)", cache.puts, ex.calls)
	}
}

func TestProviderRejectsAlreadyExpiredToken(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	ex := &fakeExchanger{refresh: refreshToken(t, clk.t.Add(-2*time.Hour), time.Hour)}
	p := NewProvider(ProviderOptions{Sources: []Source{&fakeSource{name: "cli", identity: "cli", token: "entra"}}, Exchanger: ex, Now: clk.now})
	_, err := p.RefreshToken(context.Background(), target)
	if err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("err = %v, want a hint about the clock", err)
	}
}

func TestProviderWalksSourcesInOrder(t *testing.T) {
	unavailable := func(why string) error { return fmt.Errorf("%w: %s", ErrSourceUnavailable, why) }
	tests := []struct {
		name       string
		sources    []*fakeSource
		wantSource string
		wantErr    string // substring; "" means success
		wantCalls  []int
	}{
		{
			name: "first available wins",
			sources: []*fakeSource{
				{name: "workload", identity: "workload:a", token: "t1"},
				{name: "managed", identity: "managed:system", token: "t2"},
			},
			wantSource: "workload", wantCalls: []int{1, 0},
		},
		{
			name: "unavailable sources are skipped",
			sources: []*fakeSource{
				{name: "workload", identity: "workload:a", err: unavailable("no token file")},
				{name: "managed", identity: "managed:system", err: unavailable("no IMDS")},
				{name: "cli", identity: "cli", token: "t3"},
			},
			wantSource: "cli", wantCalls: []int{1, 1, 1},
		},
		{
			name: "a real failure stops the walk",
			sources: []*fakeSource{
				{name: "workload", identity: "workload:a", err: errors.New("AADSTS70021: no matching federated identity record")},
				{name: "cli", identity: "cli", token: "t3"},
			},
			wantErr: "AADSTS70021", wantCalls: []int{1, 0},
		},
		{
			name: "none available lists every reason",
			sources: []*fakeSource{
				{name: "managed", identity: "managed:system", err: unavailable("no managed identity found at 169.254.169.254")},
				{name: "cli", identity: "cli", err: unavailable("az not found on PATH")},
			},
			wantErr: "169.254.169.254; " + ErrSourceUnavailable.Error() + ": az not found on PATH", wantCalls: []int{1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sources := make([]Source, len(tt.sources))
			for i, s := range tt.sources {
				sources[i] = s
			}
			ex := &fakeExchanger{refresh: refreshToken(t, time.Now(), time.Hour)}
			p := NewProvider(ProviderOptions{Sources: sources, Exchanger: ex})
			e, err := p.RefreshToken(context.Background(), target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
			} else if err != nil || e.Source != tt.wantSource {
				t.Fatalf("got source %q, err %v; want %q", e.Source, err, tt.wantSource)
			}
			for i, s := range tt.sources {
				if s.calls != tt.wantCalls[i] {
					t.Errorf("source %s called %d times, want %d", s.name, s.calls, tt.wantCalls[i])
				}
			}
		})
	}
}

func TestProviderRemembersThatNoSourceIsAvailable(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	src := &fakeSource{name: "managed", identity: "managed:system", err: fmt.Errorf("%w: no IMDS", ErrSourceUnavailable)}
	cache := newMemCache(clk.now)
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: &fakeExchanger{}, Cache: cache, Now: clk.now})
	for i := range 3 {
		_, err := p.RefreshToken(context.Background(), target)
		if !errors.Is(err, ErrNoSource) {
			t.Fatalf("call %d: err = %v, want ErrNoSource", i, err)
		}
		// The first call tried the source; the others remember that.
		var nse *NoSourceError
		if !errors.As(err, &nse) || nse.LoginServer != target.LoginServer || nse.Remembered != (i > 0) ||
			len(nse.Sources) != 1 || nse.Sources[0] != "managed" {
			t.Fatalf("call %d: err = %#v, want a NoSourceError for %s, remembered %v", i, err, target.LoginServer, i > 0)
		}
		if i == 0 && (len(nse.Reasons) != 1 || !errors.Is(nse.Reasons[0], ErrSourceUnavailable)) {
			t.Errorf("reasons %v, want the source's unavailability", nse.Reasons)
		}
		if i > 0 && nse.TTL != DefaultNegativeTTL {
			t.Errorf("TTL %v, want %v", nse.TTL, DefaultNegativeTTL)
		}
	}
	if src.calls != 1 {
		t.Fatalf("source probed %d times within the negative TTL, want 1", src.calls)
	}
	clk.t = clk.t.Add(DefaultNegativeTTL + time.Second)
	_, _ = p.RefreshToken(context.Background(), target)
	if src.calls != 2 {
		t.Fatalf("source probed %d times after the negative TTL, want 2", src.calls)
	}

	off := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: &fakeExchanger{}, Cache: cache, Now: clk.now, NegativeTTL: -1})
	_, _ = off.RefreshToken(context.Background(), target)
	_, _ = off.RefreshToken(context.Background(), target)
	if src.calls != 4 {
		t.Fatalf("with the negative cache off the source was probed %d times, want 4", src.calls)
	}
}

func TestProviderFallsBackToNextAudience(t *testing.T) {
	src := &fakeSource{name: "env", identity: "env:app", token: "entra",
		errFor: map[string]error{DefaultScope: errors.New("AADSTS500011: The resource principal named https://containerregistry.azure.net was not found")}}
	ex := &fakeExchanger{refresh: refreshToken(t, time.Now(), time.Hour)}
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Scopes: []string{DefaultScope, ARMScope}})
	if _, err := p.RefreshToken(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(src.scopes, " "); got != DefaultScope+" "+ARMScope {
		t.Fatalf("scopes tried: %s", got)
	}

	// Any other failure is not an audience problem: no second scope.
	src2 := &fakeSource{name: "env", identity: "env:app", token: "entra",
		errFor: map[string]error{DefaultScope: errors.New("AADSTS7000215: invalid client secret")}}
	p2 := NewProvider(ProviderOptions{Sources: []Source{src2}, Exchanger: ex, Scopes: []string{DefaultScope, ARMScope}})
	if _, err := p2.RefreshToken(context.Background(), target); err == nil || len(src2.scopes) != 1 {
		t.Fatalf("err = %v after scopes %v; want a failure after one scope", err, src2.scopes)
	}
}

func TestProviderSendsConfiguredTenant(t *testing.T) {
	ex := &fakeExchanger{refresh: refreshToken(t, time.Now(), time.Hour)}
	src := &fakeSource{name: "managed", identity: "managed:system", token: testkit.HS256(t, jwt.MapClaims{"tid": "from-claim"})}
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, TenantID: "from-settings"})
	if _, err := p.RefreshToken(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if ex.tenants[0] != "from-settings" {
		t.Fatalf("tenant = %q, want from-settings", ex.tenants[0])
	}
}

func TestProviderKeySeparatesIdentities(t *testing.T) {
	base := ProviderOptions{Sources: []Source{&fakeSource{name: "managed", identity: "managed:client_id=a"}}}
	variants := map[string]ProviderOptions{
		"base":     base,
		"identity": {Sources: []Source{&fakeSource{name: "managed", identity: "managed:client_id=b"}}},
		"tenant":   {Sources: base.Sources, TenantID: "t2"},
		"scope":    {Sources: base.Sources, Scopes: []string{ARMScope}},
		"selector": {Sources: base.Sources, Selector: "entry=*.azurecr.io"},
	}
	seen := map[string]string{}
	for name, o := range variants {
		for _, host := range []string{"myreg.azurecr.io", "other.azurecr.io"} {
			id := NewProvider(o).Key(Target{LoginServer: host}).ID()
			if prev, dup := seen[id]; dup {
				t.Fatalf("%s/%s shares a cache key with %s", name, host, prev)
			}
			seen[id] = name + "/" + host
		}
	}
}

func TestProviderNeverLogsTokens(t *testing.T) {
	entra := testkit.HS256(t, jwt.MapClaims{"tid": "tenant"})
	refresh := refreshToken(t, time.Now(), time.Hour)
	for _, exErr := range []error{nil, errors.New("exchange failed")} {
		var logs bytes.Buffer
		p := NewProvider(ProviderOptions{
			Sources:   []Source{&fakeSource{name: "managed", identity: "managed:system", token: entra}},
			Exchanger: &fakeExchanger{refresh: refresh, err: exErr},
			Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		_, err := p.RefreshToken(context.Background(), target)
		out := logs.String()
		if err != nil {
			out += err.Error()
		}
		for _, secret := range []string{entra, refresh} {
			if strings.Contains(out, secret) {
				t.Fatalf("a token reached the log or error:\n%s", out)
			}
		}
	}
}

func TestRefreshMargin(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	tests := []struct {
		life time.Duration
		want time.Duration
	}{
		{3 * time.Hour, 18 * time.Minute},
		{3*time.Hour + 15*time.Minute, 19*time.Minute + 30*time.Second},
		{75 * time.Minute, 7*time.Minute + 30*time.Second},
		{40 * time.Minute, 5 * time.Minute},
		{8 * time.Minute, 4 * time.Minute},
		{0, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := refreshMargin(at, at.Add(tt.life)); got != tt.want {
			t.Errorf("refreshMargin(life %s) = %s, want %s", tt.life, got, tt.want)
		}
	}
	if got := refreshMargin(time.Time{}, at); got != 5*time.Minute {
		t.Errorf("unknown iat: %s, want 5m", got)
	}
}

func TestProviderWithoutExchangerFailsClearly(t *testing.T) {
	p := NewProvider(ProviderOptions{Sources: []Source{&fakeSource{name: "cli", identity: "cli", token: "entra"}}})
	_, err := p.RefreshToken(context.Background(), Target{LoginServer: "myreg.azurecr.io", Cloud: PublicCloud()})
	if !errors.Is(err, errNoExchanger) || !strings.HasPrefix(err.Error(), "myreg.azurecr.io: ") || !strings.Contains(err.Error(), "ProviderOptions.Exchanger is nil") {
		t.Fatalf("err = %v, want the login server and the missing Exchanger", err)
	}
}

func TestProviderDoesNotRenameExchangeErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		// An exchange error naming this login server is passed on as is.
		{exchangeErr{"exchange at myreg.azurecr.io: boom"}, "exchange at myreg.azurecr.io: boom"},
		// Any other error gets the login server in front.
		{errors.New("boom"), "myreg.azurecr.io: boom"},
	} {
		p := NewProvider(ProviderOptions{Sources: []Source{&fakeSource{name: "cli", identity: "cli", token: "entra"}},
			Exchanger: &fakeExchanger{err: tt.err}})
		_, err := p.RefreshToken(context.Background(), Target{LoginServer: "myreg.azurecr.io", Cloud: PublicCloud()})
		if err == nil || err.Error() != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("err = %v, want %q wrapping %v", err, tt.want, tt.err)
		}
	}
}

func TestEntryRefreshAt(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		e    Entry
		want time.Time
	}{
		{"3 h token: a tenth before exp", Entry{IssuedAt: at, ExpiresAt: at.Add(3 * time.Hour)}, at.Add(3*time.Hour - 18*time.Minute)},
		{"no expiry", Entry{IssuedAt: at}, time.Time{}},
		{"no issue time: 5 minutes before exp", Entry{ExpiresAt: at}, at.Add(-5 * time.Minute)},
	} {
		if got := tt.e.RefreshAt(); !got.Equal(tt.want) {
			t.Errorf("%s: RefreshAt = %s, want %s", tt.name, got, tt.want)
		}
		// fresh is the same rule.
		if !tt.want.IsZero() && (fresh(tt.e, tt.want) || !fresh(tt.e, tt.want.Add(-time.Second))) {
			t.Errorf("%s: fresh disagrees with RefreshAt", tt.name)
		}
	}
}

// lockRecorder is a memCache whose lock is held by another process for
// ever: Lock reports the deadline it was given and gives up at once, as
// filecache does when that deadline passes (its error matches
// context.DeadlineExceeded).
type lockRecorder struct {
	*memCache
	deadline time.Time
	has      bool
	at       time.Time // when Lock was called
}

func (l *lockRecorder) Lock(ctx context.Context, _ CacheKey) (func(), error) {
	l.at = time.Now()
	l.deadline, l.has = ctx.Deadline()
	return func() {}, fmt.Errorf("timed out waiting for the token cache lock: %w", context.DeadlineExceeded)
}

// TestProviderLockWaitLeavesTimeToFetch: a waiter gives up on the lock at
// half the time left before the caller's deadline, then fetches for
// itself within the other half.
func TestProviderLockWaitLeavesTimeToFetch(t *testing.T) {
	clk := &clock{t: time.Now()}
	for _, tt := range []struct {
		name     string
		deadline time.Duration // of the caller's ctx, from clk; 0: none
		fetch    time.Duration // FetchTimeout
		want     time.Duration // lock deadline, from clk
	}{
		{"get's default budget", 9500 * time.Millisecond, 0, 4750 * time.Millisecond},
		{"a short budget", 1500 * time.Millisecond, 0, 750 * time.Millisecond},
		{"no deadline: half the fetch timeout", 0, 0, DefaultFetchTimeout / 2},
		{"fetch timeout sooner than the deadline", time.Hour, 20 * time.Second, 10 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := &lockRecorder{memCache: newMemCache(clk.now)}
			src := &fakeSource{name: "managed", identity: "managed:system", token: testkit.HS256(t, jwt.MapClaims{"tid": "t"})}
			ex := &fakeExchanger{refresh: refreshToken(t, clk.t, 3*time.Hour)}
			p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Cache: cache, Now: clk.now, FetchTimeout: tt.fetch})
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, clk.t.Add(tt.deadline))
				defer cancel()
			}
			e, err := p.RefreshToken(ctx, target)
			if err != nil || e.RefreshToken != ex.refresh {
				t.Fatalf("RefreshToken = %+v, %v; want the waiter's own fetch", e, err)
			}
			if ex.calls != 1 {
				t.Errorf("%d exchanges after giving up on the lock, want 1", ex.calls)
			}
			// The lock's deadline is reckoned on the wall clock, which
			// has moved on from clk by the time the provider asks: by at
			// most the time until Lock was called, and never backwards.
			got := cache.deadline.Sub(clk.t)
			if !cache.has || got < tt.want || got > tt.want+cache.at.Sub(clk.t) {
				t.Errorf("lock deadline %v after the start, want %v", got, tt.want)
			}
		})
	}
}
