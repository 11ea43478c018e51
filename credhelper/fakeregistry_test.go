package credhelper_test

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
)

// fakeACR is test/azuresim's ACR front (the one the end-to-end tests use)
// on an httptest TLS listener that every host name reaches. Its registries
// are the login servers these tests name: registries, or by default
// myreg, kubereg and other.azurecr.io.
type fakeACR struct {
	sim    *azuresim.Sim
	server *httptest.Server
	roots  *x509.CertPool
}

func newFakeACR(registries ...string) *fakeACR {
	if len(registries) == 0 {
		registries = []string{"myreg.azurecr.io", "kubereg.azurecr.io", "other.azurecr.io"}
	}
	sim, err := azuresim.New(azuresim.Options{Registries: registries})
	if err != nil {
		panic(err)
	}
	ca, err := azuresim.NewCA()
	if err != nil {
		panic(err)
	}
	cert, err := ca.ServerCert(sim.Hosts()...)
	if err != nil {
		panic(err)
	}
	f := &fakeACR{sim: sim, server: httptest.NewUnstartedServer(sim.Handler()), roots: x509.NewCertPool()}
	f.roots.AddCert(ca.Cert)
	f.server.TLS = sim.TLSConfig(cert)
	f.server.StartTLS()
	return f
}

// client dials the fake for every host and trusts the simulator's CA; the
// certificate names the registries, so TLS is checked as for real.
func (f *fakeACR) client() *http.Client {
	addr := f.server.Listener.Addr().String()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.RootCAs = f.roots
	return &http.Client{Transport: tr}
}

// exchanges counts the calls of /oauth2/exchange.
func (f *fakeACR) exchanges() int { return len(f.sim.Stats().Exchanges) }

// lastExchange is the simulator's record of the last exchange.
func (f *fakeACR) lastExchange() azuresim.Exchange {
	ex := f.sim.Stats().Exchanges
	if len(ex) == 0 {
		return azuresim.Exchange{}
	}
	return ex[len(ex)-1]
}

// credential hands out the simulator's Azure CLI user's Entra token for
// resource (azuresim.ACRAudience or ARMAudience).
func (f *fakeACR) credential(resource string) *staticCredential {
	tok, err := f.sim.CLIToken(resource, "")
	if err != nil {
		panic(err)
	}
	return &staticCredential{token: tok.AccessToken}
}

// staticCredential is an azcore.TokenCredential that returns one token
// and counts its calls.
type staticCredential struct {
	token string
	calls atomic.Int32
}

func (c *staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
