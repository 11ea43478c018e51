package azuresim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func serveOnce(h http.Handler, method, target string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestFaults(t *testing.T) {
	sim, err := New(Options{Registries: []string{reg1}})
	if err != nil {
		t.Fatal(err)
	}

	w := serveOnce(sim.FaultyHandler(Faults{FirewallIP: "203.0.113.9"}), http.MethodGet, "https://"+reg1+"/v2/", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "client with IP '203.0.113.9' is not allowed access") {
		t.Errorf("firewall: %d %s", w.Code, w.Body)
	}

	w = serveOnce(sim.FaultyHandler(Faults{DateSkew: 10 * time.Minute}), http.MethodGet, "https://"+reg1+"/v2/", nil)
	at, err := http.ParseTime(w.Header().Get("Date"))
	if err != nil || at.Sub(time.Now()) < 9*time.Minute {
		t.Errorf("skewed Date %q", w.Header().Get("Date"))
	}

	// No actions: the exchange works, the access token grants nothing.
	h := sim.FaultyHandler(Faults{NoActions: true})
	entra, err := sim.CLIToken(ACRAudience, "")
	if err != nil {
		t.Fatal(err)
	}
	w = serveOnce(h, http.MethodPost, "https://"+reg1+"/oauth2/exchange",
		url.Values{"grant_type": {"access_token"}, "service": {reg1}, "access_token": {entra.AccessToken}})
	var ex map[string]string
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &ex) != nil {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	w = serveOnce(h, http.MethodPost, "https://"+reg1+"/oauth2/token",
		url.Values{"grant_type": {"refresh_token"}, "service": {reg1}, "scope": {"repository:hello:pull"}, "refresh_token": {ex["refresh_token"]}})
	var at2 map[string]string
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &at2) != nil {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	claims, ok := unverifiedClaims(at2["access_token"])
	if !ok {
		t.Fatal("access token unreadable")
	}
	if access, _ := claims["access"].([]any); len(access) != 0 {
		t.Errorf("access granted: %v", access)
	}
}

// TestPlant: planted misbehaviour replaces the simulator's answer for the
// requests it matches, for as many as it says, until removed; watched
// texts are seen wherever they are sent.
func TestPlant(t *testing.T) {
	sim, err := New(Options{Registries: []string{reg1}})
	if err != nil {
		t.Fatal(err)
	}
	h := sim.Handler()
	challenge := func() *httptest.ResponseRecorder {
		return serveOnce(h, http.MethodGet, "https://"+reg1+"/v2/", nil)
	}
	if w := challenge(); w.Code != http.StatusUnauthorized {
		t.Fatalf("no plant: %d", w.Code)
	}

	remove := sim.Plant(Misbehaviour{Host: reg1, Endpoint: EndpointChallenge, Times: 1, Status: http.StatusGone, Body: `{"x":1}`})
	if w := challenge(); w.Code != http.StatusGone || w.Body.String() != `{"x":1}` {
		t.Errorf("first: %d %s, want the planted 410", w.Code, w.Body)
	}
	if w := challenge(); w.Code != http.StatusUnauthorized {
		t.Errorf("after Times: %d, want the simulator's own 401", w.Code)
	}
	remove()

	remove = sim.Plant(Misbehaviour{Endpoint: EndpointChallenge, Redirect: "https://evil.test/", HugeHeader: 10})
	w := challenge()
	if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != "https://evil.test/" || len(w.Header().Get("X-Azuresim-Padding")) != 10 {
		t.Errorf("redirect: %d %v", w.Code, w.Header())
	}
	remove()
	if w := challenge(); w.Code != http.StatusUnauthorized {
		t.Errorf("after remove: %d", w.Code)
	}

	remove = sim.Plant(Misbehaviour{Endpoint: EndpointChallenge, HugeBody: 100 << 10, Body: `{"access_token":"`})
	w = challenge()
	var ans map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || len(ans["access_token"]) != 100<<10 {
		t.Errorf("huge body: %d bytes, %v", w.Body.Len(), err)
	}
	remove()

	// Skew: the exchange's refresh token moves by the skew, and still
	// verifies.
	defer sim.Plant(Misbehaviour{Endpoint: EndpointExchange, Skew: -3 * time.Hour})()
	entra, err := sim.CLIToken(ACRAudience, "")
	if err != nil {
		t.Fatal(err)
	}
	sim.Watch("entra", entra.AccessToken)
	w = serveOnce(h, http.MethodPost, "https://"+reg1+"/oauth2/exchange",
		url.Values{"grant_type": {"access_token"}, "service": {reg1}, "access_token": {entra.AccessToken}})
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	claims, err := sim.VerifyRefreshToken(reg1, ans["refresh_token"])
	if err != nil {
		t.Fatal(err)
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil || time.Until(exp.Time) > time.Hour {
		t.Errorf("skewed exp %v, want about 15 minutes from now", exp)
	}
	if got := sim.Sightings(); len(got) != 1 || got[0] != (Sighting{Name: "entra", Host: reg1, Endpoint: EndpointExchange}) {
		t.Errorf("sightings %+v", got)
	}
}
