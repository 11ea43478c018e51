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

// AssertNoFragmentAtAnyCut places secret after pad, every padding from
// lo to hi bytes long, and checks with AssertNoFragment (pieces of 8 bytes)
// what show makes of it: redacting after a cut would leave a piece. At
// least one of show's results must be clipped, or the sweep never reached
// the cut and t fails.
func AssertNoFragmentAtAnyCut(t testing.TB, secret string, lo, hi int, show func(pad string) string, clipped func(shown string) bool) {
	t.Helper()
	n := 0
	for off := lo; off <= hi; off++ {
		got := show(strings.Repeat("p", off))
		if clipped(got) {
			n++
		}
		AssertNoFragment(t, got, secret, 8)
	}
	if n == 0 {
		t.Fatal("nothing was clipped: the test does not reach the clip point")
	}
}
