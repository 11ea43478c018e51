package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// toolSource borrows the login of a developer CLI (az for the cli source,
// azd for azd). azidentity runs the tool through /bin/sh in /bin with the
// process environment, so the tool it runs is the one on the process's
// PATH; Options.LookPath only decides whether to try. Each token
// costs a run of the tool (a second or two): the provider's cache makes
// that rare.
//
// Its identity is the source's name (with the tenant, if one is set): which
// account the tool is logged in as is not known without running it.
type toolSource struct {
	t devTool
	s Settings
	o Options
}

// devTool is what tells the cli and azd sources apart.
type devTool struct {
	source      string   // CLI or Azd
	exe         string   // the command looked up on PATH
	desc        string   // the tool in messages
	login       string   // the command that logs in
	tenantFlag  string   // login's option for a tenant
	notLoggedIn []string // texts of the tool's "not logged in" errors
	credential  func(tenantID string) (azcore.TokenCredential, error)
}

// azTool is run as
// `/bin/sh -c "az account get-access-token -o json --resource … [--tenant …]"`.
// Read-only, like azdTool.
var azTool = devTool{
	source: CLI, exe: "az", desc: "the Azure CLI",
	login: "az login", tenantFlag: "--tenant", notLoggedIn: []string{"az login"},
	credential: func(tenantID string) (azcore.TokenCredential, error) {
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenantID})
	},
}

// azdTool is run as
// `/bin/sh -c "azd auth token -o json --no-prompt --scope … [--tenant-id …]"`.
var azdTool = devTool{
	source: Azd, exe: "azd", desc: "the Azure Developer CLI",
	login: "azd auth login", tenantFlag: "--tenant-id", notLoggedIn: []string{"azd auth login", "not logged in"},
	credential: func(tenantID string) (azcore.TokenCredential, error) {
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: tenantID})
	},
}

func (c *toolSource) Name() string     { return c.t.source }
func (c *toolSource) Identity() string { return identityOf(c.t.source, "tenant", c.s.TenantID) }

// lookup is deferred to EntraToken, not done by Auto: searching PATH
// costs about a tenth of a millisecond per tool, which the cached path
// should not pay.
func (c *toolSource) lookup() string {
	if _, err := c.o.LookPath(c.t.exe); err != nil {
		return c.t.desc + " (" + c.t.exe + ") is not on PATH"
	}
	return ""
}

func (c *toolSource) EntraToken(ctx context.Context, _ token.Cloud, scope string) (token.EntraToken, error) {
	if unavail := c.lookup(); unavail != "" {
		e := unavailablef(c.t.source, "%s: install it and run %q, or choose another source", unavail, c.t.login)
		e.Login = c.t.login
		return token.EntraToken{}, e
	}
	if c.s.TenantID != "" && !token.ValidTenantID(c.s.TenantID) {
		return token.EntraToken{}, failf(token.KindInvalid, c.t.source, "tenant ID %q is not valid: set AZURE_TENANT_ID to the tenant's ID (a GUID) or its domain name", safetext.Printable(c.s.TenantID))
	}
	c.o.Logger.Debug("asking "+c.t.desc+" for a token", "source", c.t.source, "tenant", c.s.TenantID)
	cred, err := c.t.credential(c.s.TenantID)
	if err != nil {
		return token.EntraToken{}, failf(token.KindOther, c.t.source, "setting up %s credential: %s", c.t.desc, safetext.Redact(safetext.FirstLine(err.Error())))
	}
	tok, err := getToken(ctx, cred, scope)
	if err != nil {
		login := c.t.login
		if c.s.TenantID != "" {
			login += " " + c.t.tenantFlag + " " + c.s.TenantID
		}
		e := toolFailure(ctx, c.t.source, c.t.desc, login, c.t.notLoggedIn, err)
		e.Login, e.TenantID = login, c.s.TenantID
		return token.EntraToken{}, e
	}
	logToken(c.o, c.t.source, tok)
	return tok, nil
}

// toolFailure classifies a CLI tool's failure. "Not logged in" is
// unavailable, so that an automatic chain moves on, but its text says to log
// in; so is a tool that vanished between the PATH check and the run. The
// rest (an Entra refusal, a broken tool) is a failure.
func toolFailure(ctx context.Context, source, tool, login string, notLoggedIn []string, err error) *token.SourceError {
	if cerr := ctxError(ctx, source, "waiting for "+tool); cerr != nil {
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
	hint := aadstsHint(code, hintContext{source: source})

	if strings.Contains(msg, "executable not found on path") {
		return unavailablef(source, "%s could not be run (not found by /bin/sh on PATH)", tool)
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return failf(token.KindOther, source, "%s printed something that is not a token in JSON (%s): check that %q works, then try again", tool, text, login)
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "signal: killed") {
		return failf(token.KindOther, source, "%s did not answer in time: %s: run %q by hand to see what it waits for", tool, text, login)
	}
	for _, p := range notLoggedIn {
		if strings.Contains(msg, p) {
			e := unavailablef(source, "%s is not logged in: run %q (%s)", tool, login, text)
			e.Code = code
			if hint != "" {
				e.Reason += ": " + hint
			}
			return e
		}
	}
	kind := token.KindOther
	if code != "" {
		kind = token.KindRefused
	}
	e := failf(kind, source, "%s could not get a token: %s", tool, text)
	e.Code = code
	if hint != "" {
		e.Reason += ": " + hint
	} else {
		e.Reason += fmt.Sprintf(": check that %q works, then try again", login)
	}
	return e
}
