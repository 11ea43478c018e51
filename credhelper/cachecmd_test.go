package credhelper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// plantedCacheSecret is a token-shaped secret planted in the cache: no listing
// may show a piece of it.
const plantedCacheSecret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQtc2VjcmV0"

func plantedCache(t *testing.T, now time.Time) *filecache.Cache {
	t.Helper()
	c := filecache.New(privateDir(t), filecache.Options{Now: func() time.Time { return now }})
	for _, p := range []struct {
		key token.CacheKey
		exp time.Duration
	}{
		{token.CacheKey{LoginServer: "myreg.azurecr.io", Identity: "managed:client_id=11111111-1111-1111-1111-111111111111", Tenant: "22222222-2222-2222-2222-222222222222", Scope: token.DefaultScope}, 3 * time.Hour},
		{token.CacheKey{LoginServer: "myreg.azurecr.io", Identity: "cli", Scope: token.ARMScope}, time.Hour},
		{token.CacheKey{LoginServer: "other.azurecr.io", Identity: "workload:client_id=x", Scope: token.DefaultScope}, 2 * time.Hour},
	} {
		e := token.Entry{LoginServer: p.key.LoginServer, Source: strings.SplitN(p.key.Identity, ":", 2)[0], RefreshToken: plantedCacheSecret + p.key.Identity,
			IssuedAt: now, ExpiresAt: now.Add(p.exp)}
		if err := c.Put(context.Background(), p.key, e); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCacheList(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}, Cache: plantedCache(t, now)})
	later := func() time.Time { return now.Add(90 * time.Minute) } // the cli entry has expired by then

	var human bytes.Buffer
	if err := h.CacheList(context.Background(), credhelper.CacheListOptions{Now: later}, &human); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"REGISTRY", "AUDIENCE", "myreg.azurecr.io", "other.azurecr.io", "managed:client_id=11111111-1111-1111-1111-111111111111",
		"22222222-2222-2222-2222-222222222222", token.ARMScope, "(the token's)", "2026-12-01T11:00:00Z (expired)"} {
		if !strings.Contains(human.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, human.String())
		}
	}
	leak.AssertNoFragment(t, human.String(), plantedCacheSecret, 12)

	var js bytes.Buffer
	if err := h.CacheList(context.Background(), credhelper.CacheListOptions{JSON: true, Now: later}, &js); err != nil {
		t.Fatal(err)
	}
	leak.AssertNoFragment(t, js.String(), plantedCacheSecret, 12)
	var items []credhelper.CacheListItem
	if err := json.Unmarshal(js.Bytes(), &items); err != nil {
		t.Fatalf("--json printed %q: %v", js.String(), err)
	}
	want := []credhelper.CacheListItem{
		{Registry: "myreg.azurecr.io", Identity: "cli", Audience: token.ARMScope, Source: "cli", IssuedAt: "2026-12-01T10:00:00Z", ExpiresAt: "2026-12-01T11:00:00Z", Expired: true},
		{Registry: "myreg.azurecr.io", Identity: "managed:client_id=11111111-1111-1111-1111-111111111111", Tenant: "22222222-2222-2222-2222-222222222222",
			Audience: token.DefaultScope, Source: "managed", IssuedAt: "2026-12-01T10:00:00Z", ExpiresAt: "2026-12-01T13:00:00Z"},
		{Registry: "other.azurecr.io", Identity: "workload:client_id=x", Audience: token.DefaultScope, Source: "workload", IssuedAt: "2026-12-01T10:00:00Z", ExpiresAt: "2026-12-01T12:00:00Z"},
	}
	if len(items) != len(want) {
		t.Fatalf("--json = %+v", items)
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, items[i], want[i])
		}
	}
}

func TestCacheListEmptyAndOff(t *testing.T) {
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}, Cache: filecache.New(privateDir(t), filecache.Options{})})
	var out bytes.Buffer
	if err := h.CacheList(context.Background(), credhelper.CacheListOptions{JSON: true}, &out); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("empty --json = %q, %v; want []", out.String(), err)
	}
	off := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}})
	if err := off.CacheList(context.Background(), credhelper.CacheListOptions{}, &out); err == nil || !strings.Contains(err.Error(), "DOCKER_CREDENTIAL_ACR_NO_CACHE") {
		t.Fatalf("no cache: %v", err)
	}
}

func TestCacheClear(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name, registry, want string
		left                 []string
	}{
		{"one registry", "https://MyReg.azurecr.io", "removed 2 cached tokens of myreg.azurecr.io", []string{"other.azurecr.io"}},
		{"all", "", "removed 3 cached tokens", nil},
		{"none cached", "third.azurecr.io", "removed 0 cached tokens of third.azurecr.io", []string{"myreg.azurecr.io", "myreg.azurecr.io", "other.azurecr.io"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := plantedCache(t, now)
			h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}, Cache: c})
			var out bytes.Buffer
			if err := h.CacheClear(context.Background(), credhelper.CacheClearOptions{Registry: tt.registry}, &out); err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out.String()) != tt.want {
				t.Fatalf("clear printed %q, want %q", out.String(), tt.want)
			}
			entries, err := c.Entries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, e := range entries {
				left = append(left, e.Key.LoginServer)
			}
			if strings.Join(left, " ") != strings.Join(tt.left, " ") {
				t.Fatalf("left %v, want %v", left, tt.left)
			}
		})
	}
	h := credhelper.New(credhelper.Options{Getenv: noEnv, Config: &config.Config{}, Cache: plantedCache(t, now)})
	if err := h.CacheClear(context.Background(), credhelper.CacheClearOptions{Registry: "ghcr.io"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not an Azure Container Registry login server") {
		t.Fatalf("clear ghcr.io: %v", err)
	}
}
