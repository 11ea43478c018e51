package filecache

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A refresh token from ACR is an RS256 JWT of roughly 1.5–2.5 KB.
var benchToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Repeat("x", 1800) + ".sig"

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	c := newTestCache(b, Options{})
	k := testKey("myreg.azurecr.io")
	if err := c.Put(ctx, k, testEntry(k.LoginServer, benchToken, time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(ctx, k); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkGetFirst is a Get on a fresh Cache, as each helper process does
// it: it includes the one-time check of the directory.
func BenchmarkGetFirst(b *testing.B) {
	ctx := context.Background()
	dir := newTestCache(b, Options{}).Dir()
	k := testKey("myreg.azurecr.io")
	if err := New(dir, Options{}).Put(ctx, k, testEntry(k.LoginServer, benchToken, time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := New(dir, Options{}).Get(ctx, k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetMiss(b *testing.B) {
	ctx := context.Background()
	c := newTestCache(b, Options{})
	k := testKey("myreg.azurecr.io")
	if err := c.PutNegative(ctx, "x", time.Now().Add(time.Minute)); err != nil { // creates the dir
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(ctx, k); ok {
			b.Fatal("hit")
		}
	}
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	c := newTestCache(b, Options{})
	k := testKey("myreg.azurecr.io")
	e := testEntry(k.LoginServer, benchToken, time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Put(ctx, k, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	c := newTestCache(b, Options{})
	k := testKey("myreg.azurecr.io")
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := c.Lock(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkDecodeEntry isolates Get's JSON work from its system calls.
func BenchmarkDecodeEntry(b *testing.B) {
	k := testKey("myreg.azurecr.io")
	data := rawEntry(b, 1, k, benchToken, time.Now().Add(time.Hour))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
