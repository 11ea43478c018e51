package filecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func TestGetPut(t *testing.T) {
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	exp := t0.Add(3 * time.Hour)
	tests := []struct {
		name   string
		put    bool
		now    time.Time
		wantOK bool
	}{
		{"hit", true, t0, true},
		{"hit a nanosecond before expiry", true, exp.Add(-time.Nanosecond), true},
		{"miss when nothing was stored", false, t0, false},
		{"expired exactly at exp", true, exp, false},
		{"expired after exp", true, exp.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			c := newTestCache(t, Options{Now: clk.Now})
			if tt.put {
				if err := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, exp)); err != nil {
					t.Fatalf("Put: %v", err)
				}
			}
			clk.Set(tt.now)
			got, ok := c.Get(ctx, k)
			if ok != tt.wantOK {
				t.Fatalf("Get ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && (got.RefreshToken != secretToken || !got.ExpiresAt.Equal(exp) || got.LoginServer != k.LoginServer || got.Source != "managed") {
				t.Errorf("Get = %+v, want the stored entry", got)
			}
			if !ok && got != (token.Entry{}) {
				t.Errorf("a miss returned a non-zero entry")
			}
		})
	}
}

func TestFileFormat(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{Now: newClock(t0).Now})
	k := testKey("myreg.azurecr.io")
	exp := t0.Add(time.Hour)
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok", exp)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(entryPath(c, k))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(rawEntry(t, 1, k, "tok", exp), &want); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file format changed:\n got %v\nwant %v", got, want)
	}
	// And a hand-written file is read back.
	k2 := testKey("other.azurecr.io")
	writeFile(t, entryPath(c, k2), rawEntry(t, 1, k2, "tok2", exp))
	if e, ok := c.Get(ctx, k2); !ok || e.RefreshToken != "tok2" {
		t.Errorf("hand-written v1 file not read: %+v %v", e, ok)
	}
}

func TestBadFilesAreMissesAndReplaced(t *testing.T) {
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	other := testKey("myreg.azurecr.io")
	other.Identity = "cli"
	exp := t0.Add(time.Hour)
	valid := rawEntry(t, 1, k, secretToken, exp)

	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("\x00\x01 not json " + secretToken)},
		{"empty", nil},
		{"truncated", valid[:len(valid)/2]},
		{"truncated by one byte", valid[:len(valid)-1]},
		{"unknown future version", rawEntry(t, 2, k, secretToken, exp)},
		{"version missing", mutate(func(m map[string]any) { delete(m, "version") })},
		{"future version with another shape", []byte(`{"version":7,"entry":"` + secretToken + `"}`)},
		{"wrong kind", mutate(func(m map[string]any) { m["kind"] = "something_else" })},
		{"foreign key (another identity's file)", rawEntry(t, 1, other, secretToken, exp)},
		{"entry for another login server", mutate(func(m map[string]any) {
			m["entry"].(map[string]any)["login_server"] = "evil.azurecr.io"
		})},
		{"no refresh token", mutate(func(m map[string]any) { m["entry"].(map[string]any)["refresh_token"] = "" })},
		{"no expiry", mutate(func(m map[string]any) { delete(m["entry"].(map[string]any), "expires_at") })},
		{"a JSON array", []byte(`["` + secretToken + `"]`)},
		{"too large", append(valid[:len(valid)-1:len(valid)-1], []byte(strings.Repeat(" ", maxFileSize)+"}")...)},
		{"a directory", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := debugLogger()
			c := newTestCache(t, Options{Now: newClock(t0).Now, Logger: log})
			p := entryPath(c, k)
			if tt.name == "a directory" {
				if err := os.MkdirAll(p, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, p, tt.data)
			}
			if e, ok := c.Get(ctx, k); ok {
				t.Fatalf("Get returned %+v from a bad file", e)
			}
			if e, err := c.List(ctx); err != nil || len(e) != 0 {
				t.Errorf("List = %d entries, %v; want none", len(e), err)
			}
			if tt.name == "a directory" {
				return // nothing can replace a directory; Put reports it
			}
			if err := c.Put(ctx, k, testEntry(k.LoginServer, "fresh", exp)); err != nil {
				t.Fatalf("Put over a bad file: %v", err)
			}
			if e, ok := c.Get(ctx, k); !ok || e.RefreshToken != "fresh" {
				t.Errorf("after Put: Get = %+v, %v; want the fresh entry", e, ok)
			}
			assertNoSecret(t, "log", logs.String())
		})
	}
}

func TestFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	ctx := context.Background()
	// A permissive umask must not widen what we create.
	old := setUmask(0)
	defer setUmask(old)

	c := newTestCache(t, Options{Now: newClock(t0).Now})
	k := testKey("myreg.azurecr.io")
	unlock := mustLock(t, c, k)
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := c.PutNegative(ctx, "managed,cli", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path string
		want fs.FileMode
	}{
		{c.Dir(), 0o700 | fs.ModeDir},
		{entryPath(c, k), 0o600},
		{filepath.Join(c.Dir(), k.ID()+lockSuffix), 0o600},
		{filepath.Join(c.Dir(), negativePrefix+negativeID("managed,cli")+entrySuffix), 0o600},
	}
	for _, ch := range checks {
		fi, err := os.Stat(ch.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (fs.ModePerm | fs.ModeDir); got != ch.want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(ch.path), got, ch.want)
		}
	}
}

func TestSeparateEntriesPerKey(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{Now: newClock(t0).Now})
	base := testKey("myreg.azurecr.io")
	keys := map[string]token.CacheKey{"base": base}
	k := base
	k.Identity = "workload:client_id=2222"
	keys["identity"] = k
	k = base
	k.Tenant = "tenant-b"
	keys["tenant"] = k
	k = base
	k.Scope = token.ARMScope
	keys["scope"] = k
	k = base
	k.LoginServer = "other.azurecr.io"
	keys["registry"] = k
	for name, k := range keys {
		if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok-"+name, t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	for name, k := range keys {
		if e, ok := c.Get(ctx, k); !ok || e.RefreshToken != "tok-"+name {
			t.Errorf("%s: Get = %q, %v; want tok-%s", name, e.RefreshToken, ok, name)
		}
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{Now: newClock(t0).Now})
	a1 := testKey("a.azurecr.io")
	a2 := a1
	a2.Identity = "cli"
	b := testKey("b.azurecr.io")
	for _, k := range []token.CacheKey{a1, a2, b} {
		if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok-"+k.LoginServer, t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, "A.AzureCR.io"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, k := range []token.CacheKey{a1, a2} {
		if _, ok := c.Get(ctx, k); ok {
			t.Errorf("%s/%s survived Delete", k.LoginServer, k.Identity)
		}
	}
	if _, ok := c.Get(ctx, b); !ok {
		t.Error("Delete of a.azurecr.io removed b.azurecr.io's entry")
	}
	if err := c.Delete(ctx, "none.azurecr.io"); err != nil {
		t.Errorf("Delete with no entries: %v", err)
	}
	if err := c.Delete(ctx, "a.azurecr.io"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	c := newTestCache(t, Options{Now: clk.Now})
	if got, err := c.List(ctx); err != nil || got != nil {
		t.Fatalf("List of a missing dir = %v, %v", got, err)
	}
	put := func(server string, exp time.Time) {
		t.Helper()
		k := testKey(server)
		if err := c.Put(ctx, k, testEntry(server, "tok", exp)); err != nil {
			t.Fatal(err)
		}
	}
	put("c.azurecr.io", t0.Add(time.Hour))
	put("a.azurecr.io", t0.Add(2*time.Hour))
	put("short.azurecr.io", t0.Add(time.Minute))
	// A valid file under the wrong name is not listed.
	stray := testKey("stray.azurecr.io")
	writeFile(t, filepath.Join(c.Dir(), strings.Repeat("0", idLen)+entrySuffix), rawEntry(t, 1, stray, "tok", t0.Add(time.Hour)))
	writeFile(t, filepath.Join(c.Dir(), "README.json"), []byte(`{}`))

	clk.Set(t0.Add(30 * time.Minute))
	got, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, e := range got {
		servers = append(servers, e.LoginServer)
	}
	if want := []string{"a.azurecr.io", "c.azurecr.io"}; !slices.Equal(servers, want) {
		t.Errorf("List = %v, want %v", servers, want)
	}
}

func TestNegativeCache(t *testing.T) {
	ctx := context.Background()
	const set = "workload,managed,cli"
	tests := []struct {
		name  string
		until time.Duration // relative to t0
		maxTT time.Duration
		query string
		at    time.Duration
		want  bool
	}{
		{"in force", 30 * time.Second, 0, set, 0, true},
		{"in force just before until", 30 * time.Second, 0, set, 30*time.Second - time.Nanosecond, true},
		{"lapsed at until", 30 * time.Second, 0, set, 30 * time.Second, false},
		{"lapsed after until", 30 * time.Second, 0, set, time.Hour, false},
		{"another source set", 30 * time.Second, 0, "managed", 0, false},
		{"clamped to MaxNegativeTTL", time.Hour, 10 * time.Second, set, 11 * time.Second, false},
		{"within MaxNegativeTTL", time.Hour, 10 * time.Second, set, 9 * time.Second, true},
		{"clock went back", 30 * time.Second, 0, set, -time.Hour, false},
		{"until in the past records nothing", -time.Second, 0, set, -2 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			c := newTestCache(t, Options{Now: clk.Now, MaxNegativeTTL: tt.maxTT})
			if got := c.GetNegative(ctx, set); got {
				t.Fatal("negative record before any was written")
			}
			if err := c.PutNegative(ctx, set, t0.Add(tt.until)); err != nil {
				t.Fatal(err)
			}
			clk.Set(t0.Add(tt.at))
			if got := c.GetNegative(ctx, tt.query); got != tt.want {
				t.Errorf("GetNegative = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("cleared by a past until", func(t *testing.T) {
		clk := newClock(t0)
		c := newTestCache(t, Options{Now: clk.Now})
		if err := c.PutNegative(ctx, set, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := c.PutNegative(ctx, set, t0); err != nil {
			t.Fatal(err)
		}
		if c.GetNegative(ctx, set) {
			t.Error("record still in force after clearing")
		}
	})
	t.Run("corrupt file", func(t *testing.T) {
		c := newTestCache(t, Options{Now: newClock(t0).Now})
		writeFile(t, filepath.Join(c.Dir(), negativePrefix+negativeID(set)+entrySuffix), []byte(`{"version":1,"kind":"no_identity","until":`))
		if c.GetNegative(ctx, set) {
			t.Error("corrupt negative record honoured")
		}
	})
}

// unusableDirs returns cache directories that cannot be written, for
// whoever runs the tests (root ignores permission bits).
func unusableDirs(t *testing.T) map[string]string {
	dirs := map[string]string{}
	file := filepath.Join(t.TempDir(), "a-file")
	writeFile(t, file, []byte("x"))
	dirs["parent is a file"] = filepath.Join(file, "cache")
	dirs["path is a file"] = file
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		dirs["read-only parent"] = filepath.Join(ro, "cache")
		dirs["read-only dir"] = ro
	}
	dirs["no directory configured"] = ""
	return dirs
}

func TestUnusableDirMeansNoCache(t *testing.T) {
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	for name, dir := range unusableDirs(t) {
		t.Run(name, func(t *testing.T) {
			c := New(dir, Options{Now: newClock(t0).Now})
			err := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, t0.Add(time.Hour)))
			if err == nil {
				t.Fatal("Put succeeded in an unusable directory")
			}
			assertNoSecret(t, "Put error", err.Error())
			if !strings.Contains(err.Error(), "not cached") {
				t.Errorf("Put error does not say the consequence: %v", err)
			}
			if _, ok := c.Get(ctx, k); ok {
				t.Error("Get hit")
			}
			unlock, err := c.Lock(ctx, k)
			if err == nil {
				t.Error("Lock succeeded")
			}
			unlock() // must be a safe no-op
			if err := c.PutNegative(ctx, "managed", t0.Add(time.Minute)); err == nil {
				t.Error("PutNegative succeeded")
			}
			if c.GetNegative(ctx, "managed") {
				t.Error("GetNegative hit")
			}
			if got, err := c.List(ctx); err != nil || len(got) != 0 {
				t.Errorf("List = %v, %v; want nothing and no error", got, err)
			}
			if err := c.Delete(ctx, k.LoginServer); err != nil {
				t.Errorf("Delete: %v", err)
			}
		})
	}
}

func TestUnsafeDirIsNotUsed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix ownership and permission bits")
	}
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	tests := []struct {
		name     string
		mode     fs.FileMode
		uid      int // -1: leave as is
		wantUsed bool
	}{
		{"private", 0o700, -1, true},
		{"readable by others", 0o755, -1, true},
		{"group-writable", 0o770, -1, false},
		{"world-writable", 0o777, -1, false},
		{"world-writable with sticky bit", 0o777 | fs.ModeSticky, -1, false},
		{"owned by another user", 0o700, 65534, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.uid >= 0 && os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			log, logs := debugLogger()
			dir := filepath.Join(t.TempDir(), "cache")
			writeFile(t, filepath.Join(dir, k.ID()+entrySuffix), rawEntry(t, 1, k, secretToken, t0.Add(time.Hour)))
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.uid >= 0 {
				if err := os.Chown(dir, tt.uid, tt.uid); err != nil {
					t.Fatal(err)
				}
			}
			c := New(dir, Options{Now: newClock(t0).Now, Logger: log})
			_, hit := c.Get(ctx, k)
			putErr := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, t0.Add(time.Hour)))
			unlock, lockErr := c.Lock(ctx, k)
			unlock()
			listed, _ := c.List(ctx)
			_, hit2 := c.Get(ctx, k)

			if hit != tt.wantUsed || hit2 != tt.wantUsed || (putErr == nil) != tt.wantUsed ||
				(lockErr == nil) != tt.wantUsed || (len(listed) == 1) != tt.wantUsed {
				t.Fatalf("used = get %v/%v, put %v, lock %v, list %d; want used=%v", hit, hit2, putErr, lockErr, len(listed), tt.wantUsed)
			}
			warnings := strings.Count(logs.String(), "level=WARN")
			if tt.wantUsed {
				if warnings != 0 {
					t.Errorf("warnings for a usable dir: %s", logs)
				}
				return
			}
			var unsafe *errUnsafeDir
			if !errors.As(putErr, &unsafe) || !strings.Contains(putErr.Error(), "chmod 700") {
				t.Errorf("Put error = %v; want an unsafe-directory error with a remedy", putErr)
			}
			if warnings != 1 {
				t.Errorf("got %d warnings, want exactly 1:\n%s", warnings, logs)
			}
			assertNoSecret(t, "log", logs.String())
		})
	}
}

func TestReadsNeverCreateTheDirectory(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{})
	k := testKey("myreg.azurecr.io")
	c.Get(ctx, k)
	c.GetNegative(ctx, "managed")
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, k.LoginServer); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read created the directory (stat: %v)", err)
	}
	// Once a write creates it, reads see entries even though the first
	// read found nothing.
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(ctx, k); !ok {
		t.Error("Get missed after the directory was created")
	}
}

func TestPutRejects(t *testing.T) {
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		key  token.CacheKey
		e    token.Entry
	}{
		{"no expiry", ctx, k, testEntry(k.LoginServer, secretToken, time.Time{})},
		{"already expired", ctx, k, testEntry(k.LoginServer, secretToken, t0)},
		{"empty token", ctx, k, testEntry(k.LoginServer, "", t0.Add(time.Hour))},
		{"entry for another registry", ctx, k, testEntry("evil.azurecr.io", secretToken, t0.Add(time.Hour))},
		{"key without login server", ctx, token.CacheKey{}, testEntry("", secretToken, t0.Add(time.Hour))},
		{"too large", ctx, k, testEntry(k.LoginServer, strings.Repeat("x", maxFileSize), t0.Add(time.Hour))},
		{"cancelled", cancelled, k, testEntry(k.LoginServer, secretToken, t0.Add(time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, Options{Now: newClock(t0).Now})
			err := c.Put(tt.ctx, tt.key, tt.e)
			if err == nil {
				t.Fatal("Put accepted it")
			}
			assertNoSecret(t, "error", err.Error())
			if _, statErr := os.Stat(c.Dir()); !errors.Is(statErr, fs.ErrNotExist) {
				t.Error("a refused Put created the directory")
			}
		})
	}
	t.Run("fills in the login server", func(t *testing.T) {
		c := newTestCache(t, Options{Now: newClock(t0).Now})
		if err := c.Put(ctx, k, testEntry("", "tok", t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if e, ok := c.Get(ctx, k); !ok || e.LoginServer != k.LoginServer {
			t.Errorf("Get = %+v, %v", e, ok)
		}
	})
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	c := newTestCache(t, Options{Now: clk.Now})
	dir := c.Dir()
	old := time.Now().Add(-48 * time.Hour)

	expired := testKey("expired.azurecr.io")
	live := testKey("live.azurecr.io")
	future := testKey("future.azurecr.io")
	files := []struct {
		name     string
		data     []byte
		old      bool
		wantKept bool
	}{
		{expired.ID() + entrySuffix, rawEntry(t, 1, expired, "t", t0.Add(-time.Minute)), false, false},
		{expired.ID() + lockSuffix, nil, true, true},
		{live.ID() + entrySuffix, rawEntry(t, 1, live, "t", t0.Add(time.Hour)), true, true},
		{future.ID() + entrySuffix, rawEntry(t, 2, future, "t", t0.Add(-time.Hour)), true, true},
		{negativePrefix + negativeID("gone") + entrySuffix, []byte(`{"version":1,"kind":"no_identity","source_set":"gone","written_at":"2026-11-29T11:00:00Z","until":"2026-11-29T11:00:30Z"}`), false, false},
		{negativePrefix + negativeID("live") + entrySuffix, []byte(`{"version":1,"kind":"no_identity","source_set":"live","written_at":"2026-11-29T12:00:00Z","until":"2026-11-29T12:00:30Z"}`), false, true},
		{strings.Repeat("a", idLen) + entrySuffix + ".123.tmp", []byte("partial"), true, false},
		{strings.Repeat("b", idLen) + entrySuffix + ".456.tmp", []byte("in progress"), false, true},
		{strings.Repeat("c", idLen) + entrySuffix, []byte("corrupt, old"), true, false},
		{strings.Repeat("d", idLen) + entrySuffix, []byte("corrupt, recent"), false, true},
		{"notes.json", []byte("not ours"), true, true},
		{"x.json.1.tmp", []byte("not ours"), true, true},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		writeFile(t, p, f.data)
		if f.old {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	k := testKey("new.azurecr.io")
	if err := c.Put(ctx, k, testEntry(k.LoginServer, "tok", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if kept := err == nil; kept != f.wantKept {
			t.Errorf("%s: kept = %v, want %v", f.name, kept, f.wantKept)
		}
	}
	if _, ok := c.Get(ctx, k); !ok {
		t.Error("the entry just written was pruned")
	}
}

func TestDefaultDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	abs := func(p ...string) string { return filepath.Join(append([]string{string(filepath.Separator)}, p...)...) }
	tests := []struct {
		name    string
		goos    string
		getenv  func(string) string
		want    string
		wantErr string
	}{
		// The front end's own setting is credhelper's (TestCacheDir).
		{"a cache dir variable is not ours", "linux", env("DOCKER_CREDENTIAL_ACR_CACHE_DIR", abs("c", "acr"), "HOME", abs("h")), abs("h", ".cache", "docker-credential-acr"), ""},
		{"xdg", "linux", env("XDG_CACHE_HOME", abs("x"), "HOME", abs("h")), abs("x", "docker-credential-acr"), ""},
		{"relative xdg is ignored", "linux", env("XDG_CACHE_HOME", "x", "HOME", abs("h")), abs("h", ".cache", "docker-credential-acr"), ""},
		{"home", "linux", env("HOME", abs("h")), abs("h", ".cache", "docker-credential-acr"), ""},
		{"windows local app data", "windows", env("LocalAppData", abs("l"), "HOME", abs("h")), abs("l", "docker-credential-acr"), ""},
		{"LocalAppData ignored off Windows", "linux", env("LocalAppData", abs("l"), "HOME", abs("h")), abs("h", ".cache", "docker-credential-acr"), ""},
		{"no home", "linux", env(), "", "neither XDG_CACHE_HOME nor HOME"},
		{"relative home", "darwin", env("HOME", "."), "", "HOME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultDir(tt.goos, tt.getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNoDir) {
					t.Fatalf("err = %v, want ErrNoDir mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := DefaultDir(env("HOME", abs("h"))); err != nil {
		t.Errorf("DefaultDir: %v", err)
	}
}

// TestConcurrentPutGet has many goroutines replace and read one entry
// without any lock: every read must see one complete write.
func TestConcurrentPutGet(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Options{})
	k := testKey("myreg.azurecr.io")
	exp := time.Now().Add(time.Hour)
	tokens := map[string]bool{}
	for i := range 8 {
		// Long, distinct tokens make a torn read show up as a mismatch.
		tokens[strings.Repeat(string(rune('a'+i)), 3000)] = true
	}
	if err := c.Put(ctx, k, testEntry(k.LoginServer, strings.Repeat("a", 3000), exp)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			tok := strings.Repeat(string(rune('a'+w)), 3000)
			for range 50 {
				if err := c.Put(ctx, k, testEntry(k.LoginServer, tok, exp)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 8 {
		wg.Go(func() {
			for range 200 {
				e, ok := c.Get(ctx, k)
				if !ok {
					errs <- errors.New("a Get missed while the entry was being replaced")
					return
				}
				if !tokens[e.RefreshToken] {
					errs <- fmt.Errorf("torn read: token of %d bytes", len(e.RefreshToken))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLockExcludes(t *testing.T) {
	k := testKey("myreg.azurecr.io")
	dir := filepath.Join(t.TempDir(), "cache")
	// Two Cache values on one directory stand for two processes: they
	// share nothing but the lock file.
	caches := []*Cache{New(dir, Options{}), New(dir, Options{})}
	var inside, maxInside, entered int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for range 20 {
				unlock := mustLock(t, caches[g%2], k)
				mu.Lock()
				inside++
				entered++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				inside--
				mu.Unlock()
				unlock()
			}
		})
	}
	wg.Wait()
	if maxInside != 1 || entered != 16*20 {
		t.Errorf("max holders at once = %d (want 1), entries = %d (want %d)", maxInside, entered, 16*20)
	}
}

func TestLockWaitIsBounded(t *testing.T) {
	k := testKey("myreg.azurecr.io")
	other := testKey("other.azurecr.io")
	dir := filepath.Join(t.TempDir(), "cache")
	holder := New(dir, Options{})
	unlock := mustLock(t, holder, k)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	tests := []struct {
		name        string
		cache       *Cache
		ctx         context.Context
		wantTimeout bool
	}{
		{"LockWait elapses", New(dir, Options{LockWait: 20 * time.Millisecond}), context.Background(), true},
		{"ctx deadline shorter than LockWait", New(dir, Options{}), short, true},
		{"negative LockWait: one attempt", New(dir, Options{LockWait: -1}), context.Background(), true},
		{"same Cache, another goroutine", New(dir, Options{LockWait: 20 * time.Millisecond}), context.Background(), true},
		{"ctx cancelled", New(dir, Options{}), cancelled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cache
			if tt.name == "same Cache, another goroutine" {
				u := mustLock(t, c, other) // unrelated key: must not matter
				defer u()
				inner := mustLockInProcessOnly(t, c, k)
				defer inner()
			}
			un, err := c.Lock(tt.ctx, k)
			if err == nil {
				un()
				t.Fatal("Lock succeeded while another holder has it")
			}
			un()
			if got := errors.Is(err, ErrLockTimeout); got != tt.wantTimeout {
				t.Errorf("errors.Is(err, ErrLockTimeout) = %v, want %v (err: %v)", got, tt.wantTimeout, err)
			}
			// Package token cannot import this one: it recognises a
			// timeout as a deadline.
			if got := errors.Is(err, context.DeadlineExceeded); got != tt.wantTimeout {
				t.Errorf("errors.Is(err, context.DeadlineExceeded) = %v, want %v", got, tt.wantTimeout)
			}
		})
	}

	// Other keys are never blocked by it.
	u := mustLock(t, New(dir, Options{LockWait: -1}), other)
	u()

	unlock()
	unlock() // idempotent
	u = mustLock(t, New(dir, Options{LockWait: -1}), k)
	u()
}

// mustLockInProcessOnly takes only the in-process part of c's lock for k,
// so that the file lock's behaviour is not what the test observes.
func mustLockInProcessOnly(t *testing.T, c *Cache, k token.CacheKey) func() {
	t.Helper()
	release, err := c.lockInProcess(context.Background(), k.ID())
	if err != nil {
		t.Fatal(err)
	}
	return release
}

func TestLockMapDoesNotGrow(t *testing.T) {
	c := newTestCache(t, Options{})
	for i := range 50 {
		u := mustLock(t, c, testKey(fmt.Sprintf("r%d.azurecr.io", i)))
		u()
	}
	c.mu.Lock()
	n := len(c.keyLocks)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d per-key locks left after all were released", n)
	}
}

func TestErrorsAndLogsHoldNoSecret(t *testing.T) {
	ctx := context.Background()
	log, logs := debugLogger()
	c := newTestCache(t, Options{Logger: log, Now: newClock(t0).Now, LockWait: -1})
	k := testKey("myreg.azurecr.io")
	// A file holding the token but in a shape we reject: the reason is
	// logged, the content must not be.
	writeFile(t, entryPath(c, k), []byte(`{"version":1,"kind":"acr_refresh_token","entry":{"refresh_token":"`+secretToken+`"`))
	c.Get(ctx, k)
	writeFile(t, entryPath(c, k), []byte(secretToken))
	c.Get(ctx, k)
	var errs []error
	errs = append(errs, c.Put(ctx, k, testEntry(k.LoginServer, secretToken, t0)))
	u := mustLock(t, c, k)
	_, err := c.Lock(ctx, k)
	errs = append(errs, err)
	u()
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		assertNoSecret(t, "error", err.Error())
	}
	if !strings.Contains(logs.String(), "level=DEBUG") {
		t.Error("the rejected file was not logged at debug level")
	}
	assertNoSecret(t, "log", logs.String())
}
