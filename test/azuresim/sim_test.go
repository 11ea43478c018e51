package azuresim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

const (
	reg1 = "myreg.azurecr.io"
	reg2 = "otherreg.azurecr.io"
)

// world is the simulator on two loopback httptest servers, and a client
// whose dialer sends the real names there: port 80 (IMDS) to the plain
// server, everything else to the TLS one. No other address is ever dialed.
type world struct {
	sim    *Sim
	client *http.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sim, err := New(Options{Registries: []string{reg1, reg2}})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCert(append(sim.Hosts(), "myreg.azurecr.io.evil.test")...)
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := httptest.NewUnstartedServer(sim.Handler())
	tlsSrv.TLS = sim.TLSConfig(cert)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	imds := httptest.NewServer(sim.IMDSHandler())
	t.Cleanup(imds.Close)

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasSuffix(addr, ":80") {
				return d.DialContext(ctx, network, imds.Listener.Addr().String())
			}
			return d.DialContext(ctx, network, tlsSrv.Listener.Addr().String())
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &world{sim: sim, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (w *world) do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (w *world) imdsToken(t *testing.T, clientID string, metadata bool) (int, map[string]string) {
	t.Helper()
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://containerregistry.azure.net"}}
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://169.254.169.254/metadata/identity/oauth2/token?"+q.Encode(), nil)
	if metadata {
		req.Header.Set("Metadata", "true")
	}
	code, _, body := w.do(t, req)
	var m map[string]string
	_ = json.Unmarshal(body, &m)
	return code, m
}

func (w *world) exchange(t *testing.T, host, entra string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {entra}}
	req, _ := http.NewRequest(http.MethodPost, "https://"+host+"/oauth2/exchange", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, _, body := w.do(t, req)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return code, m
}

func TestIMDS(t *testing.T) {
	w := newWorld(t)
	w.sim.AddUserAssignedIdentity("11111111-1111-1111-1111-111111111111")
	tests := []struct {
		name     string
		clientID string
		metadata bool
		want     int
	}{
		{"system-assigned", "", true, http.StatusOK},
		{"user-assigned", "11111111-1111-1111-1111-111111111111", true, http.StatusOK},
		{"no metadata header", "", false, http.StatusBadRequest},
		{"unknown client id", "99999999-9999-9999-9999-999999999999", true, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := w.imdsToken(t, tt.clientID, tt.metadata)
			if code != tt.want {
				t.Fatalf("status %d, want %d (%v)", code, tt.want, m)
			}
			if code != http.StatusOK {
				return
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(m["access_token"], claims); err != nil {
				t.Fatal(err)
			}
			if claims["aud"] != ACRAudience || claims["tid"] != w.sim.TenantID() {
				t.Errorf("claims %v", claims)
			}
		})
	}
	st := w.sim.Stats()
	if got := st.Count(IMDSHost, EndpointIMDS); got != len(tests)-1 {
		t.Errorf("IMDS token requests %d, want %d", got, len(tests)-1)
	}
	if got := st.Count(IMDSHost, EndpointIMDSProbe); got != 1 {
		t.Errorf("IMDS probes %d, want 1 (the request without Metadata)", got)
	}
}

func TestExchangeAndTokens(t *testing.T) {
	w := newWorld(t)
	_, m := w.imdsToken(t, "", true)
	entra := m["access_token"]

	code, _, _ := w.do(t, mustReq(http.MethodGet, "https://"+reg1+"/v2/", nil))
	if code != http.StatusUnauthorized {
		t.Fatalf("challenge status %d", code)
	}

	code, ex := w.exchange(t, reg1, entra)
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, ex)
	}
	refresh := ex["refresh_token"].(string)
	claims, err := w.sim.VerifyRefreshToken(reg1, refresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"exp", "iat", "nbf", "iss", "aud", "grant_type", "tenant", "permissions"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("refresh token lacks %s", c)
		}
	}
	if _, err := w.sim.VerifyRefreshToken(reg2, refresh); err == nil {
		t.Error("refresh token for one registry accepted for another")
	}

	// Both ways clients turn a refresh token into an access token.
	post := url.Values{"grant_type": {"refresh_token"}, "service": {reg1}, "scope": {"repository:hello:pull"}, "refresh_token": {refresh}}
	req := mustReq(http.MethodPost, "https://"+reg1+"/oauth2/token", strings.NewReader(post.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, _, body := w.do(t, req)
	if code != http.StatusOK {
		t.Fatalf("token POST: %d %s", code, body)
	}
	req = mustReq(http.MethodGet, "https://"+reg1+"/oauth2/token?service="+reg1+"&scope=repository:hello:pull", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(zeroGUID+":"+refresh)))
	code, _, body = w.do(t, req)
	if code != http.StatusOK {
		t.Fatalf("token GET: %d %s", code, body)
	}
	var at struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &at)
	req = mustReq(http.MethodGet, "https://"+reg1+"/v2/", nil)
	req.Header.Set("Authorization", "Bearer "+at.AccessToken)
	if code, _, body = w.do(t, req); code != http.StatusOK {
		t.Fatalf("/v2/ with access token: %d %s", code, body)
	}

	st := w.sim.Stats()
	if got := st.Count(reg1, EndpointExchange); got != 1 {
		t.Errorf("exchanges %d, want 1", got)
	}
	if len(st.Exchanges) != 1 || st.Exchanges[0].Identity != "managed:system" {
		t.Errorf("exchange records %+v", st.Exchanges)
	}
	if leaks := st.Leaks(w.sim.Registries()); len(leaks) != 0 {
		t.Errorf("leaks %+v", leaks)
	}
}

func TestExchangeRefusals(t *testing.T) {
	w := newWorld(t)
	_, m := w.imdsToken(t, "", true)
	acr := m["access_token"]
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://management.azure.com/"}}
	req := mustReq(http.MethodGet, "http://169.254.169.254/metadata/identity/oauth2/token?"+q.Encode(), nil)
	req.Header.Set("Metadata", "true")
	_, _, body := w.do(t, req)
	var armResp map[string]string
	_ = json.Unmarshal(body, &armResp)
	arm := armResp["access_token"]
	if err := w.sim.AllowARMAudience(reg2, true); err != nil {
		t.Fatal(err)
	}
	forged := acr[:strings.LastIndex(acr, ".")+1] + base64.RawURLEncoding.EncodeToString([]byte("not a signature"))

	tests := []struct {
		name, host, token string
		want              int
		msg               string
	}{
		{"ACR audience", reg1, acr, http.StatusOK, ""},
		{"ARM audience, policy off", reg1, arm, http.StatusUnauthorized, "arm aad token disallowed"},
		{"ARM audience, policy on", reg2, arm, http.StatusOK, ""},
		{"forged signature", reg1, forged, http.StatusUnauthorized, "invalid AAD access token"},
		{"garbage", reg1, "garbage", http.StatusUnauthorized, "invalid AAD access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := w.exchange(t, tt.host, tt.token)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %v", code, tt.want, body)
			}
			if tt.msg != "" {
				b, _ := json.Marshal(body)
				if !strings.Contains(string(b), tt.msg) {
					t.Errorf("body %s lacks %q", b, tt.msg)
				}
			}
		})
	}
	// A GET of the exchange is a 404, as on ACR.
	if code, _, _ := w.do(t, mustReq(http.MethodGet, "https://"+reg1+"/oauth2/exchange", nil)); code != http.StatusNotFound {
		t.Errorf("GET exchange: %d", code)
	}
}

func TestLeakDetection(t *testing.T) {
	w := newWorld(t)
	_, m := w.imdsToken(t, "", true)
	req := mustReq(http.MethodGet, "https://myreg.azurecr.io.evil.test/v2/", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"])
	if code, _, _ := w.do(t, req); code != http.StatusMisdirectedRequest {
		t.Errorf("unknown host answered %d", code)
	}
	st := w.sim.Stats()
	leaks := st.Leaks(w.sim.Registries())
	if len(leaks) != 1 || leaks[0].Host != "myreg.azurecr.io.evil.test" {
		t.Fatalf("leaks %+v", leaks)
	}
	if st.Count("myreg.azurecr.io.evil.test", EndpointTLSHello) != 1 {
		t.Errorf("TLS hello not recorded: %s", st.CountSummary())
	}
}

// azidentity's own credentials accept the simulator: this keeps the
// simulator honest about the wire formats the product relies on.
func TestAzidentityAgainstSim(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clientOpts := policy.ClientOptions{Transport: w.client, Retry: policy.RetryOptions{MaxRetries: -1}}
	scope := "https://containerregistry.azure.net/.default"

	w.sim.AddUserAssignedIdentity("11111111-1111-1111-1111-111111111111")
	fed := w.sim.AddApp(App{ClientID: "22222222-2222-2222-2222-222222222222",
		Federated: []FederatedCredential{{Issuer: w.sim.OIDCIssuer(), Subject: "system:serviceaccount:default:builder"}}})
	w.sim.AddApp(App{ClientID: "33333333-3333-3333-3333-333333333333", Secret: "s3cret"})
	cc, err := NewClientCertificate("azuresim test app")
	if err != nil {
		t.Fatal(err)
	}
	w.sim.AddApp(App{ClientID: "44444444-4444-4444-4444-444444444444", Certificates: []*x509.Certificate{cc.Cert}})
	certs, key, err := azidentity.ParseCertificates(append(append([]byte{}, cc.CertPEM...), cc.KeyPEM...), nil)
	if err != nil {
		t.Fatal(err)
	}
	certCred, err := azidentity.NewClientCertificateCredential(w.sim.TenantID(), "44444444-4444-4444-4444-444444444444", certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewClientCertificate("not registered")
	if err != nil {
		t.Fatal(err)
	}
	otherCerts, otherKey, _ := azidentity.ParseCertificates(append(append([]byte{}, other.CertPEM...), other.KeyPEM...), nil)
	certBad, err := azidentity.NewClientCertificateCredential(w.sim.TenantID(), "44444444-4444-4444-4444-444444444444", otherCerts, otherKey,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}

	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}
	miUser, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: clientOpts, ID: azidentity.ClientID("11111111-1111-1111-1111-111111111111")})
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := w.sim.FederatedToken("system:serviceaccount:default:builder", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := azidentity.NewClientAssertionCredential(w.sim.TenantID(), fed.ClientID,
		func(context.Context) (string, error) { return assertion, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}
	badAssertion, _ := w.sim.FederatedToken("system:serviceaccount:default:intruder", time.Hour)
	caBad, err := azidentity.NewClientAssertionCredential(w.sim.TenantID(), fed.ClientID,
		func(context.Context) (string, error) { return badAssertion, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := azidentity.NewClientSecretCredential(w.sim.TenantID(), "33333333-3333-3333-3333-333333333333", "s3cret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOpts})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		cred     azcore.TokenCredential
		identity string
		wantErr  string
	}{
		{"managed system-assigned", mi, "managed:system", ""},
		{"managed user-assigned", miUser, "managed:11111111-1111-1111-1111-111111111111", ""},
		{"workload (client assertion)", ca, "workload:22222222-2222-2222-2222-222222222222", ""},
		{"workload, untrusted subject", caBad, "", "AADSTS70021"},
		{"client secret", secret, "app:33333333-3333-3333-3333-333333333333", ""},
		{"client certificate", certCred, "app:44444444-4444-4444-4444-444444444444", ""},
		{"client certificate not registered", certBad, "", "AADSTS700027"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w.sim.Reset()
			if code, body := w.exchange(t, reg1, tok.Token); code != http.StatusOK {
				t.Fatalf("exchange: %d %v", code, body)
			}
			if ex := w.sim.Stats().Exchanges; len(ex) != 1 || ex[0].Identity != tt.identity {
				t.Errorf("exchange records %+v, want identity %s", ex, tt.identity)
			}
		})
	}
}

func mustReq(method, u string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		panic(err)
	}
	return r
}
