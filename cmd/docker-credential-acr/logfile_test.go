package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
)

func TestLogFile(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.eyJwbGFudGVkIjoibG9nIn0.bG9nLWZpbGUtcGxhbnRlZC1zZWNyZXQ"
	for _, tt := range []struct {
		name, level string
		logged      bool
	}{
		{"warn logs a warning", "", true},
		{"error level skips a warning", "error", false},
		{"debug", "debug", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "helper.log")
			var stderr bytes.Buffer
			logger, closeLog, err := commandLogger(&stderr, env(t, "DOCKER_CREDENTIAL_ACR_LOG", tt.level, envLogFile, path))
			if err != nil {
				t.Fatal(err)
			}
			logger.Debug("nothing at warn")
			if _, err := os.Stat(path); !os.IsNotExist(err) && tt.level != "debug" {
				t.Fatalf("the log file exists before anything was logged at the level: %v", err)
			}
			logger.Warn("exchange failed", "error", "server said "+secret, "request_id", "abc-123")
			closeLog()
			data, err := os.ReadFile(path)
			if !tt.logged {
				if err == nil {
					t.Fatalf("log file written below its level: %q", data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("log file mode %v, want 0600", fi.Mode().Perm())
			}
			for _, out := range []string{string(data), stderr.String()} {
				if !strings.Contains(out, "exchange failed") || !strings.Contains(out, "request_id=abc-123") {
					t.Errorf("log lacks the record: %q", out)
				}
				leak.AssertNoFragment(t, out, secret, 12)
			}
		})
	}
}

func TestLogFileRotatesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helper.log")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &rotatingFile{path: path, max: 100, stderr: &bytes.Buffer{}}
	line := []byte(strings.Repeat("x", 39) + "\n")
	for i := 0; i < 10; i++ {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	f.close()
	for _, p := range []string{path, path + ".1"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 100 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %d bytes, mode %v; want at most 100 and 0600", p, fi.Size(), fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("a second rotation was kept")
	}
}

func TestLogFileUnwritable(t *testing.T) {
	var stderr bytes.Buffer
	logger, closeLog, _ := commandLogger(&stderr, env(t, envLogFile, "/nonexistent/dir/helper.log"))
	defer closeLog()
	logger.Warn("one")
	logger.Warn("two")
	if n := strings.Count(stderr.String(), "cannot be written"); n != 1 {
		t.Fatalf("stderr %q: want one notice that the file cannot be written", stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=two") {
		t.Fatalf("stderr lost the log: %q", stderr.String())
	}
}
