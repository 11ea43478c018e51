package safetext

// Lower lowers ASCII letters and leaves every other byte alone.
// strings.ToLower would also map some non-ASCII runes to ASCII (the Kelvin
// sign U+212A to 'k'), letting a look-alike spelling reach the same key or
// pass for a valid name.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// EqualFold reports whether s equals lower, a lower-case ASCII string,
// when ASCII letters in s are folded to lower case. No other byte folds,
// so no Unicode look-alike can match.
func EqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
