package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/harness"
)

const (
	ref1 = harness.Registry1 + "/hello:1"
	ref2 = harness.Registry2 + "/hello:1"
)

// clientStep is one client command in the story.
type clientStep struct {
	show   string // what the reader sees
	client string // the program that must be installed
	argv   []string
}

func demo(helper, crane, buildkitd, buildctl string, delay time.Duration) int {
	began := time.Now()
	s := &story{out: os.Stdout}
	w, dir, err := startWorld(helper, crane, delay)
	if err != nil {
		s.printf("✗ could not start the simulated Azure and the registries: %v\n", err)
		return 1
	}
	defer w.Close()
	keep := false
	defer func() {
		if keep {
			s.printf("\nFiles and registry logs are kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	sim := w.Sim
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	s.printf(`docker-credential-acr demo

Everything below runs inside a private network namespace, under the real names:
  169.254.169.254             the VM's metadata service (IMDS)    simulated
  login.microsoftonline.com   Microsoft Entra ID                  simulated
  %-27s Azure Container Registry            simulated token endpoints in front
  %-27s Azure Container Registry            of a real distribution registry each
The helper is the unmodified %s. Every client finds it only
through "credHelpers": {"%s": "acr", "%s": "acr"}.

`, harness.Registry1, harness.Registry2, rel(helper), harness.Registry1, harness.Registry2)

	// 1. The push.
	s.printf("1. An Azure VM with a system-assigned managed identity pushes an image. No password anywhere.\n")
	vm, err := w.NewUser(harness.UserOptions{Name: "vm", Sources: "managed"})
	if err != nil {
		s.fail("make the VM's user", err.Error())
		return s.end(began, &keep)
	}
	defer vm.Close()
	layer := filepath.Join(vm.Dir, "hello.tar")
	if err := harness.WriteLayer(layer, "hello from a simulated Azure\n"); err != nil {
		s.fail("write the image layer", err.Error())
		return s.end(began, &keep)
	}
	before := sim.Stats()
	t0 := time.Now()
	s.printf("   $ crane append -f hello.tar -t %s/hello:base\n   $ crane mutate %s/hello:base --set-platform linux/amd64 -t %s\n", harness.Registry1, harness.Registry1, ref1)
	for _, argv := range [][]string{
		{"crane", "append", "-f", layer, "-t", harness.Registry1 + "/hello:base"},
		{"crane", "mutate", harness.Registry1 + "/hello:base", "--set-platform", "linux/amd64", "-t", ref1},
	} {
		if r := vm.Run(ctx, "", argv[0], argv[1:]...); r.Err != nil {
			s.fail("crane push", r.Failure())
			return s.end(began, &keep)
		}
	}
	pushTime := time.Since(t0)
	digest := strings.TrimSpace(vm.Run(ctx, "", "crane", "digest", ref1).Stdout)
	d := sim.Stats().Since(before)
	s.printf("   ✓ pushed %s (%s) in %.1fs\n", ref1, short(digest), pushTime.Seconds())
	if len(d.Exchanges) != 1 || d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS) != 1 {
		s.fail("one IMDS token and one exchange for the push", fmt.Sprintf("saw %d IMDS request(s) and exchanges %v", d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS), exchanges(d)))
	} else {
		ex := d.Exchanges[0]
		s.printf("   → crane called the helper. The helper asked IMDS for an Entra token (%s, 1 request),\n"+
			"     exchanged it at https://%s/oauth2/exchange (1 exchange) for an ACR refresh token\n"+
			"     that expires at %s (read from its exp), and cached it in DOCKER_CREDENTIAL_ACR_CACHE_DIR.\n"+
			"     crane then got %d registry access tokens with that refresh token.\n",
			ex.Identity, ex.Host, ex.RefreshExpires.Local().Format("15:04"), d.Count(harness.Registry1, azuresim.EndpointACRToken))
	}

	// 2. Every other client, same cache.
	s.printf("\n2. Other clients on the same VM read it. They share the helper's cache.\n")
	steps := []clientStep{
		{"crane pull " + ref1 + " hello.tar", "crane", []string{"crane", "pull", ref1, filepath.Join(vm.Dir, "pulled.tar")}},
		{"skopeo inspect docker://" + ref1, "skopeo", []string{"skopeo", "inspect", "docker://" + ref1}},
		{"docker manifest inspect " + ref1, "docker", []string{"docker", "manifest", "inspect", ref1}},
		{"podman pull " + ref1, "podman", append(append([]string{"podman"}, vm.PodmanArgs()...), "pull", "--signature-policy", vm.PolicyFile(), ref1)},
		{"buildah from " + ref1, "buildah", append(append([]string{"buildah"}, vm.ContainersArgs()...), "from", "--pull-always", "--signature-policy", vm.PolicyFile(), ref1)},
	}
	before = sim.Stats()
	for _, st := range steps {
		s.runClient(ctx, vm, st, sim)
	}
	d = sim.Stats().Since(before)
	if n := d.Total(azuresim.EndpointExchange) + d.Total(azuresim.EndpointIMDS); n == 0 && len(s.failed) == 0 {
		s.printf("   → all served from the cache: 0 IMDS requests, 0 exchanges; the registry issued %d access tokens from the one refresh token.\n", d.Total(azuresim.EndpointACRToken))
	}

	// 3. BuildKit.
	s.printf("\n3. BuildKit builds FROM the image and pushes the result: a standalone buildkitd, driven by buildctl.\n")
	s.buildkitStep(ctx, w, vm, buildkitd, buildctl)

	// 4. A second registry.
	s.printf("\n4. A second registry gets its own token; the first stays cached.\n   $ crane copy %s %s\n", ref1, ref2)
	before = sim.Stats()
	if r := vm.Run(ctx, "", "crane", "copy", ref1, ref2); r.Err != nil {
		s.fail("crane copy", r.Failure())
	} else {
		d = sim.Stats().Since(before)
		n1, n2 := d.Count(harness.Registry1, azuresim.EndpointExchange), d.Count(harness.Registry2, azuresim.EndpointExchange)
		if n1 != 0 || n2 != 1 {
			s.fail("one exchange for the second registry only", fmt.Sprintf("exchanges: %s %d, %s %d", harness.Registry1, n1, harness.Registry2, n2))
		} else {
			s.printf("   ✓ copied in %.1fs: 1 exchange for %s, 0 for %s (cached)\n", r.Duration.Seconds(), harness.Registry2, harness.Registry1)
		}
	}

	// 5. Look-alikes.
	s.printf("\n5. Hosts that are not ACR login servers get nothing, and nothing is sent anywhere.\n")
	before = sim.Stats()
	for _, host := range []string{"myreg.azurecr.io.evil.test", "evilazurecr.io", "myreg.westeurope.data.azurecr.io", "docker.io"} {
		r := vm.Helper(ctx, "get", host)
		if r.Code != 1 || !strings.Contains(r.Stdout, "credentials not found in native keychain") {
			s.fail("get "+host, r.Failure())
			continue
		}
		s.printf("   ✓ get %-34s → %q\n", host, strings.TrimSpace(r.Stdout))
	}
	if d = sim.Stats().Since(before); len(d.Requests) != 0 {
		s.fail("no request for look-alike hosts", d.CountSummary())
	} else {
		s.printf("   → 0 requests reached the simulated Azure or the look-alike hosts (they resolve to it here).\n")
	}

	// 6. Other identities.
	s.printf("\n6. The same helper elsewhere: an AKS pod with workload identity, and a laptop after `az login`.\n")
	const wiClient = "22222222-2222-4222-8222-222222222222"
	subject := "system:serviceaccount:build:ci"
	sim.AddApp(azuresim.App{ClientID: wiClient, Federated: []azuresim.FederatedCredential{{Issuer: sim.OIDCIssuer(), Subject: subject}}})
	tokenFile := filepath.Join(dir, "federated-token")
	if tok, err := sim.FederatedToken(subject, time.Hour); err != nil {
		s.fail("make a federated token", err.Error())
	} else if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		s.fail("write the federated token", err.Error())
	}
	for _, id := range []struct {
		who, identity string
		opts          harness.UserOptions
	}{
		{"pod (workload identity)", "workload:" + wiClient, harness.UserOptions{Name: "pod", Sources: "workload", Env: map[string]string{
			"AZURE_CLIENT_ID": wiClient, "AZURE_TENANT_ID": sim.TenantID(), "AZURE_FEDERATED_TOKEN_FILE": tokenFile,
			"AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"}}},
		{"laptop (az CLI)", "cli:" + sim.CLIUser().ObjectID, harness.UserOptions{Name: "laptop", Sources: "cli", FakeAz: true}},
	} {
		u, err := w.NewUser(id.opts)
		if err != nil {
			s.fail(id.who, err.Error())
			continue
		}
		before = sim.Stats()
		r := u.Run(ctx, "", "skopeo", "inspect", "--format", "{{.Digest}}", "docker://"+ref1)
		u.Close()
		d = sim.Stats().Since(before)
		if r.Err != nil {
			s.fail(id.who+": skopeo inspect", r.Failure())
			continue
		}
		if got := exchanges(d); len(got) != 1 || got[0] != id.identity {
			s.fail(id.who+": one exchange for its own identity", fmt.Sprintf("exchanges for %v, want one for %s", got, id.identity))
			continue
		}
		s.printf("   ✓ %-24s skopeo inspect → %s   (1 exchange, for %s)\n", id.who, short(strings.TrimSpace(r.Stdout)), id.identity)
	}

	// 7. Many at once.
	s.printf("\n7. A parallel build: 64 helper processes start at once on an empty cache.\n")
	crowd, err := w.NewUser(harness.UserOptions{Name: "crowd", Sources: "managed"})
	if err != nil {
		s.fail("make the crowd's user", err.Error())
	} else {
		before = sim.Stats()
		t0 = time.Now()
		answers, failed := crowd.ConcurrentGets(ctx, 64, harness.Registry1)
		took := time.Since(t0)
		crowd.Close()
		d = sim.Stats().Since(before)
		ex, imds := d.Count(harness.Registry1, azuresim.EndpointExchange), d.Count(azuresim.IMDSHost, azuresim.EndpointIMDS)
		if len(failed) > 0 || ex != 1 || imds != 1 || len(answers) != 1 {
			why := fmt.Sprintf("%d failed, %d IMDS requests, %d exchanges, %d distinct answers (want 0, 1, 1, 1)", len(failed), imds, ex, len(answers))
			if len(failed) > 0 {
				why += "\nfirst failure: " + failed[0].Failure()
			}
			s.fail("64 processes, one fetch", why)
		} else {
			s.printf("   ✓ %.1fs: 1 IMDS request, 1 exchange, 64 identical answers.\n", took.Seconds())
		}
	}

	// The books.
	st := sim.Stats()
	if leaks := st.Leaks(sim.Registries()); len(leaks) > 0 {
		s.fail("no Entra token outside the exchange", fmt.Sprintf("%+v", leaks))
	}
	s.printf("\nWhat the simulated Azure saw in all:\n")
	for _, line := range []struct {
		what string
		n    int
	}{
		{"IMDS token requests", st.Total(azuresim.EndpointIMDS)},
		{"Entra token requests (workload identity)", st.Total(azuresim.EndpointEntraToken)},
		{"az CLI token requests", st.Total(azuresim.EndpointAz)},
		{"exchanges at " + harness.Registry1 + " (VM, pod, laptop, crowd: one each)", st.Count(harness.Registry1, azuresim.EndpointExchange)},
		{"exchanges at " + harness.Registry2 + " (VM)", st.Count(harness.Registry2, azuresim.EndpointExchange)},
		{"registry access tokens issued", st.Total(azuresim.EndpointACRToken)},
		{"requests with an Entra token sent anywhere but an exchange", len(st.Leaks(sim.Registries()))},
	} {
		s.printf("  %-66s %d\n", line.what, line.n)
	}
	return s.end(began, &keep)
}

func (s *story) runClient(ctx context.Context, u *harness.User, st clientStep, sim *azuresim.Sim) {
	if _, err := exec.LookPath(st.argv[0]); err != nil && st.client != "crane" {
		s.fail(st.show, st.client+" is not installed here (make deps-e2e installs it as root; see its message above)")
		return
	}
	before := sim.Stats()
	r := u.Run(ctx, "", st.argv[0], st.argv[1:]...)
	if r.Err != nil {
		s.fail(st.show, r.Failure())
		return
	}
	d := sim.Stats().Since(before)
	s.printf("   ✓ %-56s %4.1fs  %d exchange(s)\n", st.show, r.Duration.Seconds(), d.Total(azuresim.EndpointExchange))
}

func (s *story) end(began time.Time, keep *bool) int {
	if len(s.failed) > 0 {
		*keep = true
		s.printf("\nDEMO FAILED (%.1fs): %s\n", time.Since(began).Seconds(), strings.Join(s.failed, "; "))
		return 1
	}
	s.printf("\nDemo passed in %.1fs.\n", time.Since(began).Seconds())
	return 0
}

func exchanges(d azuresim.Stats) []string {
	var out []string
	for _, e := range d.Exchanges {
		out = append(out, e.Identity)
	}
	return out
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19] + "…"
	}
	return digest
}

func rel(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
