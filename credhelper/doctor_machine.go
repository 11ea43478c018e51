package credhelper

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// The names of the machine's checks.
const (
	CheckIMDS   = "imds"
	CheckProxy  = "proxy"
	CheckConfig = "config"
	CheckCache  = "cache"
)

// placeholderRegistry stands for "a registry of the public cloud without
// an entry of its own" when doctor runs without one: the sources are
// listed for the settings such a registry gets.
const placeholderRegistry = "registry.azurecr.io"

// machine runs the checks that need no registry, and returns the config
// (nil when it cannot be used).
func (d *doctorRun) machine(ctx context.Context) *config.Config {
	var cfg *config.Config
	d.timed(&d.r.Checks, CheckConfig, func() (string, error) {
		var err error
		cfg, err = d.h.config()
		if err != nil {
			cfg = nil
			return "", err
		}
		switch {
		case cfg.Path() == "":
			return "no config file (no path): built-in defaults", nil
		case !cfg.Loaded():
			return cfg.Path() + " does not exist: built-in defaults", nil
		}
		return cfg.Path() + ": valid and trusted", nil
	})
	d.timed(&d.r.Checks, CheckIMDS, func() (string, error) {
		if err := identity.ProbeIMDS(ctx, identity.Options{Getenv: d.h.o.Getenv, Transport: d.h.o.Transport}); err != nil {
			// An unreachable IMDS is ordinary off Azure: it fails no check.
			return "not reachable: " + err.Error(), nil
		}
		return "Azure IMDS at 169.254.169.254 answered its probe", nil
	})
	d.timed(&d.r.Checks, CheckProxy, func() (string, error) { return d.proxyDetail(), nil })
	d.timed(&d.r.Checks, CheckCache, func() (string, error) { return d.cacheDetail(ctx) })
	if d.o.Registry == "" {
		d.placeholderSources(ctx, cfg)
	}
	return cfg
}

// placeholderSources lists the sources for a registry without an entry
// of its own, when there is no registry (or it is not one).
func (d *doctorRun) placeholderSources(ctx context.Context, cfg *config.Config) {
	if cfg == nil {
		return
	}
	reg, err := loginserver.Parse(placeholderRegistry, cfg.CloudSuffixes()...)
	if err != nil {
		return
	}
	s, err := cfg.ResolveRegistry(reg, d.h.o.Getenv)
	if err != nil {
		d.timed(&d.r.Checks, CheckConfig, func() (string, error) { return "", err })
		return
	}
	d.r.Sources, d.r.Chosen = d.sources(ctx, reg, s)
}

// sources lists each source get would consider for reg and whether it is
// usable here, with the first usable one.
func (d *doctorRun) sources(ctx context.Context, reg loginserver.Registry, s config.Settings) ([]DoctorSource, *string) {
	out := []DoctorSource{}
	if d.h.o.Credential != nil {
		name := "credential"
		return append(out, DoctorSource{Name: name, Available: true, Reason: "the embedding program's credential"}), &name
	}
	names := s.Sources
	why := "the automatic order"
	if names == nil {
		names = identity.Names()
	} else {
		why = "chosen by " + s.From.Sources
	}
	ss, so := d.h.identitySettings(reg, s)
	so.LookPath = d.o.LookPath
	var chosen *string
	for _, n := range names {
		start := time.Now()
		err := identity.Check(ctx, n, ss, so)
		took := ms(time.Since(start))
		src := DoctorSource{Name: n, Available: err == nil}
		switch {
		case err != nil:
			var se *token.SourceError
			if errors.As(err, &se) {
				src.Reason = se.Reason
			} else {
				src.Reason = err.Error()
			}
		case n == identity.Managed:
			src.Reason = fmt.Sprintf("managed identity endpoint answered (%.1f ms); %s", took, why)
		default:
			src.Reason = why
		}
		if err == nil && chosen == nil {
			name := n
			chosen = &name
		}
		out = append(out, src)
	}
	return out, chosen
}

// proxyDetail reports the proxy settings in effect, without the
// passwords they may hold.
func (d *doctorRun) proxyDetail() string {
	var parts []string
	for _, names := range [][2]string{{"HTTPS_PROXY", "https_proxy"}, {"HTTP_PROXY", "http_proxy"}, {"NO_PROXY", "no_proxy"}} {
		for _, n := range names {
			if v := d.h.o.Getenv(n); v != "" {
				if n[0] != 'N' && n[0] != 'n' {
					v = proxyURLText(v)
				}
				parts = append(parts, n+"="+safetext.Printable(safetext.Clip(v, 200)))
				break
			}
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no proxy variables set: direct connections")
	}
	return strings.Join(parts, "; ") + "; IMDS and other managed identity endpoints are always reached directly, never through a proxy"
}

// proxyURLText is a proxy URL without its password.
func proxyURLText(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		if i := strings.LastIndex(v, "@"); i >= 0 {
			return "***@" + v[i+1:]
		}
		return v
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.Redacted()
}

// cacheDetail reports the cache directory and its entries, never a token.
func (d *doctorRun) cacheDetail(ctx context.Context) (string, error) {
	if d.h.o.Getenv("DOCKER_CREDENTIAL_ACR_NO_CACHE") == "1" {
		return "off (DOCKER_CREDENTIAL_ACR_NO_CACHE=1)", nil
	}
	dir, err := config.CacheDir(d.h.o.Getenv)
	if err != nil {
		return "none: " + err.Error(), nil
	}
	var b strings.Builder
	b.WriteString(dir)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		b.WriteString(" (not created yet)")
	case err != nil:
		fmt.Fprintf(&b, " (cannot be examined: %v)", err)
	default:
		fmt.Fprintf(&b, " (mode %04o)", fi.Mode().Perm())
	}
	entries, err := d.h.o.Cache.List(ctx)
	if err != nil {
		return b.String() + ": entries cannot be listed: " + err.Error(), nil
	}
	if len(entries) == 0 {
		b.WriteString(": no unexpired entries")
		return b.String(), nil
	}
	fmt.Fprintf(&b, ": %d entries:", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, " %s (from %s, expires %s);", e.LoginServer, e.Source, stamp(e.ExpiresAt))
	}
	return strings.TrimSuffix(b.String(), ";"), nil
}

// describeSettings is the settings step's detail: what applies, and from
// which layer.
func describeSettings(s config.Settings) string {
	sources := "automatic order"
	if s.Sources != nil {
		sources = strings.Join(s.Sources, ",")
	}
	id := "none"
	switch {
	case s.ClientID != "":
		id = "client " + s.ClientID
	case s.ResourceID != "":
		id = "resource " + s.ResourceID
	case s.ObjectID != "":
		id = "object " + s.ObjectID
	}
	tenant := s.TenantID
	if tenant == "" {
		tenant = "the token's"
	}
	aud := string(s.Audience)
	if s.Scope != "" {
		aud = "scope " + s.Scope
	}
	match := ""
	if s.Match != "" {
		match = fmt.Sprintf("; config entry %q", s.Match)
	}
	return fmt.Sprintf("sources %s (from %s); identity %s (from %s); tenant %s (from %s); audience %s, scopes %s (from %s)%s",
		sources, s.From.Sources, id, s.From.Identity, tenant, s.From.Tenant, aud, strings.Join(s.Scopes, " "), s.From.Token, match)
}

func printable(s string) string { return safetext.Printable(safetext.Clip(s, 200)) }
