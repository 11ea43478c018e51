package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image. The binary sits at the root, where the
// README's DaemonSet copies it from; the CA bundle where Go's crypto/x509
// looks first on Linux, so TLS to Entra and ACR works with no variable set.
const (
	binaryPath   = "docker-credential-acr"
	caBundlePath = "etc/ssl/certs/ca-certificates.crt"
	// The conventional unprivileged user of distroless images: nothing in
	// the image needs root, and the kubelet mode never runs in it.
	imageUser = "65532:65532"
)

type platformBinary struct {
	OS, Arch string
	Binary   []byte
}

type imageSpec struct {
	Name, Version, Commit string
	Created               time.Time
	CABundle              []byte
	Binaries              []platformBinary
}

// tag is the image's tag for a goreleaser version: a tag may not hold the
// '+' of semver build metadata, so it becomes '-' (0.0.1-devel+abc →
// 0.0.1-devel-abc).
func tag(version string) string {
	return strings.ReplaceAll(version, "+", "-")
}

// writeLayout writes one image per platform, an index over them, and the
// layout's index.json naming it by its tag (org.opencontainers.image.ref.name,
// which skopeo's oci:DIR:TAG and oras' --from-oci-layout DIR:TAG read;
// crane push DIR takes the layout's one entry). ref is NAME:TAG.
func writeLayout(dir string, spec imageSpec) (ref string, digest v1.Hash, err error) {
	if len(spec.Binaries) == 0 {
		return "", v1.Hash{}, fmt.Errorf("no binaries to put in the image")
	}
	certs, err := layerOf(spec.Created, file{caBundlePath, 0o644, spec.CABundle})
	if err != nil {
		return "", v1.Hash{}, err
	}
	annotations := map[string]string{
		"org.opencontainers.image.title":    spec.Name,
		"org.opencontainers.image.version":  spec.Version,
		"org.opencontainers.image.revision": spec.Commit,
		"org.opencontainers.image.created":  spec.Created.Format(time.RFC3339),
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pb := range spec.Binaries {
		img, err := platformImage(spec, pb, certs)
		if err != nil {
			return "", v1.Hash{}, fmt.Errorf("%s/%s: %w", pb.OS, pb.Arch, err)
		}
		img = mutate.Annotations(img, annotations).(v1.Image)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: pb.OS, Architecture: pb.Arch}},
		})
	}
	idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)

	// layout.Write appends to an existing layout; a rerun must give the
	// same directory, not one with two images.
	if err := os.RemoveAll(dir); err != nil {
		return "", v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("writing the layout %s: %w", dir, err)
	}
	ref = spec.Name + ":" + tag(spec.Version)
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag(spec.Version)})); err != nil {
		return "", v1.Hash{}, fmt.Errorf("writing the image to %s: %w", dir, err)
	}
	digest, err = idx.Digest()
	return ref, digest, err
}

func platformImage(spec imageSpec, pb platformBinary, certs v1.Layer) (v1.Image, error) {
	bin, err := layerOf(spec.Created, file{binaryPath, 0o755, pb.Binary})
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	created := v1.Time{Time: spec.Created}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: certs, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "ociimage: CA bundle of the build machine at /" + caBundlePath}},
		mutate.Addendum{Layer: bin, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "ociimage: static docker-credential-acr at /" + binaryPath}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = pb.OS, pb.Arch
	cf.Created = created
	cf.Config.Entrypoint = []string{"/" + binaryPath}
	cf.Config.User = imageUser
	cf.Config.Labels = map[string]string{"org.opencontainers.image.version": spec.Version, "org.opencontainers.image.revision": spec.Commit}
	return mutate.ConfigFile(img, cf)
}

type file struct {
	path string
	mode int64
	data []byte
}

// layerOf makes a layer holding the files and their parent directories,
// every entry owned by 0:0 and stamped with the same time, so the same
// input gives the same digest.
func layerOf(mtime time.Time, files ...file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range files {
		parts := strings.Split(f.path, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if seen[d] {
				continue
			}
			seen[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
				return nil, err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.path, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
