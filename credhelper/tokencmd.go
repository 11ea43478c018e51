package credhelper

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
)

// TokenOptions configure Helper.Token.
type TokenOptions struct {
	// Registry is the login server, spelled as for get (a bare registry
	// name such as "myreg" is not accepted: get would not accept it).
	Registry string
	// JSON prints TokenJSON instead of the bare refresh token.
	JSON bool
}

// TokenJSON is what 'token --json' prints, the shape of
// 'az acr login --expose-token'.
type TokenJSON struct {
	LoginServer  string `json:"loginServer"`
	Username     string `json:"username"`
	RefreshToken string `json:"refreshToken"`
	ExpiresOn    string `json:"expiresOn"` // RFC 3339; "" when the token carries no exp
}

// Token writes the registry's ACR refresh token to w, for tools outside the
// credential-helper protocol (helm, oras, notation: their --password-stdin,
// with username ZeroGUIDUsername). It takes the path of Get: the same
// settings, cache and advice.
func (h *Helper) Token(ctx context.Context, o TokenOptions, w io.Writer) error {
	cfg, cfgErr := h.config()
	if cfgErr != nil {
		return cfgErr
	}
	reg, err := loginserver.Parse(o.Registry, cfg.CloudSuffixes()...)
	if err != nil {
		// The input is not echoed: it may carry userinfo.
		return fmt.Errorf("%v; give one such as myreg.azurecr.io", err)
	}
	entry, _, err := h.refreshToken(ctx, cfg, reg)
	if err != nil {
		return err
	}
	if !o.JSON {
		_, err = fmt.Fprintln(w, entry.RefreshToken)
		return err
	}
	out := TokenJSON{LoginServer: reg.Host, Username: ZeroGUIDUsername, RefreshToken: entry.RefreshToken}
	if !entry.ExpiresAt.IsZero() {
		out.ExpiresOn = entry.ExpiresAt.UTC().Format(time.RFC3339)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
