// Package leak holds the tests' one check that a secret left nothing of
// itself in a text: not whole, and not a piece of it.
package leak

import (
	"strings"
	"testing"
)

// AssertNoFragment fails t if any n-byte piece of secret appears in text: a
// secret cut short (by a length limit, say) must not leave its first part
// behind, where neither the whole-secret nor the segment rule of the
// redactor would find it.
func AssertNoFragment(t testing.TB, text, secret string, n int) {
	t.Helper()
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			t.Errorf("%q holds %q, a piece of the secret", text, secret[i:i+n])
			return
		}
	}
}
