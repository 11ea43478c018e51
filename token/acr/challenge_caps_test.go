package acr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/internal/httpx"
)

// hugeChallenges are the hostile headers of issue 12: a 1 MiB header and
// one with 10,000 parameters, plus the edges of each cap.
func hugeChallenges() []struct {
	name    string
	headers []string
	wantErr string
} {
	params := func(n int) string {
		var b strings.Builder
		b.WriteString(`Bearer realm="https://myreg.azurecr.io/oauth2/token"`)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, ",p%d=v", i)
		}
		return b.String()
	}
	challenges := func(n int) string { return strings.TrimSuffix(strings.Repeat("Basic,", n), ",") }
	pad := `Bearer realm="https://myreg.azurecr.io/oauth2/token",service="` + strings.Repeat("a", 1<<20) + `"`
	return []struct {
		name    string
		headers []string
		wantErr string
	}{
		{"1 MiB header", []string{pad}, fmt.Sprintf("WWW-Authenticate header of %d bytes, over the 8192-byte limit", len(pad))},
		{"8 KiB over several lines", []string{strings.Repeat("a", maxChallengeBytes/2), strings.Repeat("b", maxChallengeBytes/2+1)}, "over the 8192-byte limit"},
		// The byte cap comes first.
		{"10,000 parameters", []string{params(10000)}, fmt.Sprintf("WWW-Authenticate header of %d bytes, over", len(params(10000)))},
		{"33 parameters", []string{params(33)}, "WWW-Authenticate header with more than 32 parameters, over the limit"},
		{"parameters over several lines", []string{params(20), params(20)}, "WWW-Authenticate header with more than 32 parameters"},
		{"17 challenges", []string{challenges(17)}, "WWW-Authenticate header with more than 16 challenges, over the limit"},
		{"token68 challenges count", []string{strings.TrimSuffix(strings.Repeat("Negotiate abc==,", 17), ",")}, "WWW-Authenticate header with more than 16 challenges"},
	}
}

func TestParseChallengesCaps(t *testing.T) {
	for _, tt := range hugeChallenges() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseChallenges(tt.headers)
			if err == nil || got != nil {
				t.Fatalf("parseChallenges = %d challenges, %v; want an error", len(got), err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes: it must not quote the header", len(err.Error()))
			}
		})
	}
	// At the caps, a header is still read.
	var b strings.Builder
	b.WriteString(`Bearer realm="https://myreg.azurecr.io/oauth2/token"`)
	for i := 1; i < maxChallengeParams; i++ {
		fmt.Fprintf(&b, ",p%d=v", i)
	}
	for i := 1; i < maxChallenges; i++ {
		b.WriteString(", Basic")
	}
	at := b.String()
	if pad := maxChallengeBytes - len(at); pad > 0 {
		at += strings.Repeat(" ", pad)
	}
	if cs, err := parseChallenges([]string{at}); err != nil || len(cs) != maxChallenges || len(cs[0].Params) != maxChallengeParams {
		t.Fatalf("a header at every cap: %d challenges, %v", len(cs), err)
	}
}

// TestExchangeRefusesHugeChallenges: through the exchange, the same
// headers end the challenge step with a clear error and send nothing to
// /oauth2/exchange.
func TestExchangeRefusesHugeChallenges(t *testing.T) {
	var cases []exchangeCase
	for _, h := range hugeChallenges() {
		if len(h.headers) != 1 {
			continue
		}
		cases = append(cases, exchangeCase{
			name:      h.name,
			challenge: challengeWith(h.headers[0]),
			wantKind:  KindNoChallenge,
			wantErr:   []string{"challenge at ", "registry answered 401 with a " + h.wantErr, "is a proxy answering for the registry?"},
			check: func(t *testing.T, e env) {
				if n := e.f.count("/oauth2/exchange"); n != 0 {
					t.Errorf("%d exchanges after a refused challenge", n)
				}
			},
		})
	}
	runExchangeCases(t, newFixtures(t), cases)
}

// TestExchangeTransportCapsHeaders: through the transport the Exchanger
// builds itself, a 1 MiB header fails before it is read whole, in the
// challenge step, naming the limit.
func TestExchangeTransportCapsHeaders(t *testing.T) {
	fx := newFixtures(t)
	f := newFakeACR(t, sims(t)[0], fx.entra)
	f.challenge = challengeWith(hugeChallenges()[0].headers[0])
	tr := httpx.CloneDefaultTransport()
	tr.Proxy = nil
	tr.TLSClientConfig.RootCAs = f.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	x := NewExchanger(Options{HTTPClient: &http.Client{Transport: tr}})
	_, err := x.Exchange(context.Background(), token.ExchangeRequest{LoginServer: f.host, EntraToken: fx.entra, Tenant: testTenant})
	var xe *Error
	if !errors.As(err, &xe) || xe.Step != "challenge" || !strings.Contains(err.Error(), "headers are too large") ||
		!strings.Contains(err.Error(), "65536 bytes") || !strings.Contains(err.Error(), "is a proxy or another server answering") {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("/oauth2/exchange"); n != 0 {
		t.Errorf("%d exchanges after a refused challenge", n)
	}
}
