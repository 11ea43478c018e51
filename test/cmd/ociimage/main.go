// Command ociimage writes the multi-arch OCI image of `make image`: the
// static linux binaries that goreleaser built into dist/ (one per
// platform), on an empty base, with the build machine's CA bundle, as an
// OCI image layout on disk. No daemon, no registry, nothing pushed.
//
//	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ociimage -dist dist -out dist/image -certs /etc/ssl/certs/ca-certificates.crt
//
// It uses go-containerregistry, the library under crane: crane's own
// commands edit images in a registry, and writing a layout without one is
// a library call (layout.Write). The output is reproducible: every time
// stamp is SOURCE_DATE_EPOCH, tar entries are sorted with fixed owners, so
// the same binaries give the same digests.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What goreleaser writes into dist/ (metadata.json, artifacts.json): only
// the fields we read.
type metadata struct {
	ProjectName string `json:"project_name"`
	Version     string `json:"version"`
	Commit      string `json:"commit"`
}

type artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	Type   string `json:"type"`
}

func main() {
	dist := flag.String("dist", "dist", "goreleaser's dist directory (metadata.json, artifacts.json and the binaries)")
	out := flag.String("out", "dist/image", "the OCI image layout to write (replaced if it exists)")
	certs := flag.String("certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to put at /etc/ssl/certs/ca-certificates.crt in the image")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms to include")
	flag.Parse()
	if err := run(*dist, *out, *certs, strings.Split(*platforms, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(dist, out, certs string, platforms []string) error {
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	var md metadata
	if err := readJSON(filepath.Join(dist, "metadata.json"), &md); err != nil {
		return fmt.Errorf("%w; run `make release` first: it writes the binaries this image is made of", err)
	}
	var arts []artifact
	if err := readJSON(filepath.Join(dist, "artifacts.json"), &arts); err != nil {
		return fmt.Errorf("%w; run `make release` first", err)
	}
	bins, err := binaries(arts, dist, platforms)
	if err != nil {
		return err
	}
	bundle, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("reading the CA bundle for the image: %w; install ca-certificates or pass -certs", err)
	}
	spec := imageSpec{
		Name:     md.ProjectName,
		Version:  md.Version,
		Commit:   md.Commit,
		Created:  created,
		CABundle: bundle,
		Binaries: bins,
	}
	ref, digest, err := writeLayout(out, spec)
	if err != nil {
		return err
	}
	fmt.Printf("ociimage: wrote %s: %s@%s (%s)\n", out, ref, digest, strings.Join(platforms, ", "))
	return nil
}

// binaries finds, for each platform, the one binary goreleaser built for
// it. Paths in artifacts.json are relative to the directory goreleaser ran
// in, the parent of dist.
func binaries(arts []artifact, dist string, platforms []string) ([]platformBinary, error) {
	var out []platformBinary
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return nil, fmt.Errorf("platform %q: want OS/ARCH, like linux/amd64", p)
		}
		var found []string
		for _, a := range arts {
			if a.Type == "Binary" && a.GOOS == goos && a.GOARCH == goarch {
				found = append(found, a.Path)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("platform %s: artifacts.json lists %d binaries for it (%v), want exactly 1; does .goreleaser.yaml build it?", p, len(found), found)
		}
		path := filepath.Join(filepath.Dir(filepath.Clean(dist)), found[0])
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p, err)
		}
		out = append(out, platformBinary{OS: goos, Arch: goarch, Binary: data})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OS+"/"+out[i].Arch < out[j].OS+"/"+out[j].Arch })
	return out, nil
}

// sourceDateEpoch is the reproducible-builds convention for "the time of
// this build": required, so that no run silently stamps the wall clock.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, errors.New("SOURCE_DATE_EPOCH is not set; set it to the commit time: SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
