package credhelper_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

// fakeACR answers the challenge and the exchange like ACR, for any login
// server name: the client reaches it whatever host it dials.
type fakeACR struct {
	server    *httptest.Server
	exchanges atomic.Int32
	lifetime  time.Duration
	lastForm  atomic.Value // url.Values of the last exchange
	// refusal, when set before the first request, is the message of a
	// 401 UNAUTHORIZED answer to every exchange.
	refusal string
}

func newFakeACR() *fakeACR {
	f := &fakeACR{lifetime: 3 * time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, r.Host, r.Host))
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("POST /oauth2/exchange", func(w http.ResponseWriter, r *http.Request) {
		f.exchanges.Add(1)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "access_token" || r.PostForm.Get("access_token") == "" {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad request"}]}`, http.StatusUnauthorized)
			return
		}
		f.lastForm.Store(r.PostForm)
		if f.refusal != "" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":%q}]}`, f.refusal)
			return
		}
		now := time.Now()
		rt, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "Azure Container Registry", "aud": r.PostForm.Get("service"), "grant_type": "refresh_token",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(f.lifetime).Unix(),
			"jti": fmt.Sprint(f.exchanges.Load()),
		}).SignedString([]byte("fake registry key"))
		fmt.Fprintf(w, `{"refresh_token":%q}`, rt)
	})
	f.server = httptest.NewTLSServer(mux)
	return f
}

// client dials the fake for every host and trusts its certificate, which
// names example.com.
func (f *fakeACR) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.server.Certificate())
	addr := f.server.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}}
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
