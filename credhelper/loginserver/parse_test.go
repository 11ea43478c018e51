package loginserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

func testStackSuffix() CloudSuffix {
	return CloudSuffix{
		Suffix: "azurecr.contoso.local",
		Cloud:  token.Cloud{Name: "stack", AuthorityHost: "https://login.contoso.local/"},
		Scope:  "https://containerregistry.contoso.local/.default",
	}
}

func TestParseAccepts(t *testing.T) {
	public := token.PublicCloud()
	tests := []struct {
		in                       string
		host, name, hash, region string
		form                     Form
		cloud                    string
		scope                    string
	}{
		// The five spellings of one registry, and their combinations.
		{in: "myreg.azurecr.io", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "https://myreg.azurecr.io", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "myreg.azurecr.io/", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "MyReg.AzureCR.io", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "myreg.azurecr.io:443", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "https://myreg.azurecr.io:443/", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "https://myreg.azurecr.io/", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "HTTPS://MYREG.AZURECR.IO:443", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		{in: "myreg.azurecr.io:443/", host: "myreg.azurecr.io", name: "myreg", form: FormStandard, cloud: "public"},
		// Name lengths at the limits; names may start with a digit.
		{in: "abcde.azurecr.io", host: "abcde.azurecr.io", name: "abcde", form: FormStandard, cloud: "public"},
		{in: strings.Repeat("a", 50) + ".azurecr.io", host: strings.Repeat("a", 50) + ".azurecr.io", name: strings.Repeat("a", 50), form: FormStandard, cloud: "public"},
		{in: "2024registry.azurecr.io", host: "2024registry.azurecr.io", name: "2024registry", form: FormStandard, cloud: "public"},
		// Sovereign clouds.
		{in: "myreg.azurecr.cn", host: "myreg.azurecr.cn", name: "myreg", form: FormStandard, cloud: "china"},
		{in: "myreg.azurecr.us", host: "myreg.azurecr.us", name: "myreg", form: FormStandard, cloud: "usgov"},
		// DNL, with real hashes from Azure docs and public repositories.
		{in: "contosoacrregistry-e7ggejfuhzhgedc8.azurecr.io", host: "contosoacrregistry-e7ggejfuhzhgedc8.azurecr.io", name: "contosoacrregistry", hash: "e7ggejfuhzhgedc8", form: FormDNL, cloud: "public"},
		{in: "https://fluidmirror-a5dqhgefbwhmbtag.azurecr.io/", host: "fluidmirror-a5dqhgefbwhmbtag.azurecr.io", name: "fluidmirror", hash: "a5dqhgefbwhmbtag", form: FormDNL, cloud: "public"},
		{in: "myreg-abcdefgh12345678.azurecr.us", host: "myreg-abcdefgh12345678.azurecr.us", name: "myreg", hash: "abcdefgh12345678", form: FormDNL, cloud: "usgov"},
		// Regional (geo-replica) endpoints, plain and DNL.
		{in: "myreg.eastus2.geo.azurecr.io", host: "myreg.eastus2.geo.azurecr.io", name: "myreg", region: "eastus2", form: FormRegional, cloud: "public"},
		{in: "https://MyReg.WestEurope.geo.azurecr.io:443/", host: "myreg.westeurope.geo.azurecr.io", name: "myreg", region: "westeurope", form: FormRegional, cloud: "public"},
		{in: "myreg-e7ggejfuhzhgedc8.chinanorth3.geo.azurecr.cn", host: "myreg-e7ggejfuhzhgedc8.chinanorth3.geo.azurecr.cn", name: "myreg", hash: "e7ggejfuhzhgedc8", region: "chinanorth3", form: FormRegional, cloud: "china"},
		// A configured custom cloud.
		{in: "myreg.azurecr.contoso.local", host: "myreg.azurecr.contoso.local", name: "myreg", form: FormStandard, cloud: "stack", scope: "https://containerregistry.contoso.local/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, testStackSuffix())
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if got.Host != tt.host || got.Name != tt.name || got.DNLHash != tt.hash || got.Region != tt.region || got.Form != tt.form || got.Cloud.Name != tt.cloud {
				t.Errorf("got %+v\nwant host=%s name=%s hash=%s region=%s form=%v cloud=%s", got, tt.host, tt.name, tt.hash, tt.region, tt.form, tt.cloud)
			}
			wantScope := tt.scope
			if wantScope == "" {
				wantScope = token.DefaultScope
			}
			if got.Scope != wantScope {
				t.Errorf("Scope = %q, want %q", got.Scope, wantScope)
			}
			if got.Cloud.Name == "public" && (got.Cloud.AuthorityHost != public.AuthorityHost || got.Cloud.ARMScope != token.ARMScope) {
				t.Errorf("public cloud = %+v", got.Cloud)
			}
			if got.Cloud.Name != "stack" && got.Cloud.ARMScope == "" {
				t.Errorf("built-in cloud %s has no ARM scope", got.Cloud.Name)
			}
		})
	}
}

func TestParseClouds(t *testing.T) {
	for _, tt := range []struct {
		in             string
		cloud          token.Cloud
		authority, arm string
	}{
		{"myreg.azurecr.io", token.PublicCloud(), "https://login.microsoftonline.com/", "https://management.azure.com/.default"},
		{"myreg.azurecr.cn", token.ChinaCloud(), "https://login.chinacloudapi.cn/", "https://management.core.chinacloudapi.cn/.default"},
		{"myreg.azurecr.us", token.USGovCloud(), "https://login.microsoftonline.us/", "https://management.core.usgovcloudapi.net/.default"},
	} {
		got, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		// token's cloud as it is, so that callers may compare with it.
		if got.Cloud != tt.cloud {
			t.Errorf("%s: cloud %+v, want token's %+v", tt.in, got.Cloud, tt.cloud)
		}
		if got.Cloud.AuthorityHost != tt.authority || got.Cloud.ARMScope != tt.arm {
			t.Errorf("%s: authority %q and ARM scope %q, want %q and %q", tt.in, got.Cloud.AuthorityHost, got.Cloud.ARMScope, tt.authority, tt.arm)
		}
	}
}

// TestParseRejects is the security boundary: each input must be
// refused, and the reason must mention the given fragment.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		in   string
		why  string
		with []CloudSuffix
	}{
		// Look-alikes and suffix tricks.
		{in: "myreg.azurecr.io.evil.com", why: "look-alike"},
		{in: "https://myreg.azurecr.io.evil.com/", why: "look-alike"},
		{in: "evilazurecr.io", why: "look-alike"},
		{in: "myreg.evilazurecr.io", why: "look-alike"},
		{in: "myreg-azurecr.io", why: "look-alike"},
		{in: "myreg.azurecr.io-evil.com", why: "look-alike"},
		{in: "myreg.azurecr.com", why: "not under a known ACR suffix"},
		{in: "myreg.azurecr.de", why: "not under a known ACR suffix"},
		{in: "azurecr.io", why: "bare registry suffix"},
		{in: ".azurecr.io", why: "empty label"},
		{in: "myreg.azurecr.io.", why: "ends with a dot"},
		{in: "https://myreg.azurecr.io./", why: "ends with a dot"},
		{in: "myreg..azurecr.io", why: "empty label"},
		{in: "myreg.azurecr..io", why: "not under a known ACR suffix"},
		{in: "docker.io", why: "not under a known ACR suffix"},
		{in: "https://index.docker.io/v1/", why: "path"},
		{in: "", why: "empty"},
		// Data endpoints and other shapes.
		{in: "myreg.eastus.data.azurecr.io", why: "data endpoint"},
		{in: "myreg.eastus.azurecr.io", why: "two labels"},
		{in: "a.myreg.eastus.geo.azurecr.io", why: "too many labels"},
		{in: "myreg.east_us.geo.azurecr.io", why: "'_'"},
		{in: "myreg.e.geo.azurecr.io", why: "region"},
		{in: "myreg.2east.geo.azurecr.io", why: "region"},
		{in: "myreg.east-us.geo.azurecr.io", why: "region"},
		{in: "myreg.geo.azurecr.io", why: "two labels"},
		// Registry names and DNL hashes.
		{in: "abcd.azurecr.io", why: "registry name"},
		{in: "demo-abcd1234efgh5678.eastus2.geo.azurecr.io", why: "registry name"},
		{in: "myregistry-contoso.azurecr.io", why: "domain-name-label hash"},
		{in: strings.Repeat("a", 51) + ".azurecr.io", why: "registry name"},
		{in: "myreg-short.azurecr.io", why: "domain-name-label hash"},
		{in: "myreg-e7ggejfuhzhgedc8x.azurecr.io", why: "domain-name-label hash"},
		{in: "myreg-e7gg-jfuhzhgedc8.azurecr.io", why: "domain-name-label hash"},
		{in: "myreg--e7ggejfuhzhgedc8.azurecr.io", why: "domain-name-label hash"},
		{in: "-myreg.azurecr.io", why: "starts or ends with '-'"},
		{in: "myreg-.azurecr.io", why: "starts or ends with '-'"},
		{in: strings.Repeat("a", 64) + ".azurecr.io", why: "longer than 63"},
		// Ports, schemes, userinfo, paths, queries, fragments.
		{in: "myreg.azurecr.io:8443", why: "not 443"},
		{in: "myreg.azurecr.io:80", why: "not 443"},
		{in: "myreg.azurecr.io:0443", why: "not 443"},
		{in: "myreg.azurecr.io:", why: "empty port"},
		{in: "myreg.azurecr.io:443:443", why: "more than one ':'"},
		{in: "http://myreg.azurecr.io", why: "not https"},
		{in: "http://myreg.azurecr.io:443", why: "not https"},
		{in: "ftp://myreg.azurecr.io", why: "not https"},
		// U+017F (long s) folds to 's' under Unicode case folding: the
		// scheme is compared in ASCII only.
		{in: "httpſ://myreg.azurecr.io", why: "scheme is not https"},
		{in: "HTTPſ://myreg.azurecr.io", why: "scheme is not https"},
		{in: "httpſ://myreg.azurecr.io:443/", why: "scheme is not https"},
		{in: "hTtPs\u017f://myreg.azurecr.io", why: "scheme is not https"},
		{in: "ſ://myreg.azurecr.io", why: "scheme is not https"},
		{in: "https\x00://myreg.azurecr.io", why: "scheme is not https"},
		{in: "htTp://myreg.azurecr.io", why: "scheme http is not https"},
		{in: "https:/myreg.azurecr.io", why: "path"},
		{in: "//myreg.azurecr.io", why: "path"},
		{in: "https://", why: "no host"},
		{in: "https:///myreg.azurecr.io", why: "path"},
		{in: "https://https://myreg.azurecr.io", why: "path"},
		{in: "user@myreg.azurecr.io", why: "userinfo"},
		{in: "https://user:pass@myreg.azurecr.io", why: "userinfo"},
		{in: "https://evil.com@myreg.azurecr.io", why: "userinfo"},
		{in: "https://myreg.azurecr.io@evil.com", why: "userinfo"},
		{in: "myreg.azurecr.io/v2/", why: "path"},
		{in: "myreg.azurecr.io//", why: "path"},
		{in: "myreg.azurecr.io/../evil.com", why: "path"},
		{in: "myreg.azurecr.io?x=1", why: "query"},
		{in: "myreg.azurecr.io#frag", why: "fragment"},
		{in: "evil.com#.azurecr.io", why: "fragment"},
		{in: "evil.com?.azurecr.io", why: "query"},
		{in: "evil.com/.azurecr.io", why: "path"},
		{in: "evil.com\\.azurecr.io", why: "backslash"},
		{in: "myreg.azurecr.io\\", why: "backslash"},
		{in: "myreg%2eazurecr.io", why: "percent-encoded"},
		{in: "myreg.azurecr.io%00", why: "percent-encoded"},
		// Whitespace, control bytes, non-ASCII, punycode.
		{in: " myreg.azurecr.io", why: "whitespace"},
		{in: "myreg.azurecr.io ", why: "whitespace"},
		{in: "myreg.azurecr.io\n", why: "control byte"},
		{in: "myreg.azurecr.io\x00", why: "control byte"},
		{in: "myreg.azurecr.io\r\nHost: evil.com", why: "control byte"},
		{in: "myreg\t.azurecr.io", why: "whitespace"},
		{in: "myrég.azurecr.io", why: "non-ASCII"},
		{in: "myreg.azurecr.ıo", why: "non-ASCII"},       // dotless i, ToLower/ToUpper folding tricks
		{in: "myreg.azurecr.\u212ao", why: "non-ASCII"},  // Kelvin sign
		{in: "myreg\uff0eazurecr.io", why: "non-ASCII"},  // fullwidth full stop
		{in: "myreg.azurecr.io\u200b", why: "non-ASCII"}, // zero-width space
		{in: "xn--myrg-9oa.azurecr.io", why: "punycode"}, // myrég
		{in: "myreg.xn--eastus-abc.geo.azurecr.io", why: "punycode"},
		{in: "\xff\xfe.azurecr.io", why: "non-ASCII"},
		// IP literals.
		{in: "127.0.0.1", why: "IP address"},
		{in: "169.254.169.254", why: "IP address"},
		{in: "https://10.0.0.1:443/", why: "IP address"},
		{in: "[::1]", why: "bracketed IP literal"},
		{in: "https://[::1]:443", why: "bracketed IP literal"},
		{in: "::1", why: "more than one ':'"},
		{in: "fe80::1%25eth0", why: "more than one ':'"},
		{in: "0x7f.0.0.1", why: "not under a known ACR suffix"},
		// Length.
		{in: strings.Repeat("a", 600) + ".azurecr.io", why: "longer than 512"},
		{in: strings.Repeat("abcdefghi.", 25) + "myreg.azurecr.io", why: "longer than 253"},
		// A custom suffix is recognised only when configured, and never
		// widens how built-in hosts are parsed.
		{in: "myreg.azurecr.contoso.local", why: "not under a known ACR suffix"},
		{in: "myreg.eastus.data.azurecr.io", why: "data endpoint", with: []CloudSuffix{{Suffix: "data.azurecr.io", Cloud: token.Cloud{Name: "evil"}}}},
		{in: "a.b.evil.com", why: "not under a known ACR suffix", with: []CloudSuffix{{Suffix: ".evil.com"}, {Suffix: "EVIL.COM"}, {Suffix: "com"}, {Suffix: ""}}},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d hostile inputs", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, tt.with...)
			if err == nil {
				t.Fatalf("accepted %q as %+v", tt.in, got)
			}
			if !errors.Is(err, ErrNotLoginServer) {
				t.Errorf("error %v does not wrap ErrNotLoginServer", err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not mention %q", err, tt.why)
			}
			if got != (Registry{}) {
				t.Errorf("rejected input returned %+v", got)
			}
		})
	}
}

// Server URLs can carry secrets in userinfo, paths and queries; refusal
// messages end up in debug logs and must not repeat them.
func TestParseErrorsDoNotLeak(t *testing.T) {
	const secret = "s3cr3tpassw0rd"
	for _, in := range []string{
		"https://user:" + secret + "@myreg.azurecr.io",
		"https://" + secret + "@myreg.azurecr.io",
		"https://user:" + secret + "!@myreg.azurecr.io",
		"myreg.azurecr.io/?token=" + secret,
		"myreg.azurecr.io?token=" + secret,
		"myreg.azurecr.io#" + secret,
		"myreg.azurecr.io/" + secret,
		"user:" + secret + "@evil.com://myreg.azurecr.io",
		secret + "://myreg.azurecr.io/x",
	} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("accepted %q", in)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr") {
			t.Errorf("error for %q repeats the secret: %v", in, err)
		}
	}
}

func TestASCIIFolding(t *testing.T) {
	for _, tt := range []struct {
		s, lower string
		want     bool
	}{
		{"https", "https", true},
		{"HTTPS", "https", true},
		{"hTtPs", "https", true},
		{"httpſ", "https", false}, // U+017F, which strings.EqualFold folds to 's'
		{"HTTPſ", "https", false},
		{"http", "https", false},
		{"httpsx", "https", false},
		{"\u212aey", "key", false}, // Kelvin sign, which unicode folding maps to 'k'
		{"", "", true},
		{"@", "`", false}, // bytes that differ by 0x20 but are not letters
		{"[", "{", false},
	} {
		if got := safetext.EqualFold(tt.s, tt.lower); got != tt.want {
			t.Errorf("safetext.EqualFold(%q, %q) = %v, want %v", tt.s, tt.lower, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		"MyReg.AzureCR.io": "myreg.azurecr.io",
		"myreg.azurecr.io": "myreg.azurecr.io",
		"\u212aEY":         "\u212aey", // stays non-ASCII, so no ASCII key can match
		"ÀB":               "Àb",
		"@[`{":             "@[`{",
	} {
		if got := safetext.Lower(in); got != want {
			t.Errorf("safetext.Lower(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormString(t *testing.T) {
	for f, want := range map[Form]string{FormStandard: "standard", FormDNL: "dnl", FormRegional: "regional", 0: "Form(0)"} {
		if got := f.String(); got != want {
			t.Errorf("%d: %q, want %q", int(f), got, want)
		}
	}
}

func TestParseDoesNotAllocateForCanonicalHosts(t *testing.T) {
	for _, in := range []string{"myreg.azurecr.io", "https://myreg-e7ggejfuhzhgedc8.eastus2.geo.azurecr.io:443/"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Parse(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", in, allocs)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"myreg.azurecr.io", "https://MyReg.AzureCR.io:443/", "myreg-e7ggejfuhzhgedc8.azurecr.io",
		"myreg.eastus2.geo.azurecr.cn", "myreg.eastus.data.azurecr.io", "myreg.azurecr.io.evil.com",
		"user@myreg.azurecr.io", "[::1]:443", "xn--abc.azurecr.us", "myreg.azurecr.contoso.local",
		"myreg.azurecr.io.", "http://myreg.azurecr.io", "myreg.azurecr.io:443/v2/",
		"httpſ://myreg.azurecr.io", "HTTPS://myreg.azurecr.io",
	} {
		f.Add(s)
	}
	suffixes := []string{".azurecr.io", ".azurecr.cn", ".azurecr.us", ".azurecr.contoso.local"}
	f.Fuzz(func(t *testing.T, in string) {
		// Without a configured cloud, only the built-in suffixes.
		if reg, err := Parse(in); err == nil {
			builtin := false
			for _, s := range suffixes[:3] {
				builtin = builtin || strings.HasSuffix(reg.Host, s)
			}
			if !builtin {
				t.Fatalf("%q accepted as %q with no cloud configured", in, reg.Host)
			}
		} else if msg := err.Error(); strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("error for %q has a control character: %q", in, msg)
		}
		// A secret behind userinfo, a path, a query or a fragment is
		// never repeated by the refusal (in, cut at its first '/',
		// stands for the host part).
		if secret := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, in); len(secret) >= 8 {
			for _, form := range []string{"https://u:" + secret + "@myreg.azurecr.io", "myreg.azurecr.io/" + secret,
				"myreg.azurecr.io?" + secret, "myreg.azurecr.io#" + secret, "myreg.azurecr.io/v2/?t=" + secret} {
				if _, err := Parse(form); err == nil || strings.Contains(err.Error(), secret) {
					t.Fatalf("%q: %v", form, err)
				}
			}
		}
		reg, err := Parse(in, testStackSuffix())
		if err != nil {
			if !errors.Is(err, ErrNotLoginServer) {
				t.Fatalf("error does not wrap ErrNotLoginServer: %v", err)
			}
			if reg != (Registry{}) {
				t.Fatalf("rejected input returned %+v", reg)
			}
			return
		}
		h := reg.Host
		known := false
		for _, s := range suffixes {
			known = known || strings.HasSuffix(h, s) && len(h) > len(s)
		}
		if !known {
			t.Fatalf("%q accepted as %q, not under a known suffix", in, h)
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("%q accepted as %q, with byte %q", in, h, c)
			}
		}
		if strings.Contains(h, "..") || strings.HasPrefix(h, ".") || len(h) > maxHostLen {
			t.Fatalf("%q accepted as malformed host %q", in, h)
		}
		if strings.ContainsAny(in, "@?#%\\ \t\r\n") {
			t.Fatalf("%q accepted despite a forbidden byte", in)
		}
		// Every accepted spelling is ASCII, the scheme included.
		for i := 0; i < len(in); i++ {
			if in[i] >= 0x80 {
				t.Fatalf("%q accepted despite non-ASCII byte %d", in, i)
			}
		}
		if !strings.HasPrefix(h, reg.Name) || reg.Name == "" || (reg.Form == FormRegional) != (reg.Region != "") || (reg.DNLHash != "") != strings.Contains(h, "-") {
			t.Fatalf("%q: inconsistent %+v", in, reg)
		}
		// Canonical: the host itself, and every accepted spelling of it,
		// parse to the same registry.
		for _, again := range []string{h, "https://" + h + ":443/", strings.ToUpper(h) + "/"} {
			r2, err := Parse(again, testStackSuffix())
			if err != nil || r2 != reg {
				t.Fatalf("%q gave %+v, but %q gave %+v, %v", in, reg, again, r2, err)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []string{
		"myreg.azurecr.io",
		"https://MyReg-e7ggejfuhzhgedc8.EastUS2.geo.azurecr.io:443/",
		"index.docker.io",
		"myreg.azurecr.contoso.local",
	} {
		b.Run(in, func(b *testing.B) {
			extra := []CloudSuffix{testStackSuffix()}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(in, extra...)
			}
		})
	}
}

func TestUnderSuffix(t *testing.T) {
	for _, tt := range []struct {
		host, suffix string
		want         bool
	}{
		{"myreg.azurecr.contoso.local", "azurecr.contoso.local", true},
		{"azurecr.contoso.local", "azurecr.contoso.local", true},
		{"myreg.eastus.geo.azurecr.contoso.local", "azurecr.contoso.local", true},
		{"evilazurecr.contoso.local", "azurecr.contoso.local", false},
		{"myreg.azurecr.contoso.local.evil.com", "azurecr.contoso.local", false},
		{"local", "azurecr.contoso.local", false},
	} {
		if got := UnderSuffix(tt.host, tt.suffix); got != tt.want {
			t.Errorf("UnderSuffix(%q, %q) = %v, want %v", tt.host, tt.suffix, got, tt.want)
		}
	}
}

// SuffixProblem is what a custom cloud's suffix must pass before Parse
// will ever match hosts under it.
func TestSuffixProblem(t *testing.T) {
	for s, want := range map[string]string{
		"azurecr.contoso.local":            "",
		"azsacr.local.azurestack.external": "",
		".azurecr.contoso.local":           "must be written without a leading '.' or '*'",
		"*.contoso.local":                  "must be written without a leading '.' or '*'",
		"AzureCR.contoso.local":            "must be lower case",
		"io":                               "is not a DNS name of at least two labels (letters, digits and '-')",
		"xn--cntoso-9ua.local":             "is not a DNS name of at least two labels (letters, digits and '-')",
		"10.0.0.1":                         "ends in a numeric label; IP addresses are never login servers",
		"co.uk":                            "is a public suffix that anybody can register names under",
		"azurecr.io":                       `overlaps the built-in suffix "azurecr.io"`,
		"x.azurecr.us":                     `overlaps the built-in suffix "azurecr.us"`,
		"cn":                               "is not a DNS name of at least two labels (letters, digits and '-')",
	} {
		if got := SuffixProblem(s); got != want {
			t.Errorf("SuffixProblem(%q) = %q, want %q", s, got, want)
		}
	}
}
