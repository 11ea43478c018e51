// Package testkit holds the helpers that the tests of token and its
// sub-packages share: a log buffer many goroutines may write to at once
// (a provider's sources, cross-process cache waiters) while a test reads
// it, and the HS256-signed tokens that stand for ACR's refresh tokens.
// Only tests import it.
package testkit

import (
	"bytes"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Buffer is a bytes.Buffer behind a mutex. The zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// HS256 is a JWT with claims, signed with a fixed test key: the shape of
// a refresh token, for code that reads its claims without verifying it.
func HS256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
