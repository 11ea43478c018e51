//go:build linux

package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	acrconfig "github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
)

// The file the benchmark writes must be one the helper accepts, and must
// select the entry the benchmark expects: otherwise the config case would
// time an error path or another identity.
func TestBenchConfigIsAcceptedAndSelectsTheExactEntry(t *testing.T) {
	const tenant = "72f988bf-0000-4000-8000-00000000d0c5"
	f, err := writeConfig(t.TempDir(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := acrconfig.Load(f.path)
	if err != nil {
		t.Fatalf("the helper refuses the benchmark's config file: %v", err)
	}
	if !cfg.Loaded() {
		t.Fatalf("acrconfig.Load(%s) found no file", f.path)
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		host                           string
		wantMatch, wantClient, wantSrc string
	}{
		{registry, registry, benchClientID, "managed"},
		{"prodreg.azurecr.io", "prodreg.azurecr.io", "11111111-1111-1111-1111-111111111111", "managed"},
		{"another.azurecr.io", "*.azurecr.io", "33333333-3333-3333-3333-333333333333", "workload"},
	}
	for _, tt := range tests {
		s, err := cfg.Resolve(tt.host, noEnv)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tt.host, err)
		}
		if s.Match != tt.wantMatch || s.ClientID != tt.wantClient || !slices.Equal(s.Sources, []string{tt.wantSrc}) || s.TenantID != tenant {
			t.Errorf("Resolve(%s) = match %q, client %q, sources %v, tenant %q; want %q, %q, [%s], %q",
				tt.host, s.Match, s.ClientID, s.Sources, s.TenantID, tt.wantMatch, tt.wantClient, tt.wantSrc, tenant)
		}
	}
	if len(cfg.CloudSuffixes()) != 1 {
		t.Errorf("custom clouds = %v, want the one in the file", cfg.CloudSuffixes())
	}
}

func TestCheckPrivateRefusesWhatTheHelperMayRefuse(t *testing.T) {
	tests := []struct {
		name             string
		fileMode, dirMod os.FileMode
		want             string
	}{
		{"private", 0o600, 0o700, ""},
		{"group-writable file", 0o620, 0o700, "group or others may write"},
		{"readable by others", 0o644, 0o700, "want 0600"},
		{"group-writable directory", 0o600, 0o770, "group or others may write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := dir + "/config.yaml"
			if err := os.WriteFile(file, []byte("default: {}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMod); err != nil {
				t.Fatal(err)
			}
			err := checkPrivate(file, dir)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkPrivate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkPrivate = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestSetEnv(t *testing.T) {
	env := []string{"HOME=/a", "DOCKER_CREDENTIAL_ACR_SOURCES=managed", "HOMEDIR=/x"}
	tests := []struct {
		key, value string
		want       []string
	}{
		{"HOME", "/b", []string{"DOCKER_CREDENTIAL_ACR_SOURCES=managed", "HOMEDIR=/x", "HOME=/b"}},
		{"DOCKER_CREDENTIAL_ACR_SOURCES", "", []string{"HOME=/a", "HOMEDIR=/x"}},
		{"NEW", "1", []string{"HOME=/a", "DOCKER_CREDENTIAL_ACR_SOURCES=managed", "HOMEDIR=/x", "NEW=1"}},
	}
	for _, tt := range tests {
		if got := setEnv(env, tt.key, tt.value); !slices.Equal(got, tt.want) {
			t.Errorf("setEnv(%s, %q) = %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
	if env[0] != "HOME=/a" || len(env) != 3 {
		t.Errorf("setEnv changed its input: %q", env)
	}
}
