package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// cliSource is the Azure CLI's login. azidentity runs
// `/bin/sh -c "az account get-access-token -o json --resource … [--tenant …]"`
// in /bin with the process environment, so the az it runs is the one on the
// process's PATH; SourceOptions.LookPath only decides whether to try. Each
// token costs an az run (a second or two): the provider's cache makes that
// rare.
//
// Its identity is "cli" (with the tenant, if one is set): which account az
// is logged in as is not known without running az.
type cliSource struct {
	s SourceSettings
	o SourceOptions
}

func (c *cliSource) Name() string     { return SourceCLI }
func (c *cliSource) Identity() string { return srcIdentity(SourceCLI, "tenant", c.s.TenantID) }

// lookup is deferred to EntraToken, not done by AutoSources: searching PATH
// costs about a tenth of a millisecond per tool, which the cached path
// should not pay.
func (c *cliSource) lookup() string {
	if _, err := c.o.LookPath("az"); err != nil {
		return "the Azure CLI (az) is not on PATH"
	}
	return ""
}

func (c *cliSource) EntraToken(ctx context.Context, _ Cloud, scope string) (EntraToken, error) {
	if unavail := c.lookup(); unavail != "" {
		return EntraToken{}, srcUnavailablef(SourceCLI, "%s: install it and run \"az login\", or choose another source", unavail)
	}
	if c.s.TenantID != "" && !ValidTenantID(c.s.TenantID) {
		return EntraToken{}, srcErrorf(SourceCLI, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", srcPrintable(c.s.TenantID))
	}
	c.o.Logger.Debug("asking the Azure CLI for a token", "source", SourceCLI, "tenant", c.s.TenantID)
	cred, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: c.s.TenantID})
	if err != nil {
		return EntraToken{}, srcErrorf(SourceCLI, "setting up the Azure CLI credential: %s", redact(srcFirstLine(err.Error())))
	}
	tok, err := srcGetToken(ctx, cred, scope)
	if err != nil {
		login := "az login"
		if c.s.TenantID != "" {
			login += " --tenant " + c.s.TenantID
		}
		return EntraToken{}, srcToolFailure(ctx, SourceCLI, "the Azure CLI", login, []string{"az login"}, err)
	}
	srcLogToken(c.o, SourceCLI, tok)
	return tok, nil
}

// azdSource is the Azure Developer CLI's login, run by azidentity as
// `/bin/sh -c "azd auth token -o json --no-prompt --scope … [--tenant-id …]"`,
// like az for the cli source.
type azdSource struct {
	s SourceSettings
	o SourceOptions
}

func (a *azdSource) Name() string     { return SourceAzd }
func (a *azdSource) Identity() string { return srcIdentity(SourceAzd, "tenant", a.s.TenantID) }

func (a *azdSource) lookup() string {
	if _, err := a.o.LookPath("azd"); err != nil {
		return "the Azure Developer CLI (azd) is not on PATH"
	}
	return ""
}

func (a *azdSource) EntraToken(ctx context.Context, _ Cloud, scope string) (EntraToken, error) {
	if unavail := a.lookup(); unavail != "" {
		return EntraToken{}, srcUnavailablef(SourceAzd, "%s: install it and run \"azd auth login\", or choose another source", unavail)
	}
	if a.s.TenantID != "" && !ValidTenantID(a.s.TenantID) {
		return EntraToken{}, srcErrorf(SourceAzd, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", srcPrintable(a.s.TenantID))
	}
	a.o.Logger.Debug("asking the Azure Developer CLI for a token", "source", SourceAzd, "tenant", a.s.TenantID)
	cred, err := azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.s.TenantID})
	if err != nil {
		return EntraToken{}, srcErrorf(SourceAzd, "setting up the Azure Developer CLI credential: %s", redact(srcFirstLine(err.Error())))
	}
	tok, err := srcGetToken(ctx, cred, scope)
	if err != nil {
		login := "azd auth login"
		if a.s.TenantID != "" {
			login += " --tenant-id " + a.s.TenantID
		}
		return EntraToken{}, srcToolFailure(ctx, SourceAzd, "the Azure Developer CLI", login, []string{"azd auth login", "not logged in"}, err)
	}
	srcLogToken(a.o, SourceAzd, tok)
	return tok, nil
}

// srcToolFailure classifies a CLI tool's failure. "Not logged in" is
// unavailable, so that an automatic chain moves on, but its text says to log
// in; so is a tool that vanished between the PATH check and the run. The
// rest (an Entra refusal, a broken tool) is a failure.
func srcToolFailure(ctx context.Context, source, tool, login string, notLoggedIn []string, err error) error {
	if cerr := srcCtxError(ctx, source, "waiting for "+tool); cerr != nil {
		return cerr
	}
	msg := err.Error()
	// azidentity ends its messages with a link to its own troubleshooting
	// guide, which is about its API rather than this tool.
	if i := strings.Index(msg, "To troubleshoot, visit"); i >= 0 {
		msg = msg[:i]
	}
	// The tool's stderr can span lines (warnings, then the error).
	text := srcClip(strings.Join(strings.Fields(msg), " "), 500)
	text = strings.TrimRight(text, " .")
	for _, p := range []string{"AzureCLICredential: ", "AzureDeveloperCLICredential: "} {
		text = strings.TrimPrefix(text, p)
	}
	text = redact(text)
	code := srcFindAADSTS(msg)
	hint := srcAADSTSHint(code, srcHintContext{source: source})

	if strings.Contains(msg, "executable not found on path") {
		return srcUnavailablef(source, "%s could not be run (not found by /bin/sh on PATH)", tool)
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return srcErrorf(source, "%s printed something that is not a token in JSON (%s): check that %q works, then try again", tool, text, login)
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "signal: killed") {
		return srcErrorf(source, "%s did not answer in time: %s: run %q by hand to see what it waits for", tool, text, login)
	}
	for _, p := range notLoggedIn {
		if strings.Contains(msg, p) {
			e := srcUnavailablef(source, "%s is not logged in: run %q (%s)", tool, login, text)
			e.Code = code
			if hint != "" {
				e.msg += ": " + hint
			}
			return e
		}
	}
	e := srcErrorf(source, "%s could not get a token: %s", tool, text)
	e.Code = code
	if hint != "" {
		e.msg += ": " + hint
	} else {
		e.msg += fmt.Sprintf(": check that %q works, then try again", login)
	}
	return e
}
