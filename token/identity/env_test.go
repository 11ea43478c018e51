package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func TestEnvSource(t *testing.T) {
	entra := newEntra(t)
	dir := t.TempDir()

	const secret = "s3cr3t-value-that-must-not-leak"
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "app-secret", Secret: secret})
	// Azure Local and some sovereign set-ups cannot mint the ACR audience.
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "app-no-acr", Secret: secret, Fail: &azuresim.EntraFailure{
		Status: 400, Error: "invalid_resource", Code: 500011,
		Text: "The resource principal named https://containerregistry.azure.net was not found in the tenant named " + testTenant + ".",
	}})

	cert, _, pemData := testCert(t, "app-cert")
	pemPath := writeTestFile(t, dir, "cert.pem", pemData, 0o600)
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "app-cert", Certificates: []*x509.Certificate{cert}})
	otherCert, _, otherPEM := testCert(t, "other")
	_ = otherCert
	otherPath := writeTestFile(t, dir, "other.pem", otherPEM, 0o600)

	const p12Password = "p12-pass-word-xyz"
	p12Path, p12AESPath := "", ""
	if _, err := exec.LookPath("openssl"); err == nil {
		// OpenSSL 3's default (AES, PBES2) is what users often have; the
		// loader can't read it, and the error must say how to re-export.
		p12AESPath = filepath.Join(dir, "aes.p12")
		cmd := exec.Command("openssl", "pkcs12", "-export", "-in", pemPath, "-inkey", pemPath, "-out", p12AESPath, "-passout", "pass:"+p12Password)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl pkcs12: %v\n%s", err, out)
		}
		p12Path = filepath.Join(dir, "cert.p12")
		// x/crypto/pkcs12, which azidentity uses, reads only the legacy
		// algorithms, so the file is written with them.
		cmd = exec.Command("openssl", "pkcs12", "-export", "-in", pemPath, "-inkey", pemPath, "-out", p12Path,
			"-passout", "pass:"+p12Password, "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl pkcs12: %v\n%s", err, out)
		}
	}

	tests := []struct {
		name      string
		clientID  string
		env       fakeEnv
		needP12   bool
		wantAuth  string // "secret" or "certificate"; "" means an error
		wantInErr []string
		wantCode  string
	}{
		{name: "secret", clientID: "app-secret", env: fakeEnv{envClientSecret: secret}, wantAuth: "secret"},
		{name: "secret wins over certificate", clientID: "app-secret", env: fakeEnv{envClientSecret: secret, envClientCertPath: pemPath}, wantAuth: "secret"},
		{name: "PEM certificate", clientID: "app-cert", env: fakeEnv{envClientCertPath: pemPath}, wantAuth: "certificate"},
		{name: "PKCS#12 certificate", clientID: "app-cert", needP12: true, env: fakeEnv{envClientCertPath: p12Path, envClientCertPassword: p12Password}, wantAuth: "certificate"},
		{name: "PKCS#12 wrong password", clientID: "app-cert", needP12: true, env: fakeEnv{envClientCertPath: p12Path, envClientCertPassword: "wrong-password-123"},
			wantInErr: []string{"password is wrong", envClientCertPassword}},
		{name: "PKCS#12 with AES", clientID: "app-cert", needP12: true, env: fakeEnv{envClientCertPath: p12AESPath, envClientCertPassword: p12Password},
			wantInErr: []string{"re-export it with legacy algorithms"}},
		{name: "wrong secret", clientID: "app-secret", env: fakeEnv{envClientSecret: "not-the-secret-value"},
			// Entra's trace and correlation ids, for a support ticket.
			wantInErr: []string{"AADSTS7000215", "secret's value, not its ID", "(Entra trace id ", ", correlation id "}, wantCode: "AADSTS7000215"},
		{name: "unregistered certificate", clientID: "app-cert", env: fakeEnv{envClientCertPath: otherPath},
			wantInErr: []string{"AADSTS700027", "upload this certificate"}, wantCode: "AADSTS700027"},
		{name: "unknown application", clientID: "no-such-app", env: fakeEnv{envClientSecret: secret},
			wantInErr: []string{"AADSTS700016", `"no-such-app"`, "check the client ID and tenant (a multi-tenant app must also be consented"}, wantCode: "AADSTS700016"},
		{name: "ACR audience unknown in the tenant", clientID: "app-no-acr", env: fakeEnv{envClientSecret: secret},
			wantInErr: []string{"AADSTS500011", "the cloud's ARM audience may serve instead, as a fallback or alone"}, wantCode: "AADSTS500011"},
		{name: "missing certificate file", clientID: "app-cert", env: fakeEnv{envClientCertPath: filepath.Join(dir, "absent.pem")},
			wantInErr: []string{"absent.pem", "no such file"}},
		{name: "not a certificate", clientID: "app-cert", env: fakeEnv{envClientCertPath: writeTestFile(t, dir, "junk.pem", []byte("hello"), 0o600)},
			wantInErr: []string{"junk.pem", "neither PEM nor PKCS#12"}},
		{name: "PEM with a password", clientID: "app-cert", env: fakeEnv{envClientCertPath: pemPath, envClientCertPassword: "pw-for-pem-file"},
			wantInErr: []string{"must be PKCS#12"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needP12 && p12Path == "" {
				t.Skip("openssl is not installed: the PKCS#12 case cannot generate its file")
			}
			var logs logBuffer
			src, err := New([]string{"env"}, Settings{ClientID: tc.clientID, TenantID: testTenant}, testOptions(tc.env, entra.Client(), &logs))
			if err != nil {
				t.Fatal(err)
			}
			before := len(entra.Requests())
			tok, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
			assertNoSecrets(t, []string{errText(err), logs.String()}, secret, p12Password, "wrong-password-123", "not-the-secret-value", "pw-for-pem-file")
			if tc.wantAuth != "" {
				if err != nil {
					t.Fatalf("EntraToken: %v", err)
				}
				assertIssuedTo(t, entra, tok, testTenant, tc.clientID, testResource)
				reqs := entra.Requests()[before:]
				if len(reqs) != 1 || reqs[0].Auth != tc.wantAuth {
					t.Errorf("Entra saw %+v, want one %s request", reqs, tc.wantAuth)
				}
				return
			}
			if err == nil {
				t.Fatal("EntraToken succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if errors.Is(err, token.ErrSourceUnavailable) {
				t.Errorf("a configured service principal that fails must not be 'unavailable': %v", err)
			}
			for _, w := range tc.wantInErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var se *token.SourceError
			if !errors.As(err, &se) || se.Code != tc.wantCode {
				t.Errorf("error code = %+v, want %q", se, tc.wantCode)
			}
			// An embedder reads Entra's refusal, and whom it refused, from
			// the error's fields; the text gives no front end's advice.
			if tc.wantCode != "" && se != nil && (se.Kind != token.KindRefused || se.Source != Env || se.ClientID != tc.clientID ||
				se.TenantID != testTenant || se.Endpoint != entra.AuthorityHost()) {
				t.Errorf("SourceError = %+v, want kind refused for %q in %q at %s", se, tc.clientID, testTenant, entra.AuthorityHost())
			}
			assertNoFrontEnd(t, err)
			// The provider falls back to the ARM audience on these codes
			// only; the hint must not name one cloud's ARM URL.
			wantAudience := tc.wantCode == "AADSTS500011" || tc.wantCode == "AADSTS50001"
			if token.IsAudienceUnavailable(err) != wantAudience {
				t.Errorf("IsAudienceUnavailable = %v, want %v", !wantAudience, wantAudience)
			}
			if strings.Contains(err.Error(), "management.azure.com") {
				t.Errorf("error names the public cloud's ARM scope: %v", err)
			}
		})
	}
}

// TestEnvSourceSecretEchoedAtTheClip is the review's repro: Entra (or
// something posing as it) echoes the client secret, or the certificate's
// password, in an error description long enough that the secret straddles
// the 600-byte limit. Nothing of it may reach the error.
func TestEnvSourceSecretEchoedAtTheClip(t *testing.T) {
	const secret = "Abc8Q~kLmNoPqRsTuVwXyZ0123456789.abcdefg"
	entra := newEntra(t)
	// What comes before the description's own text in the error's clipped
	// part: "HTTP 401 Unauthorized: invalid_client: AADSTS7000215: ".
	const before = len("HTTP 401 Unauthorized: invalid_client: AADSTS7000215: ")
	const limit = 600
	for i, start := range []int{limit - 30, limit - 20, limit - 10} {
		clientID := fmt.Sprintf("app-echo-%d", i)
		pad := strings.Repeat("p", start-before-len("secret="))
		entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: clientID, Fail: &azuresim.EntraFailure{
			Status: 401, Error: "invalid_client", Code: 7000215, Text: pad + "secret=" + secret + " is not valid for this app.",
		}})
		var logs logBuffer
		src, _ := New([]string{"env"}, Settings{ClientID: clientID, TenantID: testTenant}, testOptions(fakeEnv{envClientSecret: secret}, entra.Client(), &logs))
		_, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), token.DefaultScope)
		assertError(t, err, false, "AADSTS7000215", "secret=")
		leak.AssertNoFragment(t, err.Error(), secret, 8)
		leak.AssertNoFragment(t, logs.String(), secret, 8)
	}
}

func TestEnvSourceAvailability(t *testing.T) {
	tests := []struct {
		name        string
		s           Settings
		env         fakeEnv
		unavailable bool
		want        string
	}{
		{name: "nothing set", s: Settings{ClientID: "c", TenantID: testTenant}, env: fakeEnv{}, unavailable: true, want: "neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH"},
		{name: "secret without client", s: Settings{TenantID: testTenant}, env: fakeEnv{envClientSecret: "abcdefgh"}, want: "AZURE_CLIENT_SECRET is set but AZURE_CLIENT_ID is not"},
		{name: "certificate without tenant", s: Settings{ClientID: "c"}, env: fakeEnv{envClientCertPath: "/x.pem"}, want: "AZURE_CLIENT_CERTIFICATE_PATH is set but AZURE_TENANT_ID is not"},
		{name: "bad tenant", s: Settings{ClientID: "c", TenantID: "a b/c"}, env: fakeEnv{envClientSecret: "abcdefgh"}, want: "tenant ID \"a b/c\" is not valid"},
		{name: "http authority", s: Settings{ClientID: "c", TenantID: testTenant, AuthorityHost: "http://login.example/"}, env: fakeEnv{envClientSecret: "abcdefgh"}, want: "is not https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &noNetTransport{}
			var logs logBuffer
			src, _ := New([]string{"env"}, tc.s, testOptions(tc.env, tr, &logs))
			_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			t.Logf("error: %v", err)
			if err == nil || errors.Is(err, token.ErrSourceUnavailable) != tc.unavailable || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (unavailable %v), want %q with unavailable %v", err, errors.Is(err, token.ErrSourceUnavailable), tc.want, tc.unavailable)
			}
			if tr.count() != 0 {
				t.Errorf("%d requests were sent; a bad configuration must fail before any", tr.count())
			}
			assertNoSecrets(t, []string{errText(err), logs.String()}, "abcdefgh")
		})
	}
}

func TestEnvSourceEntraUnreachable(t *testing.T) {
	tr := &noNetTransport{}
	var logs logBuffer
	src, _ := New([]string{"env"}, Settings{ClientID: "c", TenantID: testTenant}, testOptions(fakeEnv{envClientSecret: "abcdefgh"}, tr, &logs))
	_, err := src[0].EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
	t.Logf("error: %v", err)
	if err == nil || errors.Is(err, token.ErrSourceUnavailable) {
		t.Fatalf("err = %v, want a failure", err)
	}
	assertMentions(t, err, "could not reach Entra ID at https://login.microsoftonline.com/", "no route to host", "proxy settings")
	assertNoSecrets(t, []string{err.Error(), logs.String()}, "abcdefgh")
}

// TestEntraRequestsLogged: each request to Entra is logged at debug with
// its endpoint, status, duration and Entra's request id, for support
// tickets, and with nothing secret.
func TestEntraRequestsLogged(t *testing.T) {
	entra := newEntra(t)
	const secret = "s3cr3t-value-logged-nowhere"
	entra.AddApp(azuresim.App{TenantID: testTenant, ClientID: "app-logged", Secret: secret})
	var logs logBuffer
	src, err := New([]string{"env"}, Settings{ClientID: "app-logged", TenantID: testTenant}, testOptions(fakeEnv{envClientSecret: secret}, entra.Client(), &logs))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src[0].EntraToken(hangGuard(t), fakeCloud(entra), testResource+"/.default")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, `msg="identity request"`) && strings.Contains(l, "/oauth2/v2.0/token") {
			line = l
		}
	}
	for _, want := range []string{"source=env", "status=200", "ms=", "request_id="} {
		if !strings.Contains(line, want) {
			t.Errorf("the token request's log line %q lacks %q (all logs:\n%s)", line, want, logs.String())
		}
	}
	leak.AssertNoFragment(t, logs.String(), secret, 8)
	leak.AssertNoFragment(t, logs.String(), tok.Token, 16)
}
