package config

import (
	"slices"
	"strings"
	"testing"
)

func TestMirrors(t *testing.T) {
	c, err := Parse([]byte("mirrors:\n  - upstream: MCR.microsoft.com\n    registry: https://MyReg.azurecr.io\n  - upstream: registry.k8s.io:443\n    registry: other.azurecr.io\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mirror{{Upstream: "mcr.microsoft.com", Registry: "myreg.azurecr.io"}, {Upstream: "registry.k8s.io:443", Registry: "other.azurecr.io"}}
	if got := c.Mirrors(); !slices.Equal(got, want) {
		t.Fatalf("Mirrors = %+v, want %+v", got, want)
	}
	if m, ok := c.MirrorFor("mcr.Microsoft.com"); !ok || m.Registry != "myreg.azurecr.io" {
		t.Fatalf("MirrorFor(mcr.Microsoft.com) = %+v, %v", m, ok)
	}
	for _, host := range []string{"registry.k8s.io", "mcr.microsoft.com:443", "myreg.azurecr.io", "docker.io"} {
		if _, ok := c.MirrorFor(host); ok {
			t.Errorf("MirrorFor(%q) found a mirror; only the exact upstream host has one", host)
		}
	}
	var none *Config
	if _, ok := none.MirrorFor("mcr.microsoft.com"); ok || none.Mirrors() != nil {
		t.Fatal("an empty config has mirrors")
	}
}

func TestMirrorsRejected(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"registry not ACR", "mirrors:\n  - upstream: mcr.microsoft.com\n    registry: ghcr.io\n", `line 3: registry: "ghcr.io" is not an ACR login server`},
		{"registry a data endpoint", "mirrors:\n  - upstream: mcr.microsoft.com\n    registry: myreg.westeurope.data.azurecr.io\n", `registry: "myreg.westeurope.data.azurecr.io" is not an ACR login server`},
		{"upstream an ACR", "mirrors:\n  - upstream: myreg.azurecr.io\n    registry: other.azurecr.io\n", `line 2: upstream: "myreg.azurecr.io" is an ACR login server itself`},
		{"upstream an IP", "mirrors:\n  - upstream: 10.0.0.1\n    registry: myreg.azurecr.io\n", "is an IP address"},
		{"upstream with a path", "mirrors:\n  - upstream: mcr.microsoft.com/dotnet\n    registry: myreg.azurecr.io\n", "is not a registry host name"},
		{"upstream with a bad port", "mirrors:\n  - upstream: mcr.microsoft.com:0443x\n    registry: myreg.azurecr.io\n", "port that is not a number"},
		{"single label", "mirrors:\n  - upstream: localhost:5000\n    registry: myreg.azurecr.io\n", "is not a registry host name"},
		{"missing registry", "mirrors:\n  - upstream: mcr.microsoft.com\n", "mirror entry 1 needs both upstream"},
		{"repeated upstream", "mirrors:\n  - upstream: mcr.microsoft.com\n    registry: myreg.azurecr.io\n  - upstream: mcr.microsoft.com\n    registry: other.azurecr.io\n", `line 4: upstream: "mcr.microsoft.com" repeats the mirror at line 2`},
		{"unknown key", "mirrors:\n  - upstream: mcr.microsoft.com\n    mirror: myreg.azurecr.io\n", `unknown key "mirror" in a mirror entry`},
		{"not a list", "mirrors:\n  upstream: mcr.microsoft.com\n", "a list of mirrors"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
