package identity

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// The CLI tests pin PATH (azidentity runs the tools through /bin/sh with
// the process environment), so they don't run in parallel.

// fakeTool writes an executable script named name into a fresh directory
// put first on PATH, and returns the file its arguments are logged to.
func fakeTool(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	body := "#!/bin/sh\necho \"$@\" >> '" + argsFile + "'\n" + script
	writeTestFile(t, dir, name, []byte(body), 0o755)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argsFile
}

func readArgs(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the fake tool was not run: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// toolCase is a row of the cli and azd tests: the fake tool's script,
// and either the arguments it must be run with or the error expected.
type toolCase struct {
	name        string
	script      string
	tenant      string
	wantArgs    string
	unavailable bool
	fail        []string
}

func TestCLISource(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("azidentity runs the Azure CLI through /bin/sh, which this system lacks")
	}
	const fakeToken = "eyJhbGciOiJub25lIn0.eyJhcHBpZCI6ImNsaSJ9.fake-cli-token"
	exp := time.Now().Add(time.Hour).Unix()
	ok := `printf '{"accessToken":"` + fakeToken + `","expiresOn":"2099-01-01 00:00:00.000000","expires_on":` + strconv.FormatInt(exp, 10) + `,"subscription":"s","tenant":"t","tokenType":"Bearer"}\n'`

	tests := []toolCase{
		{name: "token", script: ok, wantArgs: "account get-access-token -o json --resource https://containerregistry.azure.net"},
		{name: "token for a tenant", script: ok, tenant: testTenant,
			wantArgs: "account get-access-token -o json --resource https://containerregistry.azure.net --tenant " + testTenant},
		{name: "not logged in", script: "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1", unavailable: true,
			fail: []string{"the Azure CLI is not logged in", `run "az login"`}},
		{name: "not logged in, with tenant", script: "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1", tenant: testTenant, unavailable: true,
			fail: []string{`run "az login --tenant ` + testTenant + `"`}},
		{name: "expired login", script: "echo 'WARNING: something' >&2; echo 'ERROR: AADSTS700082: The refresh token has expired due to inactivity.' >&2; echo 'To re-authenticate, please run:' >&2; echo 'az login --scope https://containerregistry.azure.net/.default' >&2; exit 1",
			unavailable: true, fail: []string{"AADSTS700082", `run "az login" again`}},
		{name: "audience unknown", script: "echo 'ERROR: AADSTS500011: The resource principal named https://containerregistry.azure.net was not found in the tenant.' >&2; exit 1",
			fail: []string{"AADSTS500011", "the cloud's ARM audience may serve instead"}},
		{name: "broken output", script: "echo 'not json'", fail: []string{"printed something that is not a token in JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argsFile := fakeTool(t, "az", tc.script)
			var logs logBuffer
			o := testOptions(fakeEnv{}, nil, &logs)
			o.LookPath = exec.LookPath
			src, _ := New([]string{"cli"}, Settings{TenantID: tc.tenant}, o)
			tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			assertNoSecrets(t, []string{errText(err), logs.String()}, fakeToken)
			if tc.fail == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Token != fakeToken || tok.ExpiresOn.Unix() != exp {
					t.Errorf("got token %q expiring %v", tok.Token, tok.ExpiresOn)
				}
				if got := readArgs(t, argsFile); got != tc.wantArgs {
					t.Errorf("az was run with %q, want %q", got, tc.wantArgs)
				}
				return
			}
			assertError(t, err, tc.unavailable, tc.fail...)
		})
	}

	t.Run("az not on PATH", func(t *testing.T) {
		src, _ := New([]string{"cli"}, Settings{}, testOptions(fakeEnv{}, nil, &logBuffer{}))
		_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
		if !errors.Is(err, token.ErrSourceUnavailable) || !strings.Contains(err.Error(), "not on PATH") {
			t.Errorf("err = %v, want unavailable: not on PATH", err)
		}
	})
}

func TestAzdSource(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("azidentity runs azd through /bin/sh, which this system lacks")
	}
	const fakeToken = "fake-azd-token-value"
	tests := []toolCase{
		{name: "token", script: `printf '{"token":"` + fakeToken + `","expiresOn":"2099-01-02T03:04:05Z"}\n'`,
			wantArgs: "auth token -o json --no-prompt --scope https://containerregistry.azure.net/.default"},
		{name: "token for a tenant", tenant: testTenant, script: `printf '{"token":"` + fakeToken + `","expiresOn":"2099-01-02T03:04:05Z"}\n'`,
			wantArgs: "auth token -o json --no-prompt --scope https://containerregistry.azure.net/.default --tenant-id " + testTenant},
		{name: "not logged in", script: `echo '{"error":"not logged in, run ` + "`azd auth login`" + ` to login"}' >&2; exit 1`, unavailable: true,
			fail: []string{"the Azure Developer CLI is not logged in", `run "azd auth login"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argsFile := fakeTool(t, "azd", tc.script)
			o := testOptions(fakeEnv{}, nil, &logBuffer{})
			o.LookPath = exec.LookPath
			src, _ := New([]string{"azd"}, Settings{TenantID: tc.tenant}, o)
			tok, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			if tc.fail == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Token != fakeToken || !tok.ExpiresOn.Equal(time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)) {
					t.Errorf("got %q expiring %v", tok.Token, tok.ExpiresOn)
				}
				if got := readArgs(t, argsFile); got != tc.wantArgs {
					t.Errorf("azd was run with %q, want %q", got, tc.wantArgs)
				}
				return
			}
			t.Logf("error: %v", err)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) != tc.unavailable {
				t.Fatalf("err = %v, want unavailable %v", err, tc.unavailable)
			}
			assertMentions(t, err, tc.fail...)
		})
	}
}
