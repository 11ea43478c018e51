package token

import "strings"

// maxTenantLen is the longest DNS name (RFC 1035 §2.3.4).
const maxTenantLen = 253

// ValidTenantID reports whether s can name an Entra tenant: a GUID
// ("72f988bf-86f1-41af-91ab-2d7cd011db47") or one of the tenant's domain
// names ("contoso.onmicrosoft.com"). Both are DNS host names in syntax, and
// that is the rule: dot-separated labels of 1 to 63 ASCII letters, digits
// and hyphens, no label starting or ending with a hyphen, at most 253
// characters in all.
//
// Why this rule:
//   - Only ASCII letters, digits, hyphens and dots pass, so a valid tenant
//     is safe in a URL path, a form value, a cache key, a log line and an
//     error message; nothing can break out of any of them.
//   - It is what azidentity accepts (letters, digits, '.', '-'), minus
//     shapes no tenant has (empty labels, leading dots or hyphens), so a
//     value refused here would have been refused by Entra too, and a value
//     accepted is for Entra to judge: a tenant that does not exist gets
//     AADSTS90002, whose hint says to check AZURE_TENANT_ID.
//   - Single labels pass ("common", "contoso"): Entra's answer to them
//     explains more than a local refusal could.
//   - 253, not 64: custom domain names are DNS names and may be that long.
func ValidTenantID(s string) bool {
	if s == "" || len(s) > maxTenantLen {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !isDNSLabel(l) {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether l is 1 to 63 ASCII letters, digits and
// hyphens, neither starting nor ending with a hyphen.
func isDNSLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
