package loginserver

import "testing"

// TestFixedExchange: only the forms whose exchange endpoint and service
// ACR fixes skip the challenge; the regional form and every custom
// cloud's login server read it, whatever their form.
func TestFixedExchange(t *testing.T) {
	for _, tt := range []struct {
		in    string
		fixed bool
	}{
		{"myreg.azurecr.io", true},
		{"myreg.azurecr.cn", true},
		{"myreg.azurecr.us", true},
		{"contosoacrregistry-e7ggejfuhzhgedc8.azurecr.io", true},
		{"myreg-abcdefgh12345678.azurecr.us", true},
		{"myreg.eastus2.geo.azurecr.io", false},
		{"myreg-e7ggejfuhzhgedc8.chinanorth3.geo.azurecr.cn", false},
		{"myreg.azurecr.contoso.local", false},
		{"myreg.westus.geo.azurecr.contoso.local", false},
	} {
		reg, err := Parse(tt.in, testStackSuffix())
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if got := reg.FixedExchange(); got != tt.fixed {
			t.Errorf("%s (form %v, custom %v): FixedExchange() = %v, want %v", tt.in, reg.Form, reg.Custom, got, tt.fixed)
		}
	}
}
