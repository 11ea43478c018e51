package token

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// events is a shared, ordered record of what the fakes were asked.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// preparingExchanger is a fakeExchanger that is also a Preparer, and
// records both calls, with the ExchangeRequest fields that matter here.
type preparingExchanger struct {
	fakeExchanger
	ev      *events
	ctxDone []<-chan struct{}
}

func (p *preparingExchanger) Prepare(ctx context.Context, r ExchangeRequest) {
	p.ev.add(fmt.Sprintf("prepare %s skip=%v tenant=%q token=%q", r.LoginServer, r.SkipChallenge, r.Tenant, r.EntraToken))
	p.mu.Lock()
	p.ctxDone = append(p.ctxDone, ctx.Done())
	p.mu.Unlock()
}

func (p *preparingExchanger) Exchange(ctx context.Context, r ExchangeRequest) (RefreshToken, error) {
	p.ev.add(fmt.Sprintf("exchange %s skip=%v", r.LoginServer, r.SkipChallenge))
	return p.fakeExchanger.Exchange(ctx, r)
}

// recordingSource is a fakeSource that adds its calls to the events.
type recordingSource struct {
	*fakeSource
	ev *events
}

func (s recordingSource) EntraToken(ctx context.Context, c Cloud, scope string) (EntraToken, error) {
	s.ev.add("source " + s.name)
	return s.fakeSource.EntraToken(ctx, c, scope)
}

// TestProviderPreparesOncePerFetch: the exchanger's Prepare comes once per
// fetch, after the cache miss and before the first source is asked, with
// the target's SkipChallenge, the tenant and no token; every Exchange gets
// the same SkipChallenge; a cache hit prepares nothing; and the context
// Prepare got ends with the fetch.
func TestProviderPreparesOncePerFetch(t *testing.T) {
	unavailable := fmt.Errorf("%w: not here", ErrSourceUnavailable)
	for _, tt := range []struct {
		name   string
		skip   bool
		tenant string
		first  error // the first source's error; nil: it answers
		want   []string
	}{
		{name: "skip", skip: true, want: []string{
			`prepare myreg.azurecr.io skip=true tenant="" token=""`, "source first", "exchange myreg.azurecr.io skip=true"}},
		{name: "challenge, with a tenant", tenant: "contoso.onmicrosoft.com", want: []string{
			`prepare myreg.azurecr.io skip=false tenant="contoso.onmicrosoft.com" token=""`, "source first", "exchange myreg.azurecr.io skip=false"}},
		{name: "second source", skip: true, first: unavailable, want: []string{
			`prepare myreg.azurecr.io skip=true tenant="" token=""`, "source first", "source second", "exchange myreg.azurecr.io skip=true"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1_800_000_000, 0)}
			ev := &events{}
			first := recordingSource{&fakeSource{name: "first", identity: "first", token: "entra-1", err: tt.first}, ev}
			second := recordingSource{&fakeSource{name: "second", identity: "second", token: "entra-2"}, ev}
			ex := &preparingExchanger{fakeExchanger: fakeExchanger{refresh: refreshToken(t, clk.t, 3*time.Hour)}, ev: ev}
			p := NewProvider(ProviderOptions{Sources: []Source{first, second}, Exchanger: ex, Cache: newMemCache(clk.now),
				Now: clk.now, TenantID: tt.tenant})
			tgt := target
			tgt.SkipChallenge = tt.skip
			for i := range 2 { // the second is a cache hit
				if _, err := p.RefreshToken(context.Background(), tgt); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := ev.get(); !slices.Equal(got, tt.want) {
				t.Errorf("calls:\n %q\nwant\n %q", got, tt.want)
			}
			for _, done := range ex.ctxDone {
				select {
				case <-done:
				default:
					t.Error("Prepare's context outlived the fetch")
				}
			}
		})
	}
}

// TestProviderWithoutPreparer: an Exchanger that is not a Preparer is
// simply not prepared.
func TestProviderWithoutPreparer(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	ex := &fakeExchanger{refresh: refreshToken(t, clk.t, 3*time.Hour)}
	src := &fakeSource{name: "managed", identity: "managed:system", token: "entra"}
	p := NewProvider(ProviderOptions{Sources: []Source{src}, Exchanger: ex, Now: clk.now})
	if _, err := p.RefreshToken(context.Background(), target); err != nil || ex.calls != 1 {
		t.Fatalf("RefreshToken: %v after %d exchanges", err, ex.calls)
	}
}
