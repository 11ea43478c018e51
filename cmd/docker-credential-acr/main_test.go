package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/identity"
)

// env is a fixed environment: tests never see the machine's own Azure
// variables, and the cache goes to a temporary directory.
func env(t *testing.T, kv ...string) func(string) string {
	m := map[string]string{"DOCKER_CREDENTIAL_ACR_CACHE_DIR": t.TempDir(), "DOCKER_CREDENTIAL_ACR_CONFIG": "/nonexistent/config.yaml", "PATH": "/nonexistent"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestBadInputFailsClearly(t *testing.T) {
	tests := []struct {
		name   string
		action string
		in     io.Reader
		want   string
	}{
		{"empty stdin", "get", strings.NewReader(""), "no registry host on standard input"},
		{"whitespace only", "get", strings.NewReader(" \n\t\n"), "no registry host on standard input"},
		{"one MiB", "get", strings.NewReader(strings.Repeat("a", 1<<20)), "longer than 64 KiB"},
		{"NUL byte", "get", strings.NewReader("myreg.azurecr.io\x00evil"), "NUL byte"},
		{"invalid UTF-8", "get", strings.NewReader("myreg.\xff\xfe.azurecr.io"), "not valid UTF-8"},
		{"erase empty", "erase", strings.NewReader(""), "no registry host on standard input"},
		{"store garbage", "store", strings.NewReader("{not json"), "invalid character"},
		{"unknown command", "frobnicate", strings.NewReader(""), "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{tt.action}, tt.in, &stdout, &stderr, env(t))
			if code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			if !strings.Contains(stdout.String(), tt.want) {
				t.Fatalf("stdout = %q, want it to contain %q", stdout.String(), tt.want)
			}
		})
	}
}

// TestInputOfSeveralLines: the protocol library would join the lines into
// one host; readInput refuses them first (tested directly: through run, a
// regression would go on to the identity sources).
func TestInputOfSeveralLines(t *testing.T) {
	for _, in := range []string{"myreg\n.azurecr.io", "myreg.azurecr.io\r\nevil.com", "a\rb"} {
		for _, action := range []string{"get", "erase"} {
			if _, err := readInput(strings.NewReader(in), action); err == nil || !strings.Contains(err.Error(), "more than one line") {
				t.Errorf("%s %q: %v", action, in, err)
			}
		}
	}
	for _, in := range []string{"myreg.azurecr.io\n", "\r\n myreg.azurecr.io \r\n"} {
		if _, err := readInput(strings.NewReader(in), "get"); err != nil {
			t.Errorf("get %q: %v", in, err)
		}
	}
}

func TestNotOursIsNotFound(t *testing.T) {
	for _, host := range []string{"docker.io", "myreg.azurecr.io.evil.com", "ghcr.io", "127.0.0.1:5000"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"get"}, strings.NewReader(host), &stdout, &stderr, env(t, "DOCKER_CREDENTIAL_ACR_LOG", "debug"))
		if code != 1 || strings.TrimSpace(stdout.String()) != "credentials not found in native keychain" {
			t.Errorf("%s: exit %d, stdout %q", host, code, stdout.String())
		}
	}
}

func TestStoreRefusesUnlessIgnored(t *testing.T) {
	creds := `{"ServerURL":"myreg.azurecr.io","Username":"u","Secret":"s3cret-value"}`
	var stdout, stderr bytes.Buffer
	if code := run([]string{"store"}, strings.NewReader(creds), &stdout, &stderr, env(t)); code != 1 {
		t.Fatalf("store exit %d, want 1", code)
	}
	if !strings.Contains(stdout.String(), "does not store credentials") || strings.Contains(stdout.String()+stderr.String(), "s3cret-value") {
		t.Fatalf("store output: %q / %q", stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"store"}, strings.NewReader(creds), &stdout, &stderr, env(t, "DOCKER_CREDENTIAL_ACR_IGNORE_STORE", "1")); code != 0 || stdout.Len() != 0 {
		t.Fatalf("ignored store: exit %d, stdout %q", code, stdout.String())
	}
}

func TestEraseAndListWithEmptyCache(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"erase"}, strings.NewReader("myreg.azurecr.io"), &stdout, &stderr, env(t)); code != 0 {
		t.Fatalf("erase with nothing cached: exit %d, %q", code, stdout.String())
	}
	if code := run([]string{"list"}, strings.NewReader(""), &stdout, &stderr, env(t)); code != 0 || strings.TrimSpace(stdout.String()) != "{}" {
		t.Fatalf("list: exit %d, %q", code, stdout.String())
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		var stdout bytes.Buffer
		if code := run([]string{arg}, nil, &stdout, io.Discard, env(t)); code != 0 || !strings.HasPrefix(stdout.String(), "docker-credential-acr ") {
			t.Errorf("%s: exit %d, %q", arg, code, stdout.String())
		}
	}
	for _, arg := range []string{"help", "--help", "-h"} {
		var stdout bytes.Buffer
		if code := run([]string{arg}, nil, &stdout, io.Discard, env(t)); code != 0 || !strings.Contains(stdout.String(), "DOCKER_CREDENTIAL_ACR_SOURCES") {
			t.Errorf("%s: exit %d", arg, code)
		}
		// The default order comes from the source table itself.
		if want := "(default: env,workload,github,pipelines,managed,cli,azd)\n"; !strings.Contains(stdout.String(), want) ||
			!strings.Contains(stdout.String(), "(default: "+strings.Join(identity.Names(), ",")+")") {
			t.Errorf("%s: the help does not give the automatic order %q", arg, want)
		}
	}
	var stderr bytes.Buffer
	if code := run(nil, nil, io.Discard, &stderr, env(t)); code != 1 || !strings.Contains(stderr.String(), "Usage") {
		t.Errorf("no arguments: exit %d, %q", code, stderr.String())
	}
}

// TestCacheRemediesNameTheVariable: the command-line helper's cache says to
// set DOCKER_CREDENTIAL_ACR_CACHE_DIR when another directory would help
// (token/filecache itself names no variable).
func TestCacheRemediesNameTheVariable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	var logs bytes.Buffer
	c := newCache(env(t, "DOCKER_CREDENTIAL_ACR_CACHE_DIR", dir), slog.New(slog.NewTextHandler(&logs, nil)), "")
	k := token.CacheKey{LoginServer: "myreg.azurecr.io", Identity: "cli"}
	err := c.Put(context.Background(), k, token.Entry{LoginServer: k.LoginServer, RefreshToken: "rt", ExpiresAt: time.Now().Add(time.Hour)})
	const want = "set DOCKER_CREDENTIAL_ACR_CACHE_DIR to a directory only you can write"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(logs.String(), want) {
		t.Fatalf("Put error = %v, warning %q; want both to say %q", err, logs.String(), want)
	}
}
