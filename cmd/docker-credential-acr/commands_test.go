package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/filecache"
)

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range allCommands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr, env(t)); code != 0 {
				t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "Usage: ") || !strings.Contains(stdout.String(), c.name) {
				t.Errorf("%v printed %q, want the command's usage", args, stdout.String())
			}
		}
		if c.summary == "" || c.usage == "" {
			t.Errorf("command %q lacks a summary or usage", c.name)
		}
	}
	var stdout bytes.Buffer
	run([]string{"help"}, nil, &stdout, &bytes.Buffer{}, env(t))
	for _, c := range allCommands() {
		if !strings.Contains(stdout.String(), "\n  "+c.name+" ") {
			t.Errorf("help does not list %q", c.name)
		}
	}
}

func TestCompletionNamesEveryCommandAndFlag(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"completion", shell}, nil, &stdout, &stderr, env(t)); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			script := stdout.String()
			for _, c := range allCommands() {
				if !strings.Contains(script, c.name) {
					t.Errorf("no %q", c.name)
				}
				for _, w := range append(append([]string(nil), c.subcommands...), c.flags...) {
					if shell == "fish" {
						w = strings.TrimPrefix(w, "--")
					}
					if !strings.Contains(script, w) {
						t.Errorf("no %q of %q", w, c.name)
					}
				}
			}
			// The shell itself, where installed, must accept the script.
			if path, err := exec.LookPath(shell); err == nil {
				flag := "-n"
				if shell == "fish" {
					flag = "--no-execute"
				}
				cmd := exec.Command(path, flag)
				cmd.Stdin = strings.NewReader(script)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %s: %v\n%s", shell, flag, err, out)
				}
			}
		})
	}
	var stderr bytes.Buffer
	if code := run([]string{"completion", "tcsh"}, nil, &bytes.Buffer{}, &stderr, env(t)); code != 1 || !strings.Contains(stderr.String(), "bash, zsh or fish") {
		t.Fatalf("completion tcsh: exit %d, %q", code, stderr.String())
	}
}

func TestManPageNamesEveryCommand(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"help", "--man"}, nil, &stdout, &bytes.Buffer{}, env(t)); code != 0 {
		t.Fatalf("exit %d", code)
	}
	page := stdout.String()
	if !strings.HasPrefix(page, ".TH DOCKER-CREDENTIAL-ACR 1 ") {
		t.Fatalf("not a man page: %.80q", page)
	}
	for _, c := range allCommands() {
		if !strings.Contains(page, "\n.SS "+c.name+"\n") || !strings.Contains(page, ".B docker-credential-acr "+c.name+"\n") {
			t.Errorf("the man page has no section for %q", c.name)
		}
	}
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, ".") && !strings.HasPrefix(line, ".TH") && !strings.HasPrefix(line, ".SH") && !strings.HasPrefix(line, ".SS") &&
			!strings.HasPrefix(line, ".B") && line != ".br" && line != ".PP" && line != ".nf" && line != ".fi" {
			t.Errorf("stray roff request %q (text not escaped)", line)
		}
	}
}

func TestTokenArguments(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no registry", []string{"token"}, "want one registry"},
		{"two registries", []string{"token", "a.azurecr.io", "b.azurecr.io"}, "want one registry"},
		{"unknown flag", []string{"token", "--jsn", "a.azurecr.io"}, `unknown flag "--jsn"`},
		{"not ACR", []string{"token", "ghcr.io"}, "not an Azure Container Registry login server"},
		{"userinfo", []string{"token", "https://me:s3cr3t-planted@a.azurecr.io"}, "userinfo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, nil, &stdout, &stderr, env(t)); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if stdout.Len() != 0 || !strings.Contains(stderr.String(), "docker-credential-acr: token: ") || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("stdout %q, stderr %q; want nothing on stdout and %q on stderr", stdout.String(), stderr.String(), tt.want)
			}
			leak.AssertNoFragment(t, stderr.String(), "s3cr3t-planted", 5)
		})
	}
}

func TestCacheCommand(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.eyJwbGFudGVkIjoiY21kIn0.cGxhbnRlZC1jbWQtc2VjcmV0"
	e := env(t)
	dir := e("DOCKER_CREDENTIAL_ACR_CACHE_DIR")
	key := token.CacheKey{LoginServer: "myreg.azurecr.io", Identity: "managed", Scope: token.DefaultScope}
	if err := filecache.New(dir, filecache.Options{}).Put(context.Background(), key,
		token.Entry{LoginServer: key.LoginServer, Source: "managed", RefreshToken: secret, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cache", "list"}, 0, "myreg.azurecr.io  managed"},
		{[]string{"cache", "list", "--json"}, 0, `"registry": "myreg.azurecr.io"`},
		{[]string{"cache"}, 1, "want 'list' or 'clear'"},
		{[]string{"cache", "list", "extra"}, 1, "usage: cache list"},
		{[]string{"cache", "clear", "ghcr.io"}, 1, "not an Azure Container Registry login server"},
		{[]string{"cache", "clear", "other.azurecr.io"}, 0, "removed 0 cached tokens of other.azurecr.io"},
		{[]string{"cache", "clear", "myreg"}, 1, "not an Azure Container Registry login server"},
		{[]string{"cache", "clear", "myreg.azurecr.io"}, 0, "removed 1 cached token of myreg.azurecr.io"},
		{[]string{"cache", "list", "--json"}, 0, "[]"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, nil, &stdout, &stderr, e)
		if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.want)
		}
		if code == 0 && strings.HasSuffix(tt.args[len(tt.args)-1], "--json") {
			var v []map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
				t.Errorf("%v printed %q: %v", tt.args, stdout.String(), err)
			}
		}
		leak.AssertNoFragment(t, stdout.String()+stderr.String(), secret, 12)
	}
}
