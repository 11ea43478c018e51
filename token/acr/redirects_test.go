package acr

import (
	"net/http"
	"strings"
	"testing"
)

// TestExchangeRedirects: the Entra token goes only to the login server
// itself: never after a redirect, never to a realm elsewhere.
func TestExchangeRedirects(t *testing.T) {
	fx := newFixtures(t)
	runExchangeCases(t, fx, []exchangeCase{
		{
			name: "redirect on /v2/",
			setup: func(e env, _ *Options) {
				e.f.challenge = func(w http.ResponseWriter, r *http.Request, _ int) {
					http.Redirect(w, r, "https://"+e.other.host+"/v2/?sig=secret-ish", http.StatusFound)
				}
			},
			wantKind: KindRefused,
			wantErr:  []string{"registry answered 302, a redirect to https://" + "127.0.0.1:", "never sent on after a redirect"},
			check: func(t *testing.T, e env) {
				if n := e.other.total(); n != 0 {
					t.Fatalf("the redirect was followed: %d requests at its target", n)
				}
			},
		},
		{
			name: "redirect on /oauth2/exchange",
			setup: func(e env, _ *Options) {
				e.f.exchange = func(w http.ResponseWriter, r *http.Request, _ int) {
					http.Redirect(w, r, "https://"+e.other.host+"/oauth2/exchange", http.StatusTemporaryRedirect)
				}
			},
			wantKind: KindRefused,
			wantErr:  []string{"exchange at", "registry answered 307, a redirect to https://127.0.0.1:"},
			check: func(t *testing.T, e env) {
				if n := e.other.total(); n != 0 {
					t.Fatalf("the redirect was followed: %d requests at its target", n)
				}
			},
		},
		{
			name: "realm on another host",
			setup: func(e env, _ *Options) {
				port := e.f.host[strings.LastIndex(e.f.host, ":"):]
				e.f.challenge = challengeWith(`Bearer realm="https://localhost` + port + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: KindRefused,
			wantErr:  []string{"challenge at 127.0.0.1:", "not on the login server", "refusing to send the Entra token"},
		},
		{
			name: "realm on a look-alike host",
			setup: func(e env, _ *Options) {
				// httptest's client routes example.com and its subdomains to
				// the fake, so a missed check would show without any DNS.
				port := e.f.host[strings.LastIndex(e.f.host, ":"):]
				e.f.challenge = challengeWith(`Bearer realm="https://127.0.0.1.example.com` + port + `/oauth2/token"`)
			},
			wantKind: KindRefused,
		},
		{
			name: "realm over http",
			setup: func(e env, _ *Options) {
				e.f.challenge = challengeWith(`Bearer realm="http://` + e.f.host + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: KindRefused,
			wantErr:  []string{"which is not https"},
		},
		{
			name: "realm on another port",
			setup: func(e env, _ *Options) {
				e.f.challenge = challengeWith(`Bearer realm="https://` + e.other.host + `/oauth2/token",service="myreg.azurecr.io"`)
			},
			wantKind: KindRefused,
			wantErr:  []string{"not on the login server"},
		},
		{
			name:      "realm on the default port while the login server has another",
			challenge: challengeWith(`Bearer realm="https://127.0.0.1/oauth2/token"`),
			wantKind:  KindRefused,
		},
		{
			name: "realm with user info",
			setup: func(e env, _ *Options) {
				e.f.challenge = challengeWith(`Bearer realm="https://evil@` + e.f.host + `/oauth2/token"`)
			},
			wantKind: KindRefused,
			wantErr:  []string{"user information"},
		},
		{
			name:      "relative realm",
			challenge: challengeWith(`Bearer realm="/oauth2/token"`),
			wantKind:  KindRefused,
			wantErr:   []string{"not an absolute URL"},
		},
	})
}
