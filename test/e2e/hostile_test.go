//go:build e2e && linux

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// hostileRow is one hostile endpoint: what is planted, for which identity
// and login server, which hosts must then see nothing, and which words
// the error must name.
type hostileRow struct {
	name      string
	src       string // srcManaged, srcWorkload, ...
	host      string // the login server asked for
	plant     []azuresim.Misbehaviour
	tls       []azuresim.TLSMisbehaviour
	forbidden []string // hosts that must see no request, not even a TLS handshake
	names     []string // the error names the endpoint with one of these
	// mayWork: the standard and DNL forms may skip the challenge (issue
	// 11), so a hostile /v2/ may be ignored and the get succeed; the
	// token must then still go to the login server only.
	mayWork bool
}

// Words by which an error names each endpoint.
var (
	namesIMDS      = []string{azuresim.IMDSHost, "IMDS", "instance metadata"}
	namesEntra     = []string{entraHost, "Entra"}
	namesGitHub    = []string{azuresim.GitHubTokenHost, "ACTIONS_ID_TOKEN_REQUEST_URL", "GitHub"}
	namesChallenge = []string{"challenge", "/v2/", "WWW-Authenticate"}
	namesExchange  = []string{"/oauth2/exchange", "exchange"}
)

const (
	mib = 1 << 20
	// hugeBody is larger than any real answer by far: an uncapped reader
	// shows in the peak RSS (issue 12 measured 108 MiB for 20 MB at IMDS).
	hugeBody = 20 * mib
	// hugeHeader is above Go's own 10 MiB cap of response headers.
	hugeHeader = 16 * mib
)

// wwwAuthenticate is an ACR challenge answer with the given header.
func wwwAuthenticate(host, header string) azuresim.Misbehaviour {
	return azuresim.Misbehaviour{Host: host, Endpoint: azuresim.EndpointChallenge, Status: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": {header}},
		Body:   `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`}
}

func realm(host, realmURL string) azuresim.Misbehaviour {
	return wwwAuthenticate(host, fmt.Sprintf(`Bearer realm=%q,service=%q`, realmURL, host))
}

// manyParams is a challenge with n parameters after realm and service.
func manyParams(host string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `Bearer realm="https://%s/oauth2/token",service="%s"`, host, host)
	for i := range n {
		fmt.Fprintf(&b, `,p%d="x"`, i)
	}
	return b.String()
}

// hostileRows are the cases of issue 12 item 3. The regional form needs its
// challenge, so a hostile challenge there must end in a clear error; the
// standard form may skip it (mayWork).
func hostileRows(t *testing.T) []hostileRow {
	R, S := harness.RegionalRegistry, harness.Registry1
	imds := func(m azuresim.Misbehaviour) azuresim.Misbehaviour {
		m.Host, m.Endpoint = azuresim.IMDSHost, azuresim.EndpointIMDS
		return m
	}
	at := func(host, endpoint string, m azuresim.Misbehaviour) azuresim.Misbehaviour {
		m.Host, m.Endpoint = host, endpoint
		return m
	}
	wrong, err := world.CA.ServerCert("wrong-name.example.test")
	if err != nil {
		t.Fatal(err)
	}
	tenant := world.Sim.TenantID()
	entraToken := func(m azuresim.Misbehaviour) azuresim.Misbehaviour {
		return at(entraHost, azuresim.EndpointEntraToken, m)
	}
	huge := func(prefix string) azuresim.Misbehaviour {
		return azuresim.Misbehaviour{HugeBody: hugeBody, Body: prefix}
	}
	big := azuresim.Misbehaviour{HugeHeader: hugeHeader}
	trickle := azuresim.Misbehaviour{Trickle: true}
	rows := []hostileRow{
		// The challenge's realm decides where the Entra token goes.
		{name: "realm on another host, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{realm(R, "https://"+evilHost+"/oauth2/token")}, forbidden: []string{evilHost}, names: namesChallenge},
		{name: "realm on http, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{realm(R, "http://"+R+"/oauth2/token")}, names: namesChallenge},
		{name: "realm on a look-alike, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{realm(R, "https://"+lookAlikeReg+"/oauth2/token")}, forbidden: []string{lookAlikeReg}, names: namesChallenge},
		{name: "realm on an IP address, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{realm(R, "https://127.0.0.1/oauth2/token")}, forbidden: []string{"127.0.0.1", ""}, names: namesChallenge},
		{name: "realm on another host, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{realm(S, "https://"+evilHost+"/oauth2/token")}, forbidden: []string{evilHost}, names: namesChallenge, mayWork: true},
		{name: "realm on http, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{realm(S, "http://"+S+"/oauth2/token")}, names: namesChallenge, mayWork: true},
		{name: "realm on a look-alike, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{realm(S, "https://myreg.azurecr.io.evil.test/oauth2/token")}, forbidden: []string{"myreg.azurecr.io.evil.test"}, names: namesChallenge, mayWork: true},
		{name: "Www-Authenticate of 1 MB, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{wwwAuthenticate(R, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",pad="%s"`, R, R, strings.Repeat("a", mib)))}, names: namesChallenge},
		{name: "Www-Authenticate with 10000 parameters, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{wwwAuthenticate(R, manyParams(R, 10000))}, names: namesChallenge},
		{name: "Www-Authenticate of 1 MB, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{wwwAuthenticate(S, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",pad="%s"`, S, S, strings.Repeat("a", mib)))}, names: namesChallenge, mayWork: true},
		{name: "Www-Authenticate with 10000 parameters, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{wwwAuthenticate(S, manyParams(S, 10000))}, names: namesChallenge, mayWork: true},

		// Redirects: never followed with a token or an assertion.
		{name: "/v2/ redirects to another host, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointChallenge, azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/v2/"})}, forbidden: []string{evilHost}, names: namesChallenge},
		{name: "/v2/ redirects to http, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointChallenge, azuresim.Misbehaviour{Redirect: "http://" + R + "/v2/"})}, names: namesChallenge},
		{name: "/v2/ redirects to another host, standard", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointChallenge, azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/v2/"})}, forbidden: []string{evilHost}, names: namesChallenge, mayWork: true},
		{name: "exchange redirects to another host", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointExchange, azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/oauth2/exchange"})}, forbidden: []string{evilHost}, names: namesExchange},
		{name: "exchange redirects to http", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointExchange, azuresim.Misbehaviour{Redirect: "http://" + S + "/oauth2/exchange"})}, names: namesExchange},
		{name: "exchange redirects to another host, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointExchange, azuresim.Misbehaviour{Redirect: "https://" + lookAlikeReg + "/oauth2/exchange"})}, forbidden: []string{lookAlikeReg}, names: namesExchange},
		{name: "Entra token endpoint redirects the assertion to another host", src: srcWorkload, host: S, plant: []azuresim.Misbehaviour{entraToken(azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/" + tenant + "/oauth2/v2.0/token"})}, forbidden: []string{evilHost}, names: namesEntra},
		{name: "Entra token endpoint redirects the assertion to http", src: srcWorkload, host: S, plant: []azuresim.Misbehaviour{entraToken(azuresim.Misbehaviour{Redirect: "http://" + entraHost + "/" + tenant + "/oauth2/v2.0/token"})}, names: namesEntra},
		{name: "Entra token endpoint redirects the client secret to another host", src: srcSecret, host: S, plant: []azuresim.Misbehaviour{entraToken(azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/" + tenant + "/oauth2/v2.0/token"})}, forbidden: []string{evilHost}, names: namesEntra},
		{name: "IMDS redirects to another host", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{imds(azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/metadata/identity/oauth2/token"})}, forbidden: []string{evilHost}, names: namesIMDS},
		{name: "IMDS redirects to http elsewhere", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{imds(azuresim.Misbehaviour{Redirect: "http://" + evilHost + "/metadata/identity/oauth2/token"})}, forbidden: []string{evilHost}, names: namesIMDS},
		{name: "GitHub ID token service redirects to another host", src: srcGitHub, host: S, plant: []azuresim.Misbehaviour{at(azuresim.GitHubTokenHost, azuresim.EndpointGitHubOIDC, azuresim.Misbehaviour{Redirect: "https://" + evilHost + "/idtoken"})}, forbidden: []string{evilHost}, names: namesGitHub},

		// Oversized headers and bodies at every endpoint.
		{name: "oversized header at IMDS", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{imds(big)}, names: namesIMDS},
		{name: "oversized header at Entra", src: srcWorkload, host: S, plant: []azuresim.Misbehaviour{entraToken(big)}, names: namesEntra},
		{name: "oversized header at the GitHub ID token service", src: srcGitHub, host: S, plant: []azuresim.Misbehaviour{at(azuresim.GitHubTokenHost, azuresim.EndpointGitHubOIDC, big)}, names: namesGitHub},
		{name: "oversized header at the challenge, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointChallenge, big)}, names: namesChallenge},
		{name: "oversized header at the exchange", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointExchange, big)}, names: namesExchange},
		{name: "oversized body at IMDS", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{imds(huge(`{"token_type":"Bearer","expires_in":"3600","access_token":"`))}, names: namesIMDS},
		{name: "oversized body at Entra", src: srcWorkload, host: S, plant: []azuresim.Misbehaviour{entraToken(huge(`{"token_type":"Bearer","expires_in":3600,"access_token":"`))}, names: namesEntra},
		{name: "oversized body at the GitHub ID token service", src: srcGitHub, host: S, plant: []azuresim.Misbehaviour{at(azuresim.GitHubTokenHost, azuresim.EndpointGitHubOIDC, huge(`{"count":1,"value":"`))}, names: namesGitHub},
		{name: "oversized body at the challenge, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointChallenge, huge(`{"errors":"`))}, names: namesChallenge},
		{name: "oversized body at the exchange", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointExchange, huge(`{"refresh_token":"`))}, names: namesExchange},

		// Slow servers: one byte a second, a TLS handshake that never ends.
		{name: "IMDS trickles", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{imds(trickle)}, names: namesIMDS},
		{name: "Entra trickles", src: srcWorkload, host: S, plant: []azuresim.Misbehaviour{entraToken(trickle)}, names: namesEntra},
		{name: "challenge trickles, regional", src: srcManaged, host: R, plant: []azuresim.Misbehaviour{at(R, azuresim.EndpointChallenge, trickle)}, names: namesChallenge},
		{name: "exchange trickles", src: srcManaged, host: S, plant: []azuresim.Misbehaviour{at(S, azuresim.EndpointExchange, trickle)}, names: namesExchange},
		{name: "TLS handshake stalls at the login server", src: srcManaged, host: S, tls: []azuresim.TLSMisbehaviour{{Host: S, Stall: true}}, names: []string{S}},
		{name: "TLS handshake stalls at the regional login server", src: srcManaged, host: R, tls: []azuresim.TLSMisbehaviour{{Host: R, Stall: true}}, names: []string{R}},
		{name: "TLS handshake stalls at Entra", src: srcWorkload, host: S, tls: []azuresim.TLSMisbehaviour{{Host: entraHost, Stall: true}}, names: namesEntra},
		{name: "certificate for the wrong name at the login server", src: srcManaged, host: S, tls: []azuresim.TLSMisbehaviour{{Host: S, Cert: &wrong}}, names: []string{S}},
		{name: "certificate for the wrong name at Entra", src: srcWorkload, host: S, tls: []azuresim.TLSMisbehaviour{{Host: entraHost, Cert: &wrong}}, names: namesEntra},
	}
	return rows
}

// TestHostileEndpoints: each hostile endpoint ends in exit 1 with a
// message naming it, before the hang detector, with a peak RSS near a
// normal get's; the simulator saw no Entra token anywhere but a login
// server's exchange, no assertion, secret or job token anywhere but its
// own endpoint, and nothing at the hosts a redirect or realm pointed to.
func TestHostileEndpoints(t *testing.T) {
	startCatcher(t)
	for _, tt := range hostileRows(t) {
		t.Run(tt.name, func(t *testing.T) {
			base := baselineRSS(t, tt.src, tt.host)
			u := userFor(t, tt.src, "", nil)
			plantAll(t, tt.plant, tt.tls)
			world.Sim.Sightings()
			before := world.Sim.Stats()
			r := getBounded(t, u, tt.host, runOpts{})
			d := world.Sim.Stats().Since(before)
			sawOnly(t, d, tt.forbidden)
			if tt.mayWork && r.Code == 0 {
				c, err := harness.ParseGet(r.Stdout)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := world.Sim.VerifyRefreshToken(tt.host, c.Secret); err != nil {
					t.Errorf("the hostile /v2/ was ignored, but the answer is not a refresh token of %s: %v", tt.host, err)
				}
				if len(d.Exchanges) != 1 || d.Exchanges[0].Host != tt.host {
					t.Errorf("exchanges %v, want one at %s", identities(d.Exchanges), tt.host)
				}
				t.Logf("the hostile /v2/ was ignored and the get succeeded (allowed for the %s form)", tt.host)
				return
			}
			failedClearly(t, r, tt.names, base)
		})
	}
}
