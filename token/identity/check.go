package identity

import (
	"context"
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// Check tells, without asking for a token, whether the named source could
// be used here: its environment variables (as Auto checks them), for
// managed whether IMDS answers its probe (when IMDS is the endpoint), for
// cli and azd whether the tool is on PATH. It returns nil when the source
// looks usable, else a *token.SourceError saying why not. It is for a
// front end that explains the machine (the CLI's doctor); the provider
// needs none of it.
func Check(ctx context.Context, name string, s Settings, o Options) error {
	o = o.normalized()
	src := newSource(name, s, o)
	if src == nil {
		return fmt.Errorf("unknown identity source %q", name)
	}
	switch v := src.(type) {
	case configuredSource:
		if e := v.check(); e != nil {
			return e
		}
	case *toolSource:
		if why := v.lookup(); why != "" {
			e := unavailablef(v.t.source, "%s", why)
			e.Login = v.t.login
			return e
		}
	case *managedSource:
		if _, _, err := v.id(); err != nil {
			return err
		}
		if kind, err := managedidentity.GetSource(); err == nil && kind != managedidentity.DefaultToIMDS {
			return nil
		}
		return ProbeIMDS(ctx, o)
	}
	return nil
}

// ProbeIMDS asks IMDS at 169.254.169.254 the managed source's probe (a
// request without the Metadata header, which Azure's IMDS refuses with its
// own JSON error), with a one-second timeout and never through a proxy.
// It returns nil when Azure's IMDS answered, else a *token.SourceError of
// kind KindUnavailable that says what was seen.
func ProbeIMDS(ctx context.Context, o Options) error {
	o = o.normalized()
	transport, release := imdsClient(o)
	defer release()
	return probeIMDS(ctx, o, transport, imdsProbeTimeout)
}
