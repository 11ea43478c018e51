package filecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// FuzzDecode: whatever a cache file holds, decoding gives a complete
// entry or negative record, or one of the fixed errors (which quote
// nothing of the file) and no value; what decodes writes out and reads
// back the same; and Get hands out only an unexpired entry of the key
// asked for, logging nothing of the file's token.
func FuzzDecode(f *testing.F) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	k := testKey("myreg.azurecr.io")
	f.Add(rawEntry(f, formatVersion, k, "SECRET-REFRESH-TOKEN", now.Add(time.Hour)))
	f.Add(rawEntry(f, formatVersion, k, "SECRET-REFRESH-TOKEN", now.Add(-time.Hour)))
	f.Add(rawEntry(f, 2, k, "SECRET-REFRESH-TOKEN", now.Add(time.Hour)))
	f.Add(rawEntry(f, formatVersion, testKey("other.azurecr.io"), "SECRET-REFRESH-TOKEN", now.Add(time.Hour)))
	neg, _ := json.Marshal(negativeFile{Version: formatVersion, Kind: kindNegative, SourceSet: "managed,cli", WrittenAt: now, Until: now.Add(time.Minute)})
	f.Add(neg)
	f.Add([]byte(`{"version":1,"kind":"acr_refresh_token","entry":{"refresh_token":"SECRET-REFRESH-TOKEN","expires_at":"2026-12-01T13:00:00+01:00"}}`))
	f.Add([]byte(`{"version":"1"}`))
	f.Add([]byte(`{"version":1,"kind":"no_identity","until":"9999-12-31T23:59:59-23:59","written_at":"0000-01-01T00:00:00+23:59"}`))
	f.Add([]byte("\x00\xff{"))
	f.Add([]byte{})

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		checkDecoded(t, "entry", e, err, func(b []byte) (any, error) { return decodeEntry(b) })
		n, nerr := decodeNegative(data)
		checkDecoded(t, "negative record", n, nerr, func(b []byte) (any, error) { return decodeNegative(b) })

		// Through the file and Get.
		logger, logs := debugLogger() // New does no I/O: a fresh log per input
		c := New(dir, Options{Logger: logger, Now: func() time.Time { return now }})
		path := entryPath(c, k)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, ok := c.Get(context.Background(), k)
		if ok {
			if err != nil || e.Key != keyOf(k) || !reflect.DeepEqual(got, e.Entry) {
				t.Fatalf("Get = %+v from a file that decodes as %+v, %v", got, e, err)
			}
			if got.RefreshToken == "" || !got.ExpiresAt.After(now) || !strings.EqualFold(got.LoginServer, k.LoginServer) {
				t.Fatalf("Get handed out %+v", got)
			}
		} else if got != (token.Entry{}) {
			t.Fatalf("Get = %+v with ok=false", got)
		}
		var lenient struct {
			Entry struct {
				RefreshToken string `json:"refresh_token"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(data, &lenient)
		if tok := lenient.Entry.RefreshToken; len(tok) >= 8 && !strings.Contains(path, tok) && strings.Contains(logs.String(), tok) {
			t.Fatalf("the log repeats the file's token: %s", logs.String())
		}
	})
}

// checkDecoded checks one decode result: a value or an error, never both;
// only the fixed errors; and a value that survives writing out and
// reading back.
func checkDecoded[T comparable](t *testing.T, what string, v T, err error, decode func([]byte) (any, error)) {
	t.Helper()
	var zero T
	if err != nil {
		if v != zero {
			t.Fatalf("%s %+v returned with error %v", what, v, err)
		}
		if !errors.Is(err, errCorrupt) && !errors.Is(err, errVersion) {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("decoded %s %+v cannot be written back: %v", what, v, err)
	}
	again, err := decode(out)
	if err != nil {
		t.Fatalf("decoded %s, written back as %s, does not decode: %v", what, out, err)
	}
	out2, _ := json.Marshal(again)
	if !bytes.Equal(out, out2) {
		t.Fatalf("%s does not round-trip:\n%s\n%s", what, out, out2)
	}
}
