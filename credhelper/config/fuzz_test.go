package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
)

// FuzzParse: any file gives a config or an error, never both; errors
// carry no control character (they are printed to a terminal) but the
// line breaks between problems; an accepted config holds no control
// character anywhere, its registry matches are login servers under the
// built-in suffixes or the clouds it declares itself, every one of them
// resolves to usable scopes, and parsing is deterministic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yaml", "unknown-key.yaml"} {
		data, err := os.ReadFile("testdata/config/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"default: {tenantID: \"\\x1b[31m\"}\n",
		"default: \"\\x1b[31mred\"\n",
		"registries:\n  - match: \"*.azurecr.io\"\n    clientID: 11111111-1111-1111-1111-111111111111\n",
		"registries:\n  - match: myreg.azurecr.io.evil.com\n",
		"a: &x {b: *x}\n",
		"default: &d {sources: [cli]}\nregistries:\n  - <<: *d\n    match: r.azurecr.io\n",
		"clouds:\n  - {name: s, suffix: azurecr.contoso.local, authorityHost: \"https://login.contoso.local/\"}\nregistries:\n  - match: r.azurecr.contoso.local\n",
		"mirrors:\n  - {upstream: docker.io, registry: m.azurecr.io}\n",
		"---\n---\n",
		"default:\n  tenantID: [a]\n  tenantID: b\n",
	} {
		f.Add([]byte(s))
	}
	builtin := loginserver.Suffixes()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatalf("config %+v returned with error %v", c, err)
			}
			if i := strings.IndexFunc(strings.ReplaceAll(err.Error(), "\n  ", " "), isControl); i >= 0 {
				t.Fatalf("error has a control character at %d: %q", i, err)
			}
			return
		}
		if path, ok := controlIn(reflect.ValueOf(*c), "Config"); ok {
			t.Fatalf("accepted a control character in %s", path)
		}
		again, err := Parse(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("parsed twice: %+v, then %+v, %v", c, again, err)
		}
		suffixes := append([]string{}, builtin...)
		for _, cl := range c.clouds {
			suffixes = append(suffixes, "."+cl.Suffix)
		}
		under := func(host string) bool {
			for _, s := range suffixes {
				if strings.HasSuffix(host, s) {
					return true
				}
			}
			return false
		}
		for host := range c.exact {
			reg, err := loginserver.Parse(host, c.clouds...)
			if err != nil || reg.Host != host || !under(host) {
				t.Fatalf("match %q accepted: %+v, %v", host, reg, err)
			}
			s, err := c.ResolveRegistry(reg, func(string) string { return "" })
			if err == nil && (len(s.Scopes) == 0 || strings.Contains(strings.Join(s.Scopes, "\x00")+"\x00", "\x00\x00") || s.Scopes[0] == "") {
				t.Fatalf("%s resolves to scopes %q", host, s.Scopes)
			}
		}
		for suffix := range c.wild {
			if _, err := loginserver.Parse("sample."+suffix, c.clouds...); err != nil || !under("sample."+suffix) {
				t.Fatalf("pattern *.%s accepted: %v", suffix, err)
			}
		}
	})
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// controlIn finds a string with a control character anywhere in v.
func controlIn(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, strings.ContainsFunc(v.String(), isControl)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", false
		}
		return controlIn(v.Elem(), path)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p, ok := controlIn(v.Field(i), path+"."+v.Type().Field(i).Name); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p, ok := controlIn(v.Index(i), path+"[]"); ok {
				return p, true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p, ok := controlIn(it.Key(), path+"{key}"); ok {
				return p, true
			}
			if p, ok := controlIn(it.Value(), path+"{}"); ok {
				return p, true
			}
		}
	}
	return "", false
}
