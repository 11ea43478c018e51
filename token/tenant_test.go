package token

import (
	"strings"
	"testing"
)

func TestValidTenantID(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	long := strings.Repeat(label63+".", 3) + strings.Repeat("b", 61) // 253
	tests := []struct {
		in   string
		want bool
	}{
		{"72f988bf-86f1-41af-91ab-2d7cd011db47", true},
		{"72F988BF-86F1-41AF-91AB-2D7CD011DB47", true},
		{"contoso.onmicrosoft.com", true},
		{"contoso.com", true},
		{"xn--bcher-kva.example", true},
		{"my-tenant.onmicrosoft.us", true},
		{"common", true}, // for Entra to refuse, with a hint
		{label63 + ".com", true},
		{long, true},

		{"", false},
		{"contoso.com.", false},
		{".contoso.com", false},
		{"contoso..com", false},
		{"-contoso.com", false},
		{"contoso-.com", false},
		{"72f988bf-86f1-41af-91ab-2d7cd011db47-", false},
		{strings.Repeat("a", 64) + ".com", false},
		{long + "b", false},
		{"contoso tenant", false},
		{"contoso.com/../x", false},
		{"contoso.com?x=1", false},
		{"contoso_tenant.com", false},
		{"cöntoso.com", false},
		{"contoso.com\n", false},
		{"user@contoso.com", false},
		{"%2e%2e", false},
	}
	for _, tc := range tests {
		if got := ValidTenantID(tc.in); got != tc.want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
