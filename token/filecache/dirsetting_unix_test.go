//go:build unix

package filecache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDirSettingInRemedies: the errors another directory would fix name
// the front end's setting when it gave one, and no setting otherwise.
func TestDirSettingInRemedies(t *testing.T) {
	ctx := context.Background()
	k := testKey("myreg.azurecr.io")
	for _, tt := range []struct {
		setting          string
		unsafe, notDir   string
		mustNotMentionOf string
	}{
		{"MY_CACHE_DIR", "or set MY_CACHE_DIR to a directory only you can write", "remove it or set MY_CACHE_DIR to another path", ""},
		{"", "or use a directory only you can write", "remove it or use another path", "set "},
	} {
		unsafeDir := filepath.Join(t.TempDir(), "cache")
		if err := os.MkdirAll(unsafeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(unsafeDir, 0o777); err != nil {
			t.Fatal(err)
		}
		notDir := filepath.Join(t.TempDir(), "file")
		writeFile(t, notDir, []byte("x"))
		for dir, want := range map[string]string{unsafeDir: tt.unsafe, notDir: tt.notDir} {
			c := New(dir, Options{DirSetting: tt.setting})
			err := c.Put(ctx, k, testEntry(k.LoginServer, secretToken, time.Now().Add(time.Hour)))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("DirSetting %q, dir %s: Put error = %v, want it to say %q", tt.setting, dir, err, want)
			}
			if tt.mustNotMentionOf != "" && err != nil && strings.Contains(err.Error(), tt.mustNotMentionOf) {
				t.Errorf("without a DirSetting the error names a setting: %v", err)
			}
		}
	}
}
