package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// toolSource borrows the login of a developer CLI (az for the cli source,
// azd for azd). azidentity runs the tool through /bin/sh in /bin with the
// process environment, so the tool it runs is the one on the process's
// PATH; SourceOptions.LookPath only decides whether to try. Each token
// costs a run of the tool (a second or two): the provider's cache makes
// that rare.
//
// Its identity is the source's name (with the tenant, if one is set): which
// account the tool is logged in as is not known without running it.
type toolSource struct {
	t srcTool
	s SourceSettings
	o SourceOptions
}

// srcTool is what tells the cli and azd sources apart.
type srcTool struct {
	source      string   // SourceCLI or SourceAzd
	exe         string   // the command looked up on PATH
	desc        string   // the tool in messages
	login       string   // the command that logs in
	tenantFlag  string   // login's option for a tenant
	notLoggedIn []string // texts of the tool's "not logged in" errors
	credential  func(tenantID string) (azcore.TokenCredential, error)
}

// srcCLITool is run as
// `/bin/sh -c "az account get-access-token -o json --resource … [--tenant …]"`.
// Read-only, like srcAzdTool.
var srcCLITool = srcTool{
	source: SourceCLI, exe: "az", desc: "the Azure CLI",
	login: "az login", tenantFlag: "--tenant", notLoggedIn: []string{"az login"},
	credential: func(tenantID string) (azcore.TokenCredential, error) {
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenantID})
	},
}

// srcAzdTool is run as
// `/bin/sh -c "azd auth token -o json --no-prompt --scope … [--tenant-id …]"`.
var srcAzdTool = srcTool{
	source: SourceAzd, exe: "azd", desc: "the Azure Developer CLI",
	login: "azd auth login", tenantFlag: "--tenant-id", notLoggedIn: []string{"azd auth login", "not logged in"},
	credential: func(tenantID string) (azcore.TokenCredential, error) {
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: tenantID})
	},
}

func (c *toolSource) Name() string     { return c.t.source }
func (c *toolSource) Identity() string { return srcIdentity(c.t.source, "tenant", c.s.TenantID) }

// lookup is deferred to EntraToken, not done by AutoSources: searching PATH
// costs about a tenth of a millisecond per tool, which the cached path
// should not pay.
func (c *toolSource) lookup() string {
	if _, err := c.o.LookPath(c.t.exe); err != nil {
		return c.t.desc + " (" + c.t.exe + ") is not on PATH"
	}
	return ""
}

func (c *toolSource) EntraToken(ctx context.Context, _ Cloud, scope string) (EntraToken, error) {
	if unavail := c.lookup(); unavail != "" {
		return EntraToken{}, srcUnavailablef(c.t.source, "%s: install it and run %q, or choose another source", unavail, c.t.login)
	}
	if c.s.TenantID != "" && !ValidTenantID(c.s.TenantID) {
		return EntraToken{}, srcErrorf(c.t.source, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", safetext.Printable(c.s.TenantID))
	}
	c.o.Logger.Debug("asking "+c.t.desc+" for a token", "source", c.t.source, "tenant", c.s.TenantID)
	cred, err := c.t.credential(c.s.TenantID)
	if err != nil {
		return EntraToken{}, srcErrorf(c.t.source, "setting up %s credential: %s", c.t.desc, safetext.Redact(safetext.FirstLine(err.Error())))
	}
	tok, err := srcGetToken(ctx, cred, scope)
	if err != nil {
		login := c.t.login
		if c.s.TenantID != "" {
			login += " " + c.t.tenantFlag + " " + c.s.TenantID
		}
		return EntraToken{}, srcToolFailure(ctx, c.t.source, c.t.desc, login, c.t.notLoggedIn, err)
	}
	srcLogToken(c.o, c.t.source, tok)
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
	text := safetext.RedactClip(strings.Join(strings.Fields(msg), " "), 500)
	text = strings.TrimRight(text, " .")
	for _, p := range []string{"AzureCLICredential: ", "AzureDeveloperCLICredential: "} {
		text = strings.TrimPrefix(text, p)
	}
	code := safetext.FindAADSTS(msg)
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
