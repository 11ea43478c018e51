package filecache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

// The protocol a caller follows so that concurrent processes fetch a token
// once: look, lock, look again, and fetch only if still needed.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	var cache token.Cache = filecache.New(filepath.Join(dir, "cache"), filecache.Options{})
	ctx := context.Background()
	key := token.CacheKey{LoginServer: "myreg.azurecr.io", Identity: "managed", Scope: token.DefaultScope}

	get := func() string {
		if e, ok := cache.Get(ctx, key); ok {
			return e.RefreshToken
		}
		unlock, err := cache.Lock(ctx, key)
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Println("another process is slow; fetching without the lock")
		}
		defer unlock() // a no-op when Lock failed
		if e, ok := cache.Get(ctx, key); ok {
			return e.RefreshToken // another process fetched it while we waited
		}
		fetched := token.Entry{LoginServer: key.LoginServer, Source: "managed",
			RefreshToken: "refresh-token", ExpiresAt: time.Now().Add(3 * time.Hour)}
		fmt.Println("fetched")
		if err := cache.Put(ctx, key, fetched); err != nil {
			fmt.Println("not cached:", err) // log at debug: the token still works
		}
		return fetched.RefreshToken
	}
	fmt.Println(get())
	fmt.Println(get())
	// Output:
	// fetched
	// refresh-token
	// refresh-token
}
