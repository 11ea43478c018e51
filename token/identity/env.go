package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Environment variables of the env source, named as azidentity's
// EnvironmentCredential names them.
const (
	envClientSecret        = "AZURE_CLIENT_SECRET"
	envClientCertPath      = "AZURE_CLIENT_CERTIFICATE_PATH"
	envClientCertPassword  = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	envClientSendCertChain = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"
)

// maxFileSize caps the certificate and federated-token files: both are a
// few kilobytes, and a wrong path (a device, a log) must not fill memory.
const maxFileSize = 1 << 20

// envSource is a service principal with a secret or a certificate. When both
// are set the secret wins, as in azidentity's EnvironmentCredential.
type envSource struct{ appSource }

func (e *envSource) check() *token.SourceError {
	what := envClientSecret
	if e.o.Getenv(envClientSecret) == "" {
		if e.o.Getenv(envClientCertPath) == "" {
			return unavailablef(Env, "neither %s nor %s is set", envClientSecret, envClientCertPath)
		}
		what = envClientCertPath
	}
	if n := firstMissing("AZURE_CLIENT_ID", e.s.ClientID, "AZURE_TENANT_ID", e.s.TenantID); n != "" {
		return incomplete(Env, missingText(what, n, "a service principal is named by its client ID and tenant"))
	}
	return nil
}

func (e *envSource) EntraToken(ctx context.Context, c token.Cloud, scope string) (token.EntraToken, error) {
	h, err := checkedContext(e, e.s, c)
	if err != nil {
		return token.EntraToken{}, err
	}
	secret := e.o.Getenv(envClientSecret)
	password := e.o.Getenv(envClientCertPassword)
	co, release := entraClientOptions(ctx, h.authority, e.o, h.net)
	defer release()

	// cred is the service principal's credential; hidden is what its
	// errors must not show (the secret, or the certificate's password).
	var (
		cred   azcore.TokenCredential
		hidden string
	)
	if secret != "" {
		e.o.Logger.Debug("authenticating a service principal with a client secret", "source", Env, "client_id", e.s.ClientID, "tenant", e.s.TenantID)
		sc, err := azidentity.NewClientSecretCredential(e.s.TenantID, e.s.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions:            co,
			DisableInstanceDiscovery: true,
		})
		if err != nil {
			return token.EntraToken{}, failf(token.KindInvalid, Env, "setting up the client secret credential: %s", safetext.Redact(err.Error(), secret))
		}
		cred, hidden = sc, secret
	} else {
		path := e.o.Getenv(envClientCertPath)
		e.o.Logger.Debug("authenticating a service principal with a certificate", "source", Env, "client_id", e.s.ClientID, "tenant", e.s.TenantID, "path", path)
		data, err := readSmallFile(path)
		if err != nil {
			return token.EntraToken{}, failf(token.KindInvalid, Env, "reading the certificate in %s: %v: point it at a PEM or PKCS#12 file holding the certificate and its private key", envClientCertPath, err)
		}
		certs, key, err := azidentity.ParseCertificates(data, []byte(password))
		if err != nil {
			return token.EntraToken{}, failf(token.KindInvalid, Env, "reading the certificate %q: %s", safetext.Printable(path), certProblem(err, password))
		}
		sendChain := strings.EqualFold(e.o.Getenv(envClientSendCertChain), "true") || e.o.Getenv(envClientSendCertChain) == "1"
		cc, err := azidentity.NewClientCertificateCredential(e.s.TenantID, e.s.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions:            co,
			DisableInstanceDiscovery: true,
			SendCertificateChain:     sendChain,
		})
		if err != nil {
			return token.EntraToken{}, failf(token.KindInvalid, Env, "setting up the client certificate credential: %s", safetext.Redact(err.Error(), password))
		}
		cred, hidden = cc, password
	}
	tok, err := getToken(ctx, cred, scope)
	if err != nil {
		return token.EntraToken{}, entraFailure(ctx, h, err, hidden)
	}
	logToken(e.o, Env, tok)
	return tok, nil
}

// certProblem explains the certificate loader's limits, which its errors
// don't: it reads PEM only without a password, and PKCS#12 only with the
// legacy algorithms (3DES/RC2 with SHA-1), not OpenSSL 3's AES default.
func certProblem(err error, password string) string {
	const pemForm = "a PEM file holds a CERTIFICATE block and an unencrypted PRIVATE KEY or RSA PRIVATE KEY block"
	msg := err.Error()
	switch {
	case strings.Contains(msg, "password incorrect"):
		return "the password is wrong: check " + envClientCertPassword
	case strings.Contains(msg, "is not supported") || strings.Contains(msg, "unknown digest algorithm"):
		return "this PKCS#12 file uses an algorithm the loader cannot read: re-export it with legacy algorithms (openssl pkcs12 -export -legacy, or -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1), or convert it to PEM"
	case strings.Contains(msg, "error reading P12 data") && password != "":
		return "it is not a PKCS#12 file: with " + envClientCertPassword + " set the file must be PKCS#12 (encrypted PEM keys are not supported); for a PEM file, unset the password (" + pemForm + ")"
	case strings.Contains(msg, "error reading P12 data"):
		return "it is neither PEM nor PKCS#12: " + pemForm + "; a PKCS#12 file with a password needs " + envClientCertPassword
	}
	return safetext.Redact(msg, password) + ": " + pemForm
}

// readSmallFile reads a small file. Its errors name the path but never the
// content.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%q: %v", safetext.Printable(path), pe.Err)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%q: %v", safetext.Printable(path), err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%q is larger than %d bytes: is it the right file?", safetext.Printable(path), maxFileSize)
	}
	return data, nil
}
