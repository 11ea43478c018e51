//go:build e2e && linux

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

// faultRow is one fault of issue 12 item 4 at the process level: what is
// planted, and what the get must then do.
type faultRow struct {
	name  string
	src   string
	env   map[string]string // added to the source's
	plant []azuresim.Misbehaviour
	// ownNetwork: the get runs where nothing at all is reachable.
	ownNetwork bool
	// works: the get must succeed (the fault heals within the deadline);
	// otherwise it must fail clearly, naming names and cause.
	works bool
	names []string // the endpoint, any of
	cause []string // what happened, any of (an AADSTS code, a status, …)
	// explain: what it means or what to do, any of (the hint the advice
	// adds to an AADSTS code or a firewall refusal).
	explain []string
}

func acrBody(code, msg string) string {
	return fmt.Sprintf(`{"errors":[{"code":%q,"message":%q,"detail":null}]}`, code, msg)
}

func entraFail(status int, oauth string, code int, text string) *azuresim.EntraFailure {
	return &azuresim.EntraFailure{Status: status, Error: oauth, Code: code, Text: text}
}

// faultRows: IMDS, Entra and the exchange failing in each way issue 12
// names. Entra's failures are those of FIELD-NOTES §9, each with the code
// shown and its explanation.
func faultRows(t *testing.T) []faultRow {
	S := harness.Registry1
	imds := func(m azuresim.Misbehaviour) []azuresim.Misbehaviour {
		m.Host, m.Endpoint = azuresim.IMDSHost, azuresim.EndpointIMDS
		return []azuresim.Misbehaviour{m}
	}
	exchange := func(m azuresim.Misbehaviour) []azuresim.Misbehaviour {
		m.Host, m.Endpoint = S, azuresim.EndpointExchange
		return []azuresim.Misbehaviour{m}
	}
	imdsErr := func(status int, code, desc string) []azuresim.Misbehaviour {
		return imds(azuresim.Misbehaviour{Status: status, Body: fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, desc)})
	}
	// An app per Entra failure, so each row's answer is its own.
	failing := func(n int, f *azuresim.EntraFailure) map[string]string {
		id := fmt.Sprintf("fa11fa11-0000-4000-8000-%012d", n)
		world.Sim.AddApp(azuresim.App{ClientID: id, Fail: f})
		return map[string]string{"AZURE_CLIENT_ID": id}
	}
	return []faultRow{
		{name: "IMDS absent", src: srcManaged, ownNetwork: true, names: namesIMDS, cause: []string{"unreachable", "no route", "not reach", "connect"}},
		{name: "IMDS hangs", src: srcManaged, plant: imds(azuresim.Misbehaviour{Hang: true}), names: namesIMDS, cause: []string{"timeout", "timed out", "deadline", "did not answer"}},
		{name: "IMDS answers 429", src: srcManaged, plant: imdsErr(http.StatusTooManyRequests, "too_many_requests", "Too many requests"), names: namesIMDS, cause: []string{"429", "too many"}},
		{name: "IMDS answers 500", src: srcManaged, plant: imdsErr(http.StatusInternalServerError, "server_error", "Internal error"), names: namesIMDS, cause: []string{"500", "internal"}},
		{name: "IMDS answers 410 then a token", src: srcManaged, plant: imds(azuresim.Misbehaviour{Times: 1, Status: http.StatusGone, Body: `{"error":"unavailable","error_description":"The identity is being set up"}`}), works: true},
		{name: "IMDS answers what is not JSON", src: srcManaged, plant: imds(azuresim.Misbehaviour{Status: http.StatusOK, Body: "<html>not IMDS</html>"}), names: namesIMDS, cause: []string{"json", "invalid", "unexpected", "not"}},
		{name: "IMDS answers JSON without a token", src: srcManaged, plant: imds(azuresim.Misbehaviour{Status: http.StatusOK, Body: `{"token_type":"Bearer"}`}), names: namesIMDS, cause: []string{"access_token", "token"}},

		{name: "Entra AADSTS70021 no federated credential matches", src: srcWorkload, env: failing(1, entraFail(400, "invalid_request", 70021, "No matching federated identity record found for presented assertion.")), names: namesEntra, cause: []string{"AADSTS70021"}, explain: []string{"federated credential"}},
		{name: "Entra AADSTS700024 assertion expired", src: srcWorkload, env: failing(2, entraFail(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")), names: namesEntra, cause: []string{"AADSTS700024"}, explain: []string{"expired", "clock"}},
		{name: "Entra AADSTS500011 resource not in tenant", src: srcWorkload, env: failing(3, entraFail(400, "invalid_resource", 500011, "The resource principal named https://containerregistry.azure.net was not found in the tenant.")), names: namesEntra, cause: []string{"AADSTS500011"}, explain: []string{"audience"}},
		{name: "Entra AADSTS7000215 wrong client secret", src: srcSecret, env: map[string]string{"AZURE_CLIENT_SECRET": "not-the-secret"}, names: namesEntra, cause: []string{"AADSTS7000215"}, explain: []string{"secret is wrong", "AZURE_CLIENT_SECRET"}},
		{name: "Entra AADSTS700016 unknown application", src: srcSecret, env: map[string]string{"AZURE_CLIENT_ID": "0000dead-0000-4000-8000-000000000000"}, names: namesEntra, cause: []string{"AADSTS700016"}, explain: []string{"client ID"}},
		{name: "Entra AADSTS90002 unknown tenant", src: srcSecret, env: map[string]string{"AZURE_TENANT_ID": "0000dead-0000-4000-8000-0000000000aa"}, names: namesEntra, cause: []string{"AADSTS90002"}, explain: []string{"check the tenant", "AZURE_TENANT_ID"}},
		{name: "Entra answers 503", src: srcWorkload, env: failing(4, entraFail(503, "temporarily_unavailable", 50000, "There was an error issuing a token.")), names: namesEntra, cause: []string{"503", "AADSTS50000", "unavailable"}},
		{name: "Entra token endpoint hangs", src: srcWorkload, plant: []azuresim.Misbehaviour{{Host: entraHost, Endpoint: azuresim.EndpointEntraToken, Hang: true}}, names: namesEntra, cause: []string{"timeout", "timed out", "deadline", "did not answer"}},

		{name: "exchange answers 401", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Status: 401, Body: acrBody("UNAUTHORIZED", "invalid AAD access token")}), names: namesExchange, cause: []string{"401", "UNAUTHORIZED"}},
		{name: "exchange answers 403 from the firewall", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Status: 403, Body: acrBody("DENIED", "client with IP '203.0.113.9' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.")}), names: namesExchange, cause: []string{"aka.ms/acr/firewall", "not allowed access"}, explain: []string{"network rules", "private endpoint"}},
		{name: "exchange answers 404", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Status: 404, Body: acrBody("NOT_FOUND", "404 page not found")}), names: namesExchange, cause: []string{"404"}},
		{name: "exchange answers 500", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Status: 500, Body: acrBody("INTERNAL", "internal server error")}), names: namesExchange, cause: []string{"500"}},
		{name: "exchange answers 503", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Status: 503, Body: "service unavailable"}), names: namesExchange, cause: []string{"503"}},
		{name: "exchange hangs", src: srcManaged, plant: exchange(azuresim.Misbehaviour{Hang: true}), names: namesExchange, cause: []string{"timeout", "timed out", "deadline", "did not answer"}},
	}
}

// TestFaultMatrix: each fault ends within the deadline in exit 1 with a
// message naming the endpoint and the cause, or heals and succeeds; no
// token or secret goes astray on the way.
func TestFaultMatrix(t *testing.T) {
	for _, tt := range faultRows(t) {
		t.Run(tt.name, func(t *testing.T) {
			u := userFor(t, tt.src, "", tt.env)
			plantAll(t, tt.plant, nil)
			world.Sim.Sightings()
			before := world.Sim.Stats()
			r := getBounded(t, u, harness.Registry1, runOpts{ownNetwork: tt.ownNetwork})
			sawOnly(t, world.Sim.Stats().Since(before), nil)
			if tt.works {
				if r.Hung || r.Code != 0 {
					t.Fatalf("the fault heals, so the get must succeed within the deadline (hung: %v): %s", r.Hung, r.Failure())
				}
				return
			}
			failedClearly(t, r, tt.names, 0)
			if !r.Hung && !containsAnyFold(r.Stdout, tt.cause) {
				t.Errorf("the message names none of the causes %q", tt.cause)
			}
			if !r.Hung && tt.explain != nil && !containsAnyFold(r.Stdout, tt.explain) {
				t.Errorf("the message explains nothing: it has none of %q", tt.explain)
			}
		})
	}
}

// mountTmpfs mounts a tmpfs of size bytes at dir, in this test's own mount
// namespace, for the rest of t; ro mounts it read-only.
func mountTmpfs(t *testing.T, dir string, size int, ro bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var flags uintptr = syscall.MS_NOSUID | syscall.MS_NODEV
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a tmpfs at %s in the test's mount namespace: %v", dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// fill writes into dir until it is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// noCorruptFiles checks that every file the helper left in dir is either
// empty (a lock file) or a whole JSON document: a full disk or a refused
// directory must not leave a torn entry or a temp file behind.
func noCorruptFiles(t *testing.T, dir string, ignore ...string) (entries int) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	for _, de := range names {
		if strings.HasPrefix(de.Name(), ".") || slices.Contains(ignore, de.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		switch {
		case err != nil:
			t.Errorf("cache file %s unreadable: %v", de.Name(), err)
		case strings.HasSuffix(de.Name(), ".tmp"):
			t.Errorf("a temp file was left in the cache: %s (%d bytes)", de.Name(), len(b))
		case len(b) > 0 && !json.Valid(b):
			t.Errorf("cache file %s is not whole (%d bytes)", de.Name(), len(b))
		case strings.HasSuffix(de.Name(), ".json"):
			entries++
		}
	}
	return entries
}

// TestCacheFaults: where the cache cannot be used the get succeeds
// without it (two gets, two exchanges), leaves nothing torn behind, and
// never reads or writes through a symbolic link.
func TestCacheFaults(t *testing.T) {
	S := harness.Registry1
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (env map[string]string)
		// cached: the directory is usable, so the second get is served
		// from it.
		cached bool
	}{
		{name: "disk full while writing the cache", setup: func(t *testing.T, dir string) map[string]string {
			mountTmpfs(t, dir, 64<<10, false)
			fill(t, dir)
			return nil
		}},
		{name: "read-only cache directory", setup: func(t *testing.T, dir string) map[string]string {
			mountTmpfs(t, dir, 1<<20, true)
			return nil
		}},
		{name: "no HOME and no cache setting", setup: func(t *testing.T, dir string) map[string]string {
			return map[string]string{"HOME": "", "DOCKER_CREDENTIAL_ACR_CACHE_DIR": "", "XDG_CACHE_HOME": ""}
		}},
		{name: "cache directory owned by another user", setup: func(t *testing.T, dir string) map[string]string {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 4242, 4242); err != nil {
				t.Fatalf("chown the cache directory to another user: %v", err)
			}
			return nil
		}},
		{name: "cache directory writable by every user", setup: func(t *testing.T, dir string) map[string]string {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{name: "cache directory writable by its group", setup: func(t *testing.T, dir string) map[string]string {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o770); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{name: "control: a private cache directory", cached: true, setup: func(t *testing.T, dir string) map[string]string { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(world.Dir, "cache-faults", strings.NewReplacer(" ", "_", ":", "_").Replace(tt.name))
			env := merge(map[string]string{"DOCKER_CREDENTIAL_ACR_CACHE_DIR": dir}, tt.setup(t, dir))
			u := userFor(t, srcManaged, "", env)
			before := world.Sim.Stats()
			var answers []string
			for i := range 2 {
				r := getBounded(t, u, S, runOpts{})
				if r.Hung || r.Code != 0 {
					t.Fatalf("get %d: the cache cannot be used, but the get must still succeed without it: %s", i+1, r.Failure())
				}
				c, err := harness.ParseGet(r.Stdout)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := world.Sim.VerifyRefreshToken(S, c.Secret); err != nil {
					t.Errorf("get %d answered what is not a refresh token of %s: %v", i+1, S, err)
				}
				answers = append(answers, c.Secret)
				if i == 0 && strings.TrimSpace(r.Stderr) != "" {
					t.Logf("stderr: %s", harness.Redact(clip(strings.TrimSpace(r.Stderr), 400)))
				}
			}
			d := world.Sim.Stats().Since(before)
			sawOnly(t, d, nil)
			want := 2
			if tt.cached {
				want = 1
			}
			if n := d.Count(S, azuresim.EndpointExchange); n != want {
				t.Errorf("two gets made %d exchanges, want %d", n, want)
			}
			entries := noCorruptFiles(t, dir, "filler")
			if !tt.cached && entries > 0 {
				t.Errorf("%d entries were written into a directory that must not be used as a cache", entries)
			}
		})
	}
}

// TestCacheEntrySymlink: a cache entry replaced by a symbolic link to
// another file (here, a copy of a valid entry) is neither read through nor
// written through: the get exchanges anew, and the link's target is left
// as it was.
func TestCacheEntrySymlink(t *testing.T) {
	S := harness.Registry1
	u := userFor(t, srcManaged, "", nil)
	first := getBounded(t, u, S, runOpts{})
	if first.Code != 0 {
		t.Fatal(first.Failure())
	}
	c1, err := harness.ParseGet(first.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(u.CacheDir, "*.json"))
	if len(entries) != 1 {
		t.Fatalf("want one cache entry after a get, found %v", entries)
	}
	entry := entries[0]
	target := filepath.Join(u.Dir, "elsewhere.json")
	if err := os.Rename(entry, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, entry); err != nil {
		t.Fatal(err)
	}
	was, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(target)

	before := world.Sim.Stats()
	r := getBounded(t, u, S, runOpts{})
	if r.Hung || r.Code != 0 {
		t.Fatalf("get with the entry replaced by a link: %s", r.Failure())
	}
	c2, err := harness.ParseGet(r.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if n := world.Sim.Stats().Since(before).Count(S, azuresim.EndpointExchange); n != 1 || c2.Secret == c1.Secret {
		t.Errorf("the get made %d exchanges and answered the link target's token: %v; a link in the cache must not be followed (O_NOFOLLOW)", n, c2.Secret == c1.Secret)
	}
	now, err := os.ReadFile(target)
	if err != nil || string(now) != string(was) {
		t.Errorf("the link's target was changed (%v): writes must replace the link, never write through it", err)
	}
	if st2, _ := os.Stat(target); st == nil || st2 == nil || st2.Mode() != st.Mode() {
		t.Errorf("the link's target mode changed: %v → %v", st, st2)
	}
}

// TestClockSkew: a registry (or a machine) whose clock is hours off. Ahead:
// the token works. Behind by more than its life: the get fails and says
// to check the clock. Behind so that the token is due for refresh: a
// failed refresh serves the cached token, which is kept, not lost.
func TestClockSkew(t *testing.T) {
	S := harness.Registry1
	skew := func(t *testing.T, d time.Duration) {
		t.Cleanup(world.Sim.Plant(azuresim.Misbehaviour{Host: S, Endpoint: azuresim.EndpointExchange, Skew: d}))
	}
	t.Run("registry clock 4 hours ahead", func(t *testing.T) {
		skew(t, 4*time.Hour)
		u := userFor(t, srcManaged, "", nil)
		if r := getBounded(t, u, S, runOpts{}); r.Hung || r.Code != 0 {
			t.Errorf("a token issued in the future still works at its registry: %s", r.Failure())
		}
	})
	t.Run("registry clock 4 hours behind", func(t *testing.T) {
		skew(t, -4*time.Hour)
		u := userFor(t, srcManaged, "", nil)
		r := getBounded(t, u, S, runOpts{})
		failedClearly(t, r, []string{S}, 0)
		if !containsAnyFold(r.Stdout, []string{"clock"}) {
			t.Errorf("a token that expired before it arrived: the message should point at the clock")
		}
		if n := noCorruptFiles(t, u.CacheDir); n != 0 {
			t.Errorf("an expired token was cached")
		}
	})
	t.Run("a failed refresh keeps the cached token", func(t *testing.T) {
		u := userFor(t, srcManaged, "", nil)
		// Issued 3 hours ago by the registry's clock, 15 minutes left:
		// cached, and due for refresh at once.
		remove := world.Sim.Plant(azuresim.Misbehaviour{Host: S, Endpoint: azuresim.EndpointExchange, Skew: -3 * time.Hour})
		first := getBounded(t, u, S, runOpts{})
		remove()
		if first.Code != 0 {
			t.Fatal(first.Failure())
		}
		c1, _ := harness.ParseGet(first.Stdout)
		entries, _ := filepath.Glob(filepath.Join(u.CacheDir, "*.json"))
		if len(entries) != 1 {
			t.Fatalf("want the due token cached, found %v", entries)
		}
		was, _ := os.ReadFile(entries[0])

		for _, fault := range []azuresim.Misbehaviour{
			{Host: S, Endpoint: azuresim.EndpointExchange, Status: 500, Body: acrBody("INTERNAL", "internal server error")},
			{Host: S, Endpoint: azuresim.EndpointExchange, Status: 200, Body: `{"refresh_token":"not a token"}`},
			{Host: azuresim.IMDSHost, Endpoint: azuresim.EndpointIMDS, Status: 500, Body: `{"error":"server_error"}`},
		} {
			remove := world.Sim.Plant(fault)
			r := getBounded(t, u, S, runOpts{})
			remove()
			c, _ := harness.ParseGet(r.Stdout)
			if r.Hung || r.Code != 0 || c.Secret != c1.Secret {
				t.Errorf("refresh failing at %s %s (%d): the cached token is still valid and must be served: %s", fault.Host, fault.Endpoint, fault.Status, r.Failure())
			}
			if now, _ := os.ReadFile(entries[0]); string(now) != string(was) {
				t.Errorf("refresh failing at %s %s (%d): the valid cached entry was changed or lost", fault.Host, fault.Endpoint, fault.Status)
			}
		}
		// Healed: the refresh replaces it.
		r := getBounded(t, u, S, runOpts{})
		if c, _ := harness.ParseGet(r.Stdout); r.Code != 0 || c.Secret == c1.Secret {
			t.Errorf("once the registry answers again the due token should be refreshed: %s", r.Failure())
		}
	})
}
