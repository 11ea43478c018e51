package config

import (
	"slices"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// Indexes of the rows of table(), for the checks that relate settings.
const (
	rowSources = iota
	rowClientID
	rowResourceID
	rowObjectID
	rowTenantID
	rowScope
	rowAudience
	rowUsername
	rowChallenge
	rowTimeout
	numRows
)

// level is one checked entry: the default or a registries entry. Its
// Settings hold what the entry sets; Match and Scopes stay empty.
type level struct {
	match string
	s     Settings
}

// decodedEntry is an entry's values and the lines they are on.
type decodedEntry struct {
	match text
	level level
	lines [numRows]int // 0 where the entry does not set the row
}

// decodeEntry checks one entry's values with the settings table. Messages
// quote enumerations, scopes and hosts but never ID values: a secret
// pasted into the wrong key must not reach a log.
func decodeEntry(ps []pair, errs *problems) decodedEntry {
	var e decodedEntry
	rows := table()
	for _, p := range ps {
		if p.key == "match" {
			e.match = stringValue(p.v, p.key, errs)
			continue
		}
		i := slices.IndexFunc(rows[:], func(r setting) bool { return r.key == p.key })
		r := &rows[i]
		var problem string
		if r.parseList != nil {
			items, line, ok := listValue(p.v, r.key, errs)
			if !ok {
				continue
			}
			e.lines[i] = line
			problem = r.parseList(items, &e.level.s)
		} else {
			v := stringValue(p.v, r.key, errs)
			if v.value == "" {
				continue
			}
			e.lines[i] = v.line
			problem = r.parse(v.value, &e.level.s)
		}
		if problem != "" {
			errs.add(e.lines[i], "%s: %s", r.key, problem)
		}
	}

	// The rules that relate settings within one entry.
	l := &e.lines
	if n := countSet(l[rowClientID], l[rowResourceID], l[rowObjectID]); n > 1 {
		errs.add(firstLine(l[rowClientID], l[rowResourceID], l[rowObjectID]), "clientID, resourceID and objectID are alternatives; set one")
	}
	s := &e.level.s
	if (l[rowResourceID] > 0 || l[rowObjectID] > 0) && s.Sources != nil && !slices.Contains(s.Sources, "managed") {
		errs.add(firstLine(l[rowResourceID], l[rowObjectID]), "resourceID and objectID select a managed identity, but sources does not include managed; add managed to sources")
	}
	if l[rowScope] > 0 && l[rowAudience] > 0 {
		errs.add(l[rowScope], "scope and audience are alternatives; set one")
	}
	return e
}

func countSet(lines ...int) int {
	n := 0
	for _, l := range lines {
		if l > 0 {
			n++
		}
	}
	return n
}

func firstLine(lines ...int) int {
	for _, l := range lines {
		if l > 0 {
			return l
		}
	}
	return 0
}

// parse checks the whole file and fills c.
func (c *Config) parse(data []byte) error {
	root, more, err := decodeDocument(data)
	if err != nil {
		return err
	}
	var errs problems
	t := readTree(root, &errs)
	if len(errs) > 0 {
		return errs // the shape is wrong: the values would only add noise
	}
	if more() {
		return problems{"more than one YAML document; keep the whole configuration in one"}
	}

	c.clouds = decodeClouds(t.clouds, &errs)
	c.mirrors = decodeMirrors(t.mirrors, c.clouds, &errs)
	if t.def != nil {
		d := decodeEntry(t.def, &errs)
		if d.match.value != "" {
			errs.add(d.match.line, "the default entry applies to every registry and has no match; remove match from it, or move the settings to a registries entry")
		}
		c.def = d.level
	}
	c.exact = map[string]*level{}
	c.wild = map[string]*level{}
	lines := map[string]int{}
	for i, ps := range t.registries {
		e := decodeEntry(ps, &errs)
		if e.match.value == "" {
			errs.add(0, "registries entry %d has no match; give it a login server or a pattern such as \"*.azurecr.io\"", i+1)
			continue
		}
		key, wild, sample, ok := c.checkMatch(e.match, &errs)
		if !ok {
			continue
		}
		// An entry's match reaches one cloud only, so an ARM audience it
		// cannot have is known now. The default entry's is found per
		// registry, by Resolve.
		if a := e.level.s.Audience; (a == AudienceARM || a == AudienceACRThenARM) && sample.Cloud.ARMScope == "" {
			if c.isCustomCloud(sample) {
				errs.add(e.lines[rowAudience], "audience %s for %q needs the Azure Resource Manager scope of cloud %q, which has none; add armScope to cloud %q under clouds, or use audience acr", a, e.match.value, sample.Cloud.Name, sample.Cloud.Name)
			} else {
				errs.add(e.lines[rowAudience], "audience %s for %q needs the Azure Resource Manager scope of cloud %q, which is not known; give that scope with scope instead, or use audience acr", a, e.match.value, sample.Cloud.Name)
			}
		}
		e.level.match = e.match.value
		if at, dup := lines[key]; dup {
			errs.add(e.match.line, "match %q repeats the entry at line %d; merge the two", e.match.value, at)
			continue
		}
		lines[key] = e.match.line
		l := e.level
		if wild {
			c.wild[strings.TrimPrefix(key, "*.")] = &l
		} else {
			c.exact[key] = &l
		}
	}
	return errs.err()
}

// checkMatch checks a registries entry's match and returns its key (the
// canonical host, or "*." + a suffix that login servers live under) and a
// registry it matches, whose cloud is that of every registry it matches.
func (c *Config) checkMatch(m text, errs *problems) (key string, wild bool, sample loginserver.Registry, ok bool) {
	v := m.value
	if rest, isWild := strings.CutPrefix(v, "*."); isWild {
		rest = safetext.Lower(rest)
		// A sample registry name turns the question into one
		// loginserver.Parse answers, so patterns and hosts follow one
		// grammar.
		if reg, err := loginserver.Parse("sample."+rest, c.clouds...); err == nil {
			return "*." + rest, true, reg, true
		}
		errs.add(m.line, "pattern %q: a wildcard is \"*.\" followed by a login-server suffix, e.g. \"*.azurecr.io\" or \"*.eastus.geo.azurecr.io\"", v)
		return "", false, loginserver.Registry{}, false
	}
	if strings.Contains(v, "*") {
		errs.add(m.line, "pattern %q: '*' may only stand for the whole first label, as in \"*.azurecr.io\"", v)
		return "", false, loginserver.Registry{}, false
	}
	reg, err := loginserver.Parse(v, c.clouds...)
	if err != nil {
		errs.add(m.line, "match %q is not an ACR login server: %s", v, strings.TrimPrefix(err.Error(), loginserver.ErrNotLoginServer.Error()+": "))
		return "", false, loginserver.Registry{}, false
	}
	return reg.Host, false, reg, true
}
