package credhelper

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/configure")

// The secrets planted in the inputs (base64 of user:password in auths).
var plantedSecrets = []string{
	"bXl1c2VyOlMzY3JldC1QYXNzd29yZC0xMjM0NQ==", // myuser:S3cret-Password-12345
	"ZG9ja2VyOmh1YnNlY3JldA==",
	"Z2g6dG9rZW4=",
}

// configureRun is one run of Configure in a private directory.
type configureRun struct {
	dir, docker, containers string
	stdout, stderr          string
	err                     error
}

// newConfigureDir makes a directory with the named input (testdata file,
// or "" for none) as config.json, and returns the run's paths.
func newConfigureDir(t *testing.T, input string) *configureRun {
	t.Helper()
	dir := t.TempDir()
	r := &configureRun{dir: dir, docker: filepath.Join(dir, "docker", "config.json"), containers: filepath.Join(dir, "containers", "auth.json")}
	if input != "" {
		data, err := os.ReadFile(filepath.Join("testdata", "configure", input))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(r.docker), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.docker, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// run calls Configure for r's files, with the helper found on PATH
// unless noHelper.
func (r *configureRun) run(t *testing.T, o ConfigureOptions, noHelper bool) {
	t.Helper()
	if o.DockerConfig == "" {
		o.DockerConfig = r.docker
	}
	if o.ContainersAuth == "" {
		o.ContainersAuth = r.containers
	}
	o.LookPath = func(name string) (string, error) {
		if noHelper || name != "docker-credential-acr" {
			return "", errors.New("not found")
		}
		return "/usr/local/bin/" + name, nil
	}
	env := map[string]string{"HOME": filepath.Join(r.dir, "home")}
	h := New(Options{Getenv: func(k string) string { return env[k] }})
	var out, errb bytes.Buffer
	r.err = h.Configure(context.Background(), o, &out, &errb)
	r.stdout = strings.ReplaceAll(out.String(), r.dir, "DIR")
	r.stderr = strings.ReplaceAll(errb.String(), r.dir, "DIR")
	for _, s := range plantedSecrets {
		if strings.Contains(out.String()+errb.String()+errString(r.err), s) {
			t.Errorf("a stored secret was printed:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// golden compares got with testdata/configure/name (or rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "configure", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./credhelper -run Configure -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n%s", name, unifiedDiff("want", "got", want, []byte(got)))
	}
}

// TestConfigureRoundTrips runs configure on tricky inputs and compares the
// resulting config.json and the output with golden files; everything the
// edit does not own must be byte-identical.
func TestConfigureRoundTrips(t *testing.T) {
	tests := []struct {
		name, input string
		args        []string
		o           ConfigureOptions
		wantErr     error // errors.Is; nil: success
		wantWarn    []string
		// kept are byte strings of the input that must be in the output.
		kept []string
	}{
		{name: "tabs-secrets", input: "tabs-secrets.in.json", args: []string{"myreg", "otherreg.azurecr.io"},
			wantWarn: []string{`"auths" holds a stored password for myreg.azurecr.io`},
			kept: []string{`"auth": "bXl1c2VyOlMzY3JldC1QYXNzd29yZC0xMjM0NQ=="`, `"credsStore": "desktop"`, `"noProxy": "*.local,169.254.169.254"`,
				`"x-unknown": {"nested": [1, 2.50, 1e3, "\u00e9\n"], "n": null}`, "\t\"plugins\": {\n\t\t\"buildx\""}},
		{name: "four-spaces-helpers", input: "four-spaces-helpers.in.json", args: []string{"myreg.azurecr.io"},
			kept: []string{`        "gcr.io": "gcloud",` + "\n"}},
		{name: "compact", input: "compact.in.json", args: []string{"MyReg.AzureCR.io"},
			kept: []string{`{"auths":{"ghcr.io":{"auth":"Z2g6dG9rZW4="}},"credsStore":"pass","detachKeys":"ctrl-e,e"`}},
		{name: "crlf-odd-spacing", input: "crlf-odd-spacing.in.json", args: []string{"myreg", "otherreg"}, wantErr: ErrConfigureRefused,
			wantWarn: []string{`otherreg.azurecr.io is left to the helper "ecr-login"`}},
		{name: "crlf-odd-spacing-force", input: "crlf-odd-spacing.in.json", args: []string{"otherreg", "myreg"}, o: ConfigureOptions{Force: true},
			kept: []string{"{ \"auths\" : { } ,\r\n  \"psFormat\":\"table {{.ID}}\",\r\n"}},
		{name: "empty-object", input: "empty-object.in.json", args: []string{"myreg"}},
		{name: "empty-file", input: "empty-file.in.json", args: []string{"myreg"}},
		{name: "missing-directory", args: []string{"https://myreg.azurecr.io/", "myreg.azurecr.io:443"}},
		{name: "already-configured", input: "two-spaces-configured.in.json", args: []string{"myreg"}},
		{name: "remove-one", input: "two-spaces-configured.in.json", args: []string{"myreg"}, o: ConfigureOptions{Remove: true}},
		{name: "remove-all", input: "two-spaces-configured.in.json", args: []string{"myreg", "otherreg"}, o: ConfigureOptions{Remove: true}},
		{name: "remove-other-helper", input: "crlf-odd-spacing.in.json", args: []string{"otherreg"}, o: ConfigureOptions{Remove: true},
			wantErr: ErrConfigureRefused, wantWarn: []string{"pass --force to remove it"}},
		{name: "not-a-login-server", input: "four-spaces-helpers.in.json", args: []string{"myreg", "gcr.io", "https://u:p@myreg.azurecr.io"},
			wantErr: ErrConfigureUsage},
		{name: "remove-absent", input: "four-spaces-helpers.in.json", args: []string{"myreg"}, o: ConfigureOptions{Remove: true}},
		{name: "invalid-json", input: "invalid-trailing-comma.in.json", args: []string{"myreg"}, wantErr: errAny},
		{name: "helpers-not-object", input: "helpers-not-object.in.json", args: []string{"myreg"}, wantErr: errNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newConfigureDir(t, tt.input)
			var before string
			if tt.input != "" {
				before = readFile(t, r.docker)
			}
			o := tt.o
			o.Registries = tt.args
			r.run(t, o, false)
			switch {
			case tt.wantErr == errAny && r.err == nil, tt.wantErr == nil && r.err != nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(r.err, tt.wantErr):
				t.Fatalf("err = %v, want %v\nstderr:\n%s", r.err, tt.wantErr, r.stderr)
			}
			for _, w := range tt.wantWarn {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			out := r.stdout
			if r.err != nil {
				out += "error: " + strings.ReplaceAll(r.err.Error(), r.dir, "DIR") + "\n"
			}
			golden(t, tt.name+".stdout", out)
			if _, err := os.Stat(r.docker); err != nil {
				if tt.input != "" || r.err == nil {
					t.Fatalf("config.json: %v", err)
				}
				return
			}
			after := readFile(t, r.docker)
			golden(t, tt.name+".want.json", after)
			for _, k := range append(tt.kept, plantedSecrets...) {
				if strings.Contains(before, k) && !strings.Contains(after, k) {
					t.Errorf("the output lost %q", k)
				}
			}
			if r.err != nil && !errors.Is(r.err, ErrConfigureRefused) && after != before {
				t.Errorf("a refused file was changed")
			}
		})
	}
}

// errAny stands for "some error" in the table.
var errAny = errors.New("any error")

// TestConfigureFiles checks what happens to the files themselves: modes,
// a symlink, a read-only file, the backup, idempotence, a dry run.
func TestConfigureFiles(t *testing.T) {
	mode := func(t *testing.T, path string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	t.Run("new files and directories are private", func(t *testing.T) {
		r := newConfigureDir(t, "")
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, p := range []string{r.docker, r.containers} {
			if m := mode(t, p); m != 0o600 {
				t.Errorf("%s has mode %o, want 600", p, m)
			}
			if m := mode(t, filepath.Dir(p)); m != 0o700 {
				t.Errorf("%s has mode %o, want 700", filepath.Dir(p), m)
			}
			if _, err := os.Stat(p + ".bak"); err == nil {
				t.Errorf("a backup of a file that did not exist: %s.bak", p)
			}
		}
		if readFile(t, r.docker) != readFile(t, r.containers) {
			t.Error("config.json and auth.json differ, both were created from nothing")
		}
	})
	t.Run("mode kept, backup has the old content and mode", func(t *testing.T) {
		r := newConfigureDir(t, "tabs-secrets.in.json")
		before := readFile(t, r.docker)
		if err := os.Chmod(r.docker, 0o640); err != nil {
			t.Fatal(err)
		}
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if m := mode(t, r.docker); m != 0o640 {
			t.Errorf("mode %o, want 640", m)
		}
		if got := readFile(t, r.docker+".bak"); got != before {
			t.Errorf("backup differs from the old content:\n%s", got)
		}
		if m := mode(t, r.docker+".bak"); m != 0o640 {
			t.Errorf("backup mode %o, want 640", m)
		}
		assertNoTemp(t, filepath.Dir(r.docker))
	})
	t.Run("twice: the second run writes nothing and says so", func(t *testing.T) {
		r := newConfigureDir(t, "four-spaces-helpers.in.json")
		r.run(t, ConfigureOptions{Registries: []string{"myreg", "otherreg"}}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		st1, _ := os.Stat(r.docker)
		bak1 := readFile(t, r.docker+".bak")
		r.run(t, ConfigureOptions{Registries: []string{"otherreg", "myreg.azurecr.io"}}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		st2, _ := os.Stat(r.docker)
		if !os.SameFile(st1, st2) || !st1.ModTime().Equal(st2.ModTime()) {
			t.Error("the second run replaced config.json")
		}
		if readFile(t, r.docker+".bak") != bak1 {
			t.Error("the second run replaced the backup")
		}
		golden(t, "second-run.stdout", r.stdout)
	})
	t.Run("configure then remove restores the file", func(t *testing.T) {
		for _, in := range []string{"tabs-secrets.in.json", "compact.in.json", "empty-object.in.json"} {
			r := newConfigureDir(t, in)
			before := readFile(t, r.docker)
			r.run(t, ConfigureOptions{Registries: []string{"myreg", "otherreg"}}, false)
			r.run(t, ConfigureOptions{Registries: []string{"myreg", "otherreg"}, Remove: true}, false)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if after := readFile(t, r.docker); after != before && !(in == "empty-object.in.json" && after == "{}\n") {
				t.Errorf("%s: configure then --remove gave\n%s\nnot the original\n%s", in, after, before)
			}
		}
	})
	t.Run("symlink is written through and stays a link", func(t *testing.T) {
		r := newConfigureDir(t, "")
		real := filepath.Join(r.dir, "dotfiles", "docker.json")
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(real, []byte("{\n  \"auths\": {}\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(r.docker), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../dotfiles/docker.json", r.docker); err != nil {
			t.Fatal(err)
		}
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if li, err := os.Lstat(r.docker); err != nil || li.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("config.json is no longer a symlink (%v)", err)
		}
		if got := readFile(t, real); !strings.Contains(got, `"myreg.azurecr.io": "acr"`) || !strings.Contains(got, `"auths": {}`) {
			t.Errorf("the link's target is\n%s", got)
		}
		if m := mode(t, real); m != 0o644 {
			t.Errorf("target mode %o, want 644", m)
		}
		if _, err := os.Stat(real + ".bak"); err != nil {
			t.Errorf("no backup next to the target: %v", err)
		}
		assertNoTemp(t, filepath.Dir(real))
	})
	t.Run("read-only file: error, nothing written anywhere", func(t *testing.T) {
		r := newConfigureDir(t, "compact.in.json")
		before := readFile(t, r.docker)
		if err := os.Chmod(r.docker, 0o444); err != nil {
			t.Fatal(err)
		}
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, false)
		if r.err == nil || !strings.Contains(r.err.Error(), "is read-only (mode 0444)") || !strings.Contains(r.err.Error(), "chmod u+w") {
			t.Fatalf("err = %v, want a read-only refusal", r.err)
		}
		if readFile(t, r.docker) != before {
			t.Error("the read-only file changed")
		}
		if _, err := os.Stat(r.containers); err == nil {
			t.Error("auth.json was written although config.json was refused")
		}
		assertNoTemp(t, filepath.Dir(r.docker))
	})
	t.Run("invalid JSON: line and column, the other file not created", func(t *testing.T) {
		r := newConfigureDir(t, "invalid-trailing-comma.in.json")
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, false)
		if r.err == nil || !strings.Contains(r.err.Error(), "line 4, column 3") {
			t.Fatalf("err = %v, want line 4, column 3", r.err)
		}
		if _, err := os.Stat(r.containers); err == nil {
			t.Error("auth.json was written although config.json was refused")
		}
	})
	t.Run("dry run: the diff, nothing written", func(t *testing.T) {
		r := newConfigureDir(t, "four-spaces-helpers.in.json")
		before := readFile(t, r.docker)
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}, DryRun: true}, false)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if readFile(t, r.docker) != before {
			t.Error("a dry run changed config.json")
		}
		for _, p := range []string{r.containers, r.docker + ".bak", filepath.Dir(r.containers)} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("a dry run created %s", p)
			}
		}
		golden(t, "dry-run.diff", r.stdout)
		if !strings.Contains(r.stderr, "dry run, nothing written: DIR/docker/config.json: added myreg.azurecr.io") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
	})
	t.Run("PATH warning only when the binary is missing", func(t *testing.T) {
		for _, missing := range []bool{false, true} {
			r := newConfigureDir(t, "")
			r.run(t, ConfigureOptions{Registries: []string{"myreg"}}, missing)
			if got := strings.Contains(r.stderr, "docker-credential-acr is not on PATH"); got != missing {
				t.Errorf("binary missing %v: warning %v:\n%s", missing, got, r.stderr)
			}
		}
	})
	t.Run("one file named twice is edited once", func(t *testing.T) {
		r := newConfigureDir(t, "compact.in.json")
		r.run(t, ConfigureOptions{Registries: []string{"myreg"}, ContainersAuth: r.docker}, false)
		if r.err != nil || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("err %v, stdout:\n%s", r.err, r.stdout)
		}
	})
	t.Run("default paths from the environment", func(t *testing.T) {
		env := map[string]string{"HOME": "/h"}
		get := func(k string) string { return env[k] }
		check := func(f func(func(string) string) (string, error), want string) {
			t.Helper()
			if got, err := f(get); err != nil || got != want {
				t.Errorf("got %q, %v; want %q", got, err, want)
			}
		}
		check(DockerConfigPath, "/h/.docker/config.json")
		check(ContainersAuthPath, "/h/.config/containers/auth.json")
		env["XDG_RUNTIME_DIR"], env["DOCKER_CONFIG"] = "/run/user/7", "/d"
		check(DockerConfigPath, "/d/config.json")
		check(ContainersAuthPath, "/run/user/7/containers/auth.json")
		env["REGISTRY_AUTH_FILE"] = "/a.json"
		check(ContainersAuthPath, "/a.json")
		delete(env, "HOME")
		delete(env, "DOCKER_CONFIG")
		if _, err := DockerConfigPath(get); err == nil || !strings.Contains(err.Error(), "--docker-config") {
			t.Errorf("no HOME: %v", err)
		}
	})
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}
}

func TestBareRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"myreg": "myreg.azurecr.io", "MyReg01": "MyReg01.azurecr.io", "my-reg": "my-reg", "myreg.azurecr.io": "myreg.azurecr.io",
		"myreg:443": "myreg:443", "": "", "https://myreg": "https://myreg", "myrég": "myrég",
	} {
		if got := bareRegistryHost(in); got != want {
			t.Errorf("bareRegistryHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	tests := []struct{ old, new, want string }{
		{"a\nb\n", "a\nb\n", ""},
		{"", "x\n", "--- f\n+++ f\n@@ -0,0 +1 @@\n+x\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", "--- f\n+++ f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"},
		{"a", "b", "--- f\n+++ f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n",
			"--- f\n+++ f\n@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n@@ -10,3 +11,4 @@\n 10\n 11\n 12\n+13\n"},
	}
	for _, tt := range tests {
		if got := unifiedDiff("f", "f", []byte(tt.old), []byte(tt.new)); got != tt.want {
			t.Errorf("diff of %q and %q:\n%s\nwant\n%s", tt.old, tt.new, got, tt.want)
		}
	}
}
