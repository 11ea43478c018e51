//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// benchClientID is the user-assigned managed identity the config file
// gives the benchmarked registry. The simulator records which identity
// each exchange was for, so the cold get that primes the cache proves the
// file was read, accepted and applied.
const benchClientID = "5e1f0c3a-7b2d-4c8e-9a10-acbe0c0f1901"

// benchConfig is a config file as users write it, shaped like the
// README's example: a default, two exact entries, a wildcard and a custom
// cloud. The registry measured matches one exact entry; the wildcard
// would match it too, so the lookup has to prefer the exact one. The
// tenant is the simulator's: the exchange carries it.
func benchConfig(tenant string) string {
	return `# docker-credential-acr: one identity per registry
default:                       # applies to every registry
  sources: [workload, managed, cli]
  tenantID: ` + tenant + `
registries:
  - match: prodreg.azurecr.io
    sources: [managed]
    clientID: 11111111-1111-1111-1111-111111111111
    audience: acr-then-arm
    username: zero-guid
  - match: ` + registry + `
    sources: [managed]
    clientID: ` + benchClientID + `
  - match: "*.azurecr.io"
    sources: [workload]
    clientID: 33333333-3333-3333-3333-333333333333
clouds:
  - name: stack
    suffix: azurecr.contoso.local
    authorityHost: https://login.contoso.local/
    scope: https://containerregistry.contoso.local/.default
    armScope: https://management.contoso.local/.default
`
}

// configFile is the config file written for the benchmark.
type configFile struct {
	home, path string
	size       int
}

// writeConfig puts the config at its default place under a HOME of its
// own, $HOME/.config/docker-credential-acr/config.yaml, so that the gets
// without a config (whose HOME has none) never see it. It is private in
// every way the helper may check, now or after S1 of the review: mode
// 0600, owned by the user running the helper, in directories that nobody
// else may write.
func writeConfig(dir, tenant string) (configFile, error) {
	home := filepath.Join(dir, "home-config")
	cfgDir := filepath.Join(home, ".config", "docker-credential-acr")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return configFile{}, err
	}
	// MkdirAll leaves existing directories as they are, and the umask
	// only removes bits: set the modes outright.
	for _, d := range []string{home, filepath.Join(home, ".config"), cfgDir} {
		if err := os.Chmod(d, 0o700); err != nil {
			return configFile{}, err
		}
	}
	text := benchConfig(tenant)
	path := filepath.Join(cfgDir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return configFile{}, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return configFile{}, err
	}
	if err := checkPrivate(path, cfgDir); err != nil {
		return configFile{}, err
	}
	return configFile{home: home, path: path, size: len(text)}, nil
}

// checkPrivate verifies what writeConfig meant to make: a file of mode
// 0600 owned by this process's user, in a directory no group or other
// user can write.
func checkPrivate(file, dir string) error {
	euid := os.Geteuid()
	for _, p := range []string{file, dir} {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		switch {
		case int(st.Uid) != euid:
			return fmt.Errorf("%s is owned by uid %d, not by the user running the helper (%d)", p, st.Uid, euid)
		case fi.Mode().Perm()&0o022 != 0:
			return fmt.Errorf("%s has mode %04o: group or others may write it", p, fi.Mode().Perm())
		case p == file && fi.Mode().Perm() != 0o600:
			return fmt.Errorf("%s has mode %04o, want 0600", p, fi.Mode().Perm())
		}
	}
	return nil
}

// setEnv returns env with key set to value, or removed when value is "".
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	if value != "" {
		out = append(out, key+"="+value)
	}
	return out
}

// configGet writes the config file, primes the cache for the entry it
// selects with one cold get (the cache key holds the entry's selector, so
// the no-config get's entry is not this one's), and returns the spec of
// the cached get with the file and its answer. The environment is the
// no-config get's, but for HOME, and without DOCKER_CREDENTIAL_ACR_SOURCES,
// which would outrank the file.
func (r *report) configGet(c config, w *world, hot, plainAnswer string) (bench.Spec, string, bool) {
	f, err := writeConfig(w.dir, w.sim.TenantID())
	if err != nil {
		r.fail("writing the config file: %v", err)
		return bench.Spec{}, "", false
	}
	want := w.sim.AddUserAssignedIdentity(benchClientID).String()
	env := setEnv(setEnv(w.env(hot), "DOCKER_CREDENTIAL_ACR_SOURCES", ""), "HOME", f.home)
	spec := bench.Spec{Name: "cached get, config file", Path: c.helper, Args: []string{"get"}, Env: env, Stdin: registry + "\n"}
	before := w.sim.Stats()
	fill := bench.Run(spec)
	d := w.sim.Stats().Since(before)
	if !fill.OK() {
		r.fail("the get that fills the cache with a config file failed (was the file refused?): %s", harness.Redact(fill.Failure("get")))
		return bench.Spec{}, "", false
	}
	creds, err := harness.ParseGet(fill.Stdout)
	switch {
	case err != nil:
		r.fail("the get that fills the cache with a config file: %v", err)
		return bench.Spec{}, "", false
	case creds.Username != credhelper.TokenUsername || creds.Secret == "" || creds.ServerURL != registry:
		r.fail("the get that fills the cache with a config file answered username %q, server %q, secret of %d bytes", creds.Username, creds.ServerURL, len(creds.Secret))
		return bench.Spec{}, "", false
	case fill.Stdout == plainAnswer:
		r.fail("with the config file the get answered the token it answers without one: the file's entry was not applied")
		return bench.Spec{}, "", false
	case len(d.Exchanges) != 1 || d.Exchanges[0].Identity != want:
		var got []string
		for _, e := range d.Exchanges {
			got = append(got, e.Identity)
		}
		r.fail("the get that fills the cache with a config file made exchanges for %v; want one, for %s (the identity of the file's entry for %s)", got, want, registry)
		return bench.Spec{}, "", false
	}
	r.printf("   config file: $HOME/.config/docker-credential-acr/config.yaml, %d bytes (a default, 2 exact entries, a wildcard, a custom cloud), mode 0600, owned by the user, directory 0700;\n", f.size)
	r.printf("   %s matches an exact entry (and the wildcard): the get that primed the cache was exchanged for that entry's %s\n", registry, want)
	return spec, fill.Stdout, true
}
