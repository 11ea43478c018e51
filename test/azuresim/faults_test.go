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
