package harness

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Client names the real registry clients the harness drives, and how each
// is installed where it is missing.
type Client struct {
	Name    string // command name
	Install string // what installs it
}

// Clients are the external clients; crane is built from go.mod.
func Clients() []Client {
	return []Client{
		{"docker-registry", "apt-get install docker-registry"},
		{"skopeo", "apt-get install skopeo"},
		{"podman", "apt-get install podman"},
		{"buildah", "apt-get install buildah"},
		{"docker", "the docker CLI (apt-get install docker-cli or docker.io)"},
		{"dockerd", "the docker daemon (apt-get install docker.io; make deps-e2e installs it without starting it)"},
		{"ip", "apt-get install iproute2"},
	}
}

// MissingClients lists the clients not on PATH, each with its install hint.
func MissingClients() []string {
	var out []string
	for _, c := range Clients() {
		if c.Name == "docker-registry" {
			if _, err := exec.LookPath("docker-registry"); err != nil {
				if _, err := exec.LookPath("registry"); err != nil {
					out = append(out, c.Name+" ("+c.Install+")")
				}
			}
			continue
		}
		if _, err := exec.LookPath(c.Name); err != nil {
			out = append(out, c.Name+" ("+c.Install+")")
		}
	}
	return out
}

// BuildCrane builds crane, the go tool pinned in go.mod, into dir, from
// the module that contains the working directory.
func BuildCrane(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "crane")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/google/go-containerregistry/cmd/crane")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build crane (the go tool in go.mod): %v: %s", err, b)
	}
	return out, nil
}

// WriteLayer writes a small uncompressed layer tarball holding
// /hello.txt with text.
func WriteLayer(path, text string) error {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := []byte(text)
	hdr := &tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// FindHelper returns the helper binary: $E2E_HELPER, else bin/ at the
// repository root found from the working directory.
func FindHelper() (string, error) {
	if p := os.Getenv("E2E_HELPER"); p != "" {
		return filepath.Abs(p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "docker-credential-acr")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the helper is not built at %s: run `make build` first (make test-e2e does)", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory: cannot find bin/docker-credential-acr; set E2E_HELPER")
		}
		dir = parent
	}
}

// Lines indents text for messages.
func Lines(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
