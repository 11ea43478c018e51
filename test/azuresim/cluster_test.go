package azuresim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The simulated Entra judges a cluster's service-account token as a
// federated credential does: issuer, subject and audience must all match
// one of the app's credentials (AADSTS70021 otherwise), and the signature
// must be the trusted cluster's key (AADSTS700211 otherwise).
func TestClusterFederatedAssertions(t *testing.T) {
	w := newWorld(t)
	const issuer = "https://oidc.cluster.test"
	cluster, err := NewCluster(issuer)
	if err != nil {
		t.Fatal(err)
	}
	w.sim.TrustCluster(cluster)
	// Same issuer URL, another key: what an attacker's own cluster signs.
	impostor, err := NewCluster(issuer)
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := NewCluster("https://oidc.other-cluster.test")
	if err != nil {
		t.Fatal(err)
	}
	const appA, appB, appC = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b", "cccccccc-0000-4000-8000-00000000000c"
	w.sim.AddApp(App{ClientID: appA, Federated: []FederatedCredential{{Issuer: issuer, Subject: ServiceAccountSubject("ns", "a")}}})
	w.sim.AddApp(App{ClientID: appB, Federated: []FederatedCredential{{Issuer: issuer, Subject: ServiceAccountSubject("ns", "b")}}})
	w.sim.AddApp(App{ClientID: appC, Federated: []FederatedCredential{{Issuer: issuer, Subject: ServiceAccountSubject("ns", "a"), Audiences: []string{"api://custom"}}}})

	loaded, err := LoadCluster(issuer, cluster.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	token := func(c *Cluster, ns, name string, aud ...string) string {
		t.Helper()
		tok, err := c.ServiceAccountToken(ns, name, "uid-"+name, aud, BoundPod{Name: "pod-" + name, UID: "pod-uid"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name, client, assertion, want string
	}{
		{"trusted subject", appA, token(cluster, "ns", "a", FederatedAudience), ""},
		{"loaded key signs the same", appA, token(loaded, "ns", "a", FederatedAudience), ""},
		{"second app, its own subject", appB, token(cluster, "ns", "b", FederatedAudience), ""},
		{"another service account's app", appA, token(cluster, "ns", "c", FederatedAudience), "AADSTS70021"},
		{"trusted subject, other app", appB, token(cluster, "ns", "a", FederatedAudience), "AADSTS70021"},
		{"same name, other namespace", appA, token(cluster, "other", "a", FederatedAudience), "AADSTS70021"},
		{"wrong audience", appA, token(cluster, "ns", "a", "https://kubernetes.default.svc"), "AADSTS70021"},
		{"one of several audiences", appA, token(cluster, "ns", "a", "https://kubernetes.default.svc", FederatedAudience), ""},
		{"credential's own audience", appC, token(cluster, "ns", "a", "api://custom"), ""},
		{"default audience where the credential names another", appC, token(cluster, "ns", "a", FederatedAudience), "AADSTS70021"},
		{"impostor key, same issuer", appA, token(impostor, "ns", "a", FederatedAudience), "AADSTS700211"},
		{"untrusted issuer", appA, token(untrusted, "ns", "a", FederatedAudience), "AADSTS700211"},
		{"expired", appA, func() string {
			tok, err := cluster.ServiceAccountToken("ns", "a", "uid-a", []string{FederatedAudience}, BoundPod{}, -time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}(), "AADSTS700211"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.sim.Reset()
			form := url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {tt.client},
				"scope":                 {ACRAudience + "/.default"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {tt.assertion},
			}
			req := mustReq(http.MethodPost, "https://login.microsoftonline.com/"+w.sim.TenantID()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			code, _, body := w.do(t, req)
			as := w.sim.Assertions()
			if len(as) != 1 || as[0].ClientID != tt.client || as[0].Error != tt.want {
				t.Errorf("assertions recorded %+v, want one for %s with error %q", as, tt.client, tt.want)
			}
			if tt.want == "" {
				if code != http.StatusOK || !strings.Contains(string(body), "access_token") {
					t.Fatalf("status %d %s, want a token", code, body)
				}
				return
			}
			if code == http.StatusOK || !strings.Contains(string(body), tt.want) {
				t.Fatalf("status %d %s, want %s", code, body, tt.want)
			}
			if tt.want == "AADSTS70021" && !strings.Contains(string(body), "Assertion Audience") {
				t.Errorf("the refusal does not name the assertion's audience: %s", body)
			}
		})
	}
}

func TestClusterTokenClaims(t *testing.T) {
	c, err := NewCluster("https://oidc.cluster.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServiceAccountToken("ns", "a", "u", nil, BoundPod{}, time.Hour); err == nil {
		t.Error("a token without an audience was minted")
	}
	if _, err := LoadCluster("https://oidc.cluster.test", []byte("not pem")); err == nil {
		t.Error("LoadCluster accepted a non-PEM key")
	}
	if got := ServiceAccountSubject("kube-system", "node-agent"); got != "system:serviceaccount:kube-system:node-agent" {
		t.Errorf("subject %q", got)
	}
}
