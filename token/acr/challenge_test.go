package acr

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	type m = map[string]string
	tests := []struct {
		name    string
		headers []string
		want    []authChallenge
		wantErr string // substring of the error; "" means success
	}{
		{
			name:    "acr",
			headers: []string{`Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io"`},
			want:    []authChallenge{{"bearer", m{"realm": "https://myreg.azurecr.io/oauth2/token", "service": "myreg.azurecr.io"}}},
		},
		{
			name:    "params in another order with spaces and extra params",
			headers: []string{`Bearer  service = "myreg.azurecr.io" ,  scope="repository:x:pull",realm="https://r/t", error=invalid_token`},
			want: []authChallenge{{"bearer", m{
				"service": "myreg.azurecr.io", "scope": "repository:x:pull", "realm": "https://r/t", "error": "invalid_token",
			}}},
		},
		{
			name:    "case-insensitive scheme and names, values kept",
			headers: []string{`BEARER Realm="https://R/T",SERVICE=MyReg`},
			want:    []authChallenge{{"bearer", m{"realm": "https://R/T", "service": "MyReg"}}},
		},
		{
			name:    "unquoted token values",
			headers: []string{`Bearer realm=abc,service=my-reg.azurecr.io`},
			want:    []authChallenge{{"bearer", m{"realm": "abc", "service": "my-reg.azurecr.io"}}},
		},
		{
			name:    "quoted-pair escapes",
			headers: []string{`Bearer realm="a\"b\\c\d", service="x,y=z"`},
			want:    []authChallenge{{"bearer", m{"realm": `a"b\cd`, "service": "x,y=z"}}},
		},
		{
			name:    "empty quoted value",
			headers: []string{`Bearer realm="", service="s"`},
			want:    []authChallenge{{"bearer", m{"realm": "", "service": "s"}}},
		},
		{
			name:    "several challenges in one header",
			headers: []string{`Basic realm="basic", Bearer realm="https://r/t",service="s", Newauth`},
			want: []authChallenge{
				{"basic", m{"realm": "basic"}},
				{"bearer", m{"realm": "https://r/t", "service": "s"}},
				{"newauth", m{}},
			},
		},
		{
			name:    "several header lines",
			headers: []string{`Basic realm="b"`, `Bearer realm="https://r/t"`},
			want:    []authChallenge{{"basic", m{"realm": "b"}}, {"bearer", m{"realm": "https://r/t"}}},
		},
		{
			name:    "token68 challenges are skipped",
			headers: []string{`Negotiate YIIabc+/==, Bearer realm="https://r/t", NTLM abc`},
			want:    []authChallenge{{"bearer", m{"realm": "https://r/t"}}},
		},
		{
			name:    "token68 ending in = before a challenge",
			headers: []string{`Foo abc=, Bearer realm=x`},
			want:    []authChallenge{{"bearer", m{"realm": "x"}}},
		},
		{
			name:    "empty list elements and surrounding whitespace",
			headers: []string{` , ,Bearer realm="https://r/t" ,, service="s" , , `, "", "  ", ","},
			want:    []authChallenge{{"bearer", m{"realm": "https://r/t", "service": "s"}}},
		},
		{
			name:    "tabs as whitespace",
			headers: []string{"Bearer\trealm\t=\t\"x\"\t,\tservice=s"},
			want:    []authChallenge{{"bearer", m{"realm": "x", "service": "s"}}},
		},
		{
			name:    "scheme alone",
			headers: []string{`Bearer`},
			want:    []authChallenge{{"bearer", m{}}},
		},
		{
			name:    "obs-text in a quoted value",
			headers: []string{"Bearer realm=\"caf\xc3\xa9\""},
			want:    []authChallenge{{"bearer", m{"realm": "café"}}},
		},
		{name: "no headers", headers: nil, want: nil},

		// Malformed.
		{name: "unterminated quote", headers: []string{`Bearer realm="https://r/t,service="s`}, wantErr: "expected ','"},
		{name: "unterminated quote at end", headers: []string{`Bearer realm="https://r/t`}, wantErr: "unterminated quoted string"},
		{name: "backslash at end", headers: []string{`Bearer realm="abc\`}, wantErr: "unterminated quoted string"},
		{name: "missing =", headers: []string{`Bearer realm "https://r/t"`}, wantErr: "expected '=' after parameter \"realm\""},
		{name: "missing value", headers: []string{`Bearer realm=,service="s"`}, wantErr: "expected a space after auth-scheme \"service\""},
		{name: "missing value at end", headers: []string{`Bearer service="s", realm=`}, wantErr: "expected a token or quoted-string value"},
		{name: "missing comma", headers: []string{`Bearer realm="a" service="s"`}, wantErr: "expected ','"},
		{name: "unquoted URL", headers: []string{`Bearer realm=https://r/t,service=s`}, wantErr: "expected ','"},
		{name: "duplicate parameter", headers: []string{`Bearer realm="https://r/t", REALM="https://evil/t"`}, wantErr: "appears twice"},
		{name: "garbage", headers: []string{`"}{`}, wantErr: "expected an auth-scheme"},
		{name: "equals first", headers: []string{`=abc`}, wantErr: "expected an auth-scheme"},
		{name: "no space after scheme", headers: []string{`Bearer"realm"`}, wantErr: "expected a space"},
		{name: "control char in quoted value", headers: []string{"Bearer realm=\"a\x01b\""}, wantErr: "invalid character"},
		{name: "newline in quoted value", headers: []string{"Bearer realm=\"a\nb\""}, wantErr: "invalid character"},
		{name: "invalid escape", headers: []string{"Bearer realm=\"a\\\x01\""}, wantErr: "invalid escape"},
		{name: "bad second line", headers: []string{`Bearer realm="x"`, `Basic realm="y`}, wantErr: "line 2"},
		{name: "param name garbage", headers: []string{`Bearer realm="x", ="y"`}, wantErr: "expected an auth-scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseChallenges(tt.headers)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseChallenges(%q) = %v, want error containing %q", tt.headers, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseChallenges(%q) error = %q, want it to contain %q", tt.headers, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "malformed WWW-Authenticate header") {
					t.Errorf("error %q does not say what was malformed", err)
				}
				if got != nil {
					t.Errorf("parseChallenges returned %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseChallenges(%q) error: %v", tt.headers, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseChallenges(%q)\n got %#v\nwant %#v", tt.headers, got, tt.want)
			}
		})
	}
}

// FuzzParseChallenges: whatever the header, the result is a well-formed
// list of challenges within the caps, or an error and nothing; what it
// accepts reads back the same when written out again; errors quote no
// control character and stay short.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io"`,
		`Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io",scope="repository:app:pull"`,
		`Basic realm="b", Bearer realm=x, Negotiate abc==`,
		`Bearer realm="a\"b", , service = s`,
		`Bearer realm="unterminated`,
		`Bearer realm`,
		`=,"\`,
		"Bearer\trealm=\"\xff\"",
		strings.Repeat("Basic,", maxChallenges+1),
		"Bearer " + strings.Repeat("p=v,", maxChallengeParams+1),
	} {
		f.Add(s, "")
		f.Add(s, `Bearer realm="x"`)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		cs, err := parseChallenges([]string{a, b})
		if err != nil {
			if cs != nil {
				t.Fatalf("result %v returned with error %v", cs, err)
			}
			msg := err.Error()
			if len(msg) > 300 || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("error quotes the header: %q", msg)
			}
			return
		}
		if len(a)+len(b) > maxChallengeBytes || len(cs) > maxChallenges {
			t.Fatalf("accepted %d bytes, %d challenges", len(a)+len(b), len(cs))
		}
		params := 0
		for _, c := range cs {
			if c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) || c.Params == nil {
				t.Fatalf("bad challenge %#v", c)
			}
			for k := range c.Params {
				if k == "" || k != strings.ToLower(k) {
					t.Fatalf("bad parameter name %q", k)
				}
			}
			params += len(c.Params)
		}
		if params > maxChallengeParams {
			t.Fatalf("accepted %d parameters", params)
		}
		// parse(serialize(x)) == x, as one line and as one line per
		// challenge.
		lines := make([]string, len(cs))
		for i, c := range cs {
			lines[i] = writeChallenge(c)
		}
		for _, headers := range [][]string{{strings.Join(lines, ", ")}, lines} {
			if len(strings.Join(headers, "")) > maxChallengeBytes {
				continue // quoting made it longer than the cap
			}
			again, err := parseChallenges(headers)
			if err != nil || !reflect.DeepEqual(again, cs) {
				t.Fatalf("%q parsed as %#v; written out as %q it parses as %#v, %v", []string{a, b}, cs, headers, again, err)
			}
		}
	})
}

// writeChallenge writes c as a header would carry it, with every value
// quoted and escaped.
func writeChallenge(c authChallenge) string {
	keys := slices.Sorted(maps.Keys(c.Params))
	var b strings.Builder
	b.WriteString(c.Scheme)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(", ")
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(c.Params[k])
		b.WriteString(k + `="` + v + `"`)
	}
	return b.String()
}
