package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeDist lays out what goreleaser leaves in dist/ for two linux builds
// (and a darwin one that must not be picked up).
func fakeDist(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dist := filepath.Join(root, "dist")
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("dist/metadata.json", `{"project_name":"docker-credential-acr","version":"1.2.3-devel+abc1234","commit":"abc1234def"}`)
	arts := []artifact{
		{Name: "docker-credential-acr", Path: "dist/a_linux_amd64_v1/docker-credential-acr", GOOS: "linux", GOARCH: "amd64", Type: "Binary"},
		{Name: "docker-credential-acr", Path: "dist/a_linux_arm64_v8.0/docker-credential-acr", GOOS: "linux", GOARCH: "arm64", Type: "Binary"},
		{Name: "docker-credential-acr", Path: "dist/a_darwin_arm64_v8.0/docker-credential-acr", GOOS: "darwin", GOARCH: "arm64", Type: "Binary"},
		{Name: "x.tar.gz", Path: "dist/x_linux_amd64.tar.gz", GOOS: "linux", GOARCH: "amd64", Type: "Archive"},
	}
	j, err := json.Marshal(arts)
	if err != nil {
		t.Fatal(err)
	}
	write("dist/artifacts.json", string(j))
	write("dist/a_linux_amd64_v1/docker-credential-acr", "amd64 binary")
	write("dist/a_linux_arm64_v8.0/docker-credential-acr", "arm64 binary")
	write("dist/a_darwin_arm64_v8.0/docker-credential-acr", "darwin binary")
	write("certs.pem", "the CA bundle")
	return dist
}

func TestImageLayout(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dist := fakeDist(t)
	certs := filepath.Join(filepath.Dir(dist), "certs.pem")
	out := filepath.Join(dist, "image")
	if err := run(dist, out, certs, []string{"linux/amd64", "linux/arm64"}); err != nil {
		t.Fatal(err)
	}

	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// One entry, named by its tag (a '+' is not allowed in a tag).
	if len(topm.Manifests) != 1 || topm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "1.2.3-devel-abc1234" {
		t.Fatalf("index.json = %+v, want one entry named 1.2.3-devel-abc1234", topm.Manifests)
	}
	idx, err := top.ImageIndex(topm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("the index does not validate: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"linux/amd64": "amd64 binary", "linux/arm64": "arm64 binary"}
	if len(im.Manifests) != len(want) {
		t.Fatalf("%d images, want %d: %+v", len(im.Manifests), len(want), im.Manifests)
	}
	for _, d := range im.Manifests {
		plat := d.Platform.OS + "/" + d.Platform.Architecture
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS+"/"+cf.Architecture != plat {
			t.Errorf("%s: config says %s/%s", plat, cf.OS, cf.Architecture)
		}
		if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/docker-credential-acr" || cf.Config.User != "65532:65532" {
			t.Errorf("%s: entrypoint %q, user %q", plat, cf.Config.Entrypoint, cf.Config.User)
		}
		if !cf.Created.Time.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: created %v, want SOURCE_DATE_EPOCH", plat, cf.Created)
		}
		files := filesOf(t, img)
		if files["docker-credential-acr"] != want[plat] {
			t.Errorf("%s: /docker-credential-acr holds %q, want %q", plat, files["docker-credential-acr"], want[plat])
		}
		if files["etc/ssl/certs/ca-certificates.crt"] != "the CA bundle" {
			t.Errorf("%s: no CA bundle at /etc/ssl/certs/ca-certificates.crt: %v", plat, files)
		}
	}
}

// The same input gives the same bytes: a second run over the first
// replaces it (no second image appended) with the same digest.
func TestImageIsReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dist := fakeDist(t)
	certs := filepath.Join(filepath.Dir(dist), "certs.pem")
	out := filepath.Join(dist, "image")
	read := func() string {
		if err := run(dist, out, certs, []string{"linux/amd64", "linux/arm64"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := read(), read(); a != b {
		t.Errorf("index.json differs between two runs:\n%s\n%s", a, b)
	}
}

func TestImageErrorsSayWhatToDo(t *testing.T) {
	dist := fakeDist(t)
	certs := filepath.Join(filepath.Dir(dist), "certs.pem")
	tests := []struct {
		name, epoch, dist, certs string
		platforms                []string
		want                     string
	}{
		{"no epoch", "", dist, certs, []string{"linux/amd64"}, "SOURCE_DATE_EPOCH=$(git log"},
		{"bad epoch", "yesterday", dist, certs, []string{"linux/amd64"}, "not a number"},
		{"no release", "1", t.TempDir(), certs, []string{"linux/amd64"}, "make release"},
		{"platform not built", "1", dist, certs, []string{"linux/s390x"}, "lists 0 binaries"},
		{"platform malformed", "1", dist, certs, []string{"linux"}, "want OS/ARCH"},
		{"no CA bundle", "1", dist, filepath.Join(t.TempDir(), "none"), []string{"linux/amd64"}, "ca-certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			err := run(tt.dist, filepath.Join(t.TempDir(), "image"), tt.certs, tt.platforms)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// filesOf flattens an image's layers into path → content.
func filesOf(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Uid != 0 || h.Gid != 0 {
				t.Errorf("%s owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
			}
			var b bytes.Buffer
			if _, err := io.Copy(&b, tr); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				files[h.Name] = b.String()
			}
		}
		rc.Close()
	}
	return files
}
