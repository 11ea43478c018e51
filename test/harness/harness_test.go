package harness

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
)

func TestFakeAz(t *testing.T) {
	sim, err := azuresim.New(azuresim.Options{Registries: []string{Registry1}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.ControlHandler())
	defer srv.Close()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"resource", []string{"account", "get-access-token", "-o", "json", "--resource", "https://containerregistry.azure.net"}, 0, ""},
		{"home tenant", []string{"account", "get-access-token", "-o", "json", "--resource", "https://containerregistry.azure.net", "--tenant", sim.TenantID()}, 0, ""},
		{"scope", []string{"account", "get-access-token", "-o", "json", "--scope", "https://containerregistry.azure.net/.default"}, 0, ""},
		{"foreign tenant", []string{"account", "get-access-token", "-o", "json", "--resource", "x", "--tenant", "other"}, 1, "AADSTS90002"},
		{"other command", []string{"login"}, 2, "only `az account get-access-token`"},
		{"unknown flag", []string{"account", "get-access-token", "--query", "accessToken"}, 2, "unrecognized argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := fakeAz(srv.URL, tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
			if code != 0 {
				return
			}
			var tok azuresim.AzCLIToken
			if err := json.Unmarshal(out.Bytes(), &tok); err != nil || tok.AccessToken == "" || tok.ExpiresOnInt == 0 || tok.ExpiresOn == "" {
				t.Errorf("output %s (%v) lacks accessToken/expires_on/expiresOn", out.String(), err)
			}
		})
	}
	if got := sim.Stats().Count("az", azuresim.EndpointAz); got != 4 {
		t.Errorf("az requests %d, want 4", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"Secret":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}`, `{"Secret":"<jwt redacted>"}`},
		{"unsigned eyJhbGciOiJub25lIn0.eyJ4IjoxfQ. end", "unsigned <jwt redacted> end"},
		{"no token here: eyJ alone", "no token here: eyJ alone"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseGet(t *testing.T) {
	c, err := ParseGet(`{"ServerURL":"myreg.azurecr.io","Username":"<token>","Secret":"s"}`)
	if err != nil || c.Username != "<token>" || c.Secret != "s" || c.ServerURL != "myreg.azurecr.io" {
		t.Errorf("ParseGet: %+v %v", c, err)
	}
	if _, err := ParseGet("credentials not found in native keychain"); err == nil {
		t.Error("ParseGet accepted the not-found text")
	}
}
