package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOneTableDrivesEnvAndFile: every setting with a variable is checked
// by the same row whether it comes from the environment or the file, so
// the same value gives the same verdict, the same core message and the
// same effective setting; only the context differs.
func TestOneTableDrivesEnvAndFile(t *testing.T) {
	bad := map[string]string{
		"sources":   "managed,imds",
		"clientID":  "my-app",
		"tenantID":  "contoso tenant",
		"scope":     "https://a/.default https://b/.default",
		"audience":  "management",
		"username":  "admin",
		"challenge": "never",
		"timeout":   "10",
	}
	good := map[string]string{
		"sources":   "github,Managed",
		"clientID":  "11111111-1111-1111-1111-111111111111",
		"tenantID":  "contoso.onmicrosoft.com",
		"scope":     "api://x/.default",
		"audience":  "ACR-then-ARM",
		"username":  "zero-guid",
		"challenge": "Always",
		"timeout":   "1m30s",
	}
	withEnv := 0
	for _, row := range table() {
		if row.env == "" {
			continue
		}
		withEnv++
		t.Run(row.key, func(t *testing.T) {
			v, ok := bad[row.key]
			if !ok {
				t.Fatalf("no bad value for %s: add one", row.key)
			}
			_, envErr := (&Config{}).Resolve("myreg.azurecr.io", env{row.env: v}.get)
			_, fileErr := Parse([]byte("default:\n  " + row.key + ": " + strconv.Quote(v) + "\n"))
			if envErr == nil || fileErr == nil {
				t.Fatalf("env error %v, file error %v: both must refuse %q", envErr, fileErr, v)
			}
			envCore, ok := strings.CutPrefix(envErr.Error(), row.env+": ")
			if !ok {
				t.Errorf("env error %q does not start with %q", envErr, row.env+": ")
			}
			fileCore, ok := strings.CutPrefix(fileErr.Error(), "line 2: "+row.key+": ")
			if !ok {
				t.Errorf("file error %q does not start with %q", fileErr, "line 2: "+row.key+": ")
			}
			if envCore != fileCore || envCore == "" {
				t.Errorf("one value, two wordings:\n env  %q\n file %q", envCore, fileCore)
			}

			v = good[row.key]
			fromEnv, err := (&Config{}).Resolve("myreg.azurecr.io", env{row.env: " " + v + " "}.get)
			if err != nil {
				t.Fatalf("env %s=%q: %v", row.env, v, err)
			}
			c, err := Parse([]byte("default:\n  " + row.key + ": " + strconv.Quote(v) + "\n"))
			if err != nil {
				t.Fatalf("file %s: %q: %v", row.key, v, err)
			}
			fromFile, err := c.Resolve("myreg.azurecr.io", env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			// Only where they came from may differ.
			fromEnv.From, fromFile.From = SettingsFrom{}, SettingsFrom{}
			if !reflect.DeepEqual(fromEnv, fromFile) {
				t.Errorf("one value, two settings:\n env  %+v\n file %+v", fromEnv, fromFile)
			}
		})
	}
	if withEnv != len(bad) {
		t.Errorf("%d rows have a variable, the test knows %d", withEnv, len(bad))
	}
}

// The row indexes that relate settings name the rows they mean, and every
// row is complete.
func TestTableRows(t *testing.T) {
	rows := table()
	for i, key := range map[int]string{rowSources: "sources", rowClientID: "clientID", rowResourceID: "resourceID", rowObjectID: "objectID", rowTenantID: "tenantID", rowScope: "scope", rowAudience: "audience", rowUsername: "username", rowChallenge: "challenge", rowTimeout: "timeout"} {
		if rows[i].key != key {
			t.Errorf("row %d is %q, want %q", i, rows[i].key, key)
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if (r.parse == nil) == (r.parseList == nil) || r.has == nil || r.take == nil {
			t.Errorf("row %q: exactly one of parse and parseList, and has and take, must be set", r.key)
		}
		if r.ambient != "" && r.parse == nil {
			t.Errorf("row %q: an ambient variable needs parse", r.key)
		}
		if seen[r.key] || seen[r.env] {
			t.Errorf("row %q: key or variable repeated", r.key)
		}
		seen[r.key] = true
		if r.env != "" {
			seen[r.env] = true
			if !strings.HasPrefix(r.env, "DOCKER_CREDENTIAL_ACR_") {
				t.Errorf("row %q: variable %q", r.key, r.env)
			}
		}
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"a,b":          {"a", "b"},
		" a , b ,":     {"a", "b"},
		"a,,b":         {"a", "b"},
		" , ":          nil,
		"":             nil,
		"workload":     {"workload"},
		"a, b c ,d\t,": {"a", "b c", "d"},
	} {
		if got := splitList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDecodeShape: the walk over the yaml.Node tree reports what the
// strict struct decode reported, in the file's words, and follows
// anchors, aliases and merge keys as yaml.v3 did.
func TestDecodeShape(t *testing.T) {
	rejects := []struct {
		name, yaml string
		want       string // the whole message
	}{
		{"scalar document", "hello\n", "line 1: cannot unmarshal !!str `hello` into the top-level mapping"},
		{"list document", "[1]\n", "line 1: cannot unmarshal !!seq into the top-level mapping"},
		{"default a string", "default: \"\"\n", "line 1: cannot unmarshal !!str `` into a registry entry"},
		{"default a list", "default: []\n", "line 1: cannot unmarshal !!seq into a registry entry"},
		{"registries a mapping", "registries: {a: 1}\n", "line 1: cannot unmarshal !!map into a list of registry entries"},
		{"registries a long string", "registries: myreg.azurecr.io\n", "line 1: cannot unmarshal !!str `myreg.a...` into a list of registry entries"},
		{"cloud a number", "clouds: [1]\n", "line 1: cannot unmarshal !!int `1` into a cloud entry"},
		{"clouds a string", "clouds: x\n", "line 1: cannot unmarshal !!str `x` into a list of clouds"},
		{"numeric key", "1: x\n", `line 1: unknown key "1" at the top level; valid keys are default, registries, clouds, mirrors`},
		{"list as key", "? [a]\n: b\n", "line 1: cannot unmarshal !!seq into string"},
		{"unknown key in an entry", "default: {clientid: x}\n", `line 1: unknown key "clientid" in the default entry or a registry entry (match: registries only) (did you mean "clientID"?); valid keys are match, sources, clientID, resourceID, objectID, tenantID, scope, audience, username, challenge, timeout`},
		{"unknown key in a cloud", "clouds:\n  - Suffix: x\n", `line 2: unknown key "Suffix" in a cloud entry (did you mean "suffix"?); valid keys are name, suffix, authorityHost, scope, armScope`},
		{"key twice", "default:\n  sources: [cli]\ndefault:\n  sources: [cli]\n", `line 3: mapping key "default" already defined at line 1`},
		{"key twice in an entry", "registries:\n  - match: myreg.azurecr.io\n    match: other.azurecr.io\n", `line 3: mapping key "match" already defined at line 2`},
		{"unknown key merged", "registries:\n  - match: myreg.azurecr.io\n    <<: {bogus: 1}\n", `line 3: unknown key "bogus" in the default entry or a registry entry (match: registries only); valid keys are match, sources, clientID, resourceID, objectID, tenantID, scope, audience, username, challenge, timeout`},
		{"merge of a number", "registries:\n  - match: myreg.azurecr.io\n    <<: 3\n", "not valid YAML: map merge requires map or sequence of maps as the value"},
		{"unknown key, then a second document", "bogus: 1\n---\ndefault: {}\n", `line 1: unknown key "bogus" at the top level; valid keys are default, registries, clouds, mirrors`},
		{"second document with a syntax error", "default: {}\n---\n: [\n", "more than one YAML document; keep the whole configuration in one"},
		{"mapping merged into itself", "registries:\n  - &e\n    match: myreg.azurecr.io\n    <<: *e\n", "not valid YAML: anchor 'e' value contains itself"},
		{"clouds alias to registries", "registries: &r\n  - match: myreg.azurecr.io\nclouds: *r\n", `line 2: unknown key "match" in a cloud entry; valid keys are name, suffix, authorityHost, scope, armScope`},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n %v\nwant\n %s", err, tt.want)
			}
		})
	}

	// Null entries are left out, as yaml.v3 left them out of a slice of
	// structs; nulls where mappings belong are empty.
	for _, y := range []string{"~\n", "", "# nothing\n", "default: ~\nregistries: ~\nclouds: ~\n", "registries:\n  - ~\nclouds:\n  - ~\n"} {
		c, err := Parse([]byte(y))
		if err != nil || len(c.exact)+len(c.wild)+len(c.clouds) != 0 {
			t.Errorf("%q: %+v, %v", y, c, err)
		}
	}

	// Merge keys: the mapping's own keys win, then the merged mappings'.
	c := mustParse(t, `
default: &base
  sources: [cli]
  tenantID: base.onmicrosoft.com
registries:
  - <<: *base
    match: myreg.azurecr.io
    sources: [managed]
  - match: other.azurecr.io
    <<: [{tenantID: first.onmicrosoft.com}, {tenantID: second.onmicrosoft.com, username: zero-guid}]
`)
	s, err := c.Resolve("myreg.azurecr.io", env{}.get)
	if err != nil || !reflect.DeepEqual(s.Sources, []string{"managed"}) || s.TenantID != "base.onmicrosoft.com" || s.Match != "myreg.azurecr.io" {
		t.Errorf("merged entry: %+v, %v", s, err)
	}
	s, err = c.Resolve("other.azurecr.io", env{}.get)
	if err != nil || s.TenantID != "first.onmicrosoft.com" || s.UsernameForm != UsernameZeroGUID {
		t.Errorf("merged list: %+v, %v", s, err)
	}
}

// TestTimeoutSetting: the timeout is a Go duration within 1s..10m, the
// variable beats a registry's entry, which beats the default entry, and
// nothing set means zero: the front end's own default.
func TestTimeoutSetting(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want time.Duration
		bad  string // part of the problem, or "" for a good value
	}{
		{"10s", 10 * time.Second, ""},
		{"1s", time.Second, ""},
		{"10m", 10 * time.Minute, ""},
		{"1m30s", 90 * time.Second, ""},
		{"2500ms", 2500 * time.Millisecond, ""},
		{"999ms", 0, "outside 1s to 10m"},
		{"10m1s", 0, "outside 1s to 10m"},
		{"0", 0, "outside 1s to 10m"},
		{"-5s", 0, "outside 1s to 10m"},
		{"30", 0, `"30" is not a duration; use a number with its unit`},
		{"soon", 0, "is not a duration"},
		{strings.Repeat("9", 40) + "s", 0, "the value is not a duration"},
	} {
		s, err := (&Config{}).Resolve("myreg.azurecr.io", env{EnvTimeout: tt.v}.get)
		switch {
		case tt.bad == "" && (err != nil || s.Timeout != tt.want || s.From.Timeout != EnvTimeout):
			t.Errorf("%s=%q: %v (from %q), %v; want %v", EnvTimeout, tt.v, s.Timeout, s.From.Timeout, err, tt.want)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad) || !strings.HasPrefix(err.Error(), EnvTimeout+": ")):
			t.Errorf("%s=%q: error %v, want one with %q", EnvTimeout, tt.v, err, tt.bad)
		}
	}

	c := mustParse(t, "default:\n  timeout: 20s\nregistries:\n  - match: myreg.azurecr.io\n    timeout: 45s\n")
	for _, tt := range []struct {
		host string
		env  env
		want time.Duration
	}{
		{"myreg.azurecr.io", env{}, 45 * time.Second},
		{"other.azurecr.io", env{}, 20 * time.Second},
		{"myreg.azurecr.io", env{EnvTimeout: "3s"}, 3 * time.Second},
	} {
		s, err := c.Resolve(tt.host, tt.env.get)
		if err != nil || s.Timeout != tt.want {
			t.Errorf("%s with %v: %v, %v; want %v", tt.host, tt.env, s.Timeout, err, tt.want)
		}
	}
	s, err := (&Config{}).Resolve("myreg.azurecr.io", env{}.get)
	if err != nil || s.Timeout != 0 || s.From.Timeout != "the built-in default" {
		t.Errorf("unset: %v from %q, %v; want 0 from the built-in default", s.Timeout, s.From.Timeout, err)
	}
	// The timeout selects no identity or token: a cached token is shared
	// whatever the timeout.
	a, _ := c.Resolve("myreg.azurecr.io", env{}.get)
	b, _ := c.Resolve("myreg.azurecr.io", env{EnvTimeout: "3s"}.get)
	if a.Selector() != b.Selector() {
		t.Errorf("the timeout changed the selector: %q, %q", a.Selector(), b.Selector())
	}
}
