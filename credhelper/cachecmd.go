package credhelper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// CacheInspector is what 'cache list' and 'cache clear' need of a cache
// beyond token.Cache; token/filecache.Cache has it.
type CacheInspector interface {
	Entries(ctx context.Context) ([]token.CachedEntry, error)
	Clear(ctx context.Context, loginServer string) (int, error)
}

// CacheListOptions configure Helper.CacheList.
type CacheListOptions struct {
	// JSON prints one array of CacheListItem.
	JSON bool
	// Now is the clock that marks entries expired; nil means time.Now.
	Now func() time.Time
}

// CacheListItem is one entry of 'cache list --json'. It never holds the
// token.
type CacheListItem struct {
	Registry  string `json:"registry"`
	Identity  string `json:"identity"`
	Tenant    string `json:"tenant"`   // "" when the exchange used the Entra token's tenant
	Audience  string `json:"audience"` // the Entra scope(s) the token was obtained for
	Source    string `json:"source"`
	IssuedAt  string `json:"issuedAt,omitempty"` // RFC 3339
	ExpiresAt string `json:"expiresAt"`          // RFC 3339
	Expired   bool   `json:"expired"`
}

var errCacheOff = errors.New("the token cache is off (DOCKER_CREDENTIAL_ACR_NO_CACHE=1, or no cache directory: set DOCKER_CREDENTIAL_ACR_CACHE_DIR or HOME)")

func (h *Helper) inspector() (CacheInspector, error) {
	ci, ok := h.o.Cache.(CacheInspector)
	if !ok {
		return nil, errCacheOff
	}
	return ci, nil
}

// CacheList writes the cached entries to w: registry, identity, tenant,
// audience and expiry, never a token.
func (h *Helper) CacheList(ctx context.Context, o CacheListOptions, w io.Writer) error {
	ci, err := h.inspector()
	if err != nil {
		return err
	}
	entries, err := ci.Entries(ctx)
	if err != nil {
		return fmt.Errorf("listing the token cache: %w; check the permissions of the cache directory (%s)", err, config.EnvCacheDir)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	items := make([]CacheListItem, 0, len(entries))
	for _, e := range entries {
		it := CacheListItem{Registry: e.Key.LoginServer, Identity: e.Key.Identity, Tenant: e.Key.Tenant,
			Audience: e.Key.Scope, Source: e.Source, ExpiresAt: e.ExpiresAt.UTC().Format(time.RFC3339),
			Expired: !e.ExpiresAt.After(now())}
		if !e.IssuedAt.IsZero() {
			it.IssuedAt = e.IssuedAt.UTC().Format(time.RFC3339)
		}
		items = append(items, it)
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	if len(items) == 0 {
		_, err := fmt.Fprintln(w, "no cached tokens")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGISTRY\tIDENTITY\tTENANT\tAUDIENCE\tEXPIRES")
	for _, it := range items {
		tenant, exp := it.Tenant, it.ExpiresAt
		if tenant == "" {
			tenant = "(the token's)"
		}
		if it.Expired {
			exp += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Registry, it.Identity, tenant, it.Audience, exp)
	}
	return tw.Flush()
}

// CacheClearOptions configure Helper.CacheClear.
type CacheClearOptions struct {
	// Registry, if not empty, limits the clearing to that login server;
	// it is validated as get validates it.
	Registry string
}

// CacheClear removes cached entries (each under its lock) and says how
// many on w.
func (h *Helper) CacheClear(ctx context.Context, o CacheClearOptions, w io.Writer) error {
	host := ""
	if o.Registry != "" {
		var extra []loginserver.CloudSuffix
		if cfg, err := h.config(); err == nil {
			extra = cfg.CloudSuffixes()
		}
		reg, err := loginserver.Parse(o.Registry, extra...)
		if err != nil {
			return fmt.Errorf("%v; give one such as myreg.azurecr.io", err)
		}
		host = reg.Host
	}
	ci, err := h.inspector()
	if err != nil {
		return err
	}
	n, err := ci.Clear(ctx, host)
	if err != nil {
		return err
	}
	what := "cached tokens"
	if n == 1 {
		what = "cached token"
	}
	if host != "" {
		what += " of " + host
	}
	_, err = fmt.Fprintf(w, "removed %d %s\n", n, what)
	return err
}
