package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// The file is decoded as a yaml.Node tree and walked with the schema's
// key lists (the settings table for entries), so that every problem has
// the file's line and the file's key names, whatever this package's
// types are called. It is done in two passes, as the strict struct decode
// before it did: the shape (mappings where mappings belong, known keys,
// no key twice) and, only if the shape is sound, the values.

// problems collects every problem, so that one run shows them all.
type problems []string

func (e *problems) add(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = "line " + strconv.Itoa(line) + ": " + msg
	}
	*e = append(*e, msg)
}

func (e problems) Error() string { return strings.Join(e, "\n  ") }

func (e problems) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// typeMismatch reports a node of the wrong kind in the words yaml.v3
// uses ("cannot unmarshal !!str `x` into …"), naming what the file's
// schema wants there.
func (e *problems) typeMismatch(n *yaml.Node, want string) {
	// A quoted scalar can hold any control character ("\x1b[31m"), and a
	// tag its %-escapes ("!%00"): what is shown of them is made printable.
	tag, v := safetext.Printable(n.ShortTag()), ""
	if tag != "!!seq" && tag != "!!map" {
		if len(n.Value) > 10 {
			v = " `" + safetext.Printable(n.Value[:7]) + "...`"
		} else {
			v = " `" + safetext.Printable(n.Value) + "`"
		}
	}
	e.add(n.Line, "cannot unmarshal %s%s into %s", tag, v, want)
}

// pair is one key and its value (not yet followed if an alias).
type pair struct {
	key string
	k   *yaml.Node
	v   *yaml.Node
}

// tree is the file's shape: the mappings of the default entry, of each
// registries entry and of each cloud, as key-value pairs. A nil item is
// an entry written as null.
type tree struct {
	def        []pair
	registries [][]pair
	clouds     [][]pair
	mirrors    [][]pair
}

// The mappings' keys, in the order messages list them.
func topKeys() []string { return []string{"default", "registries", "clouds", "mirrors"} }

func entryKeys() []string {
	keys := []string{"match"}
	for _, r := range table() {
		keys = append(keys, r.key)
	}
	return keys
}

func cloudKeys() []string {
	return []string{"name", "suffix", "authorityHost", "scope", "armScope"}
}

const (
	topContext    = "at the top level"
	entryContext  = "in the default entry or a registry entry (match: registries only)"
	cloudContext  = "in a cloud entry"
	mirrorContext = "in a mirror entry"
)

// decodeDocument parses data into its first document's root node, nil
// for an empty file. more reports whether another document follows; it is
// asked only after the first one's shape was found sound, as before.
func decodeDocument(data []byte) (root *yaml.Node, more func() bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	more = func() bool {
		var extra yaml.Node
		return !errors.Is(dec.Decode(&extra), io.EOF)
	}
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, func() bool { return false }, nil
		}
		return nil, nil, problems{"not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, more, nil
	}
	return doc.Content[0], more, nil
}

// readTree checks the shape of the document rooted at n. As yaml.v3's
// strict decode did, it reports problems in the document's order, and
// does not look inside a mapping that gives a key twice.
func readTree(n *yaml.Node, errs *problems) tree {
	var t tree
	if n = ofKind(n, yaml.MappingNode, "the top-level mapping", errs); n == nil {
		return t
	}
	for _, p := range pairs(n, errs) {
		if !known(p, topKeys(), topContext, errs) {
			continue
		}
		switch p.key {
		case "default":
			t.def = mapping(p.v, "a registry entry", entryKeys(), entryContext, errs)
		case "registries":
			t.registries = mappings(p.v, "a list of registry entries", "a registry entry", entryKeys(), entryContext, errs)
		case "clouds":
			t.clouds = mappings(p.v, "a list of clouds", "a cloud entry", cloudKeys(), cloudContext, errs)
		case "mirrors":
			t.mirrors = mappings(p.v, "a list of mirrors", "a mirror entry", mirrorKeys(), mirrorContext, errs)
		}
	}
	return t
}

// follow returns the node an alias stands for.
func follow(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// ofKind follows an alias and returns the node if it is of kind k. A null
// gives nil; another kind gives nil and a type mismatch naming want.
func ofKind(n *yaml.Node, k yaml.Kind, want string, errs *problems) *yaml.Node {
	n = follow(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != k {
		errs.typeMismatch(n, want)
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// mapping checks that n is a mapping with known keys (or null, which
// is an empty mapping) and returns its pairs.
func mapping(n *yaml.Node, want string, keys []string, context string, errs *problems) []pair {
	if n = ofKind(n, yaml.MappingNode, want, errs); n == nil {
		return nil
	}
	ps := []pair{}
	for _, p := range pairs(n, errs) {
		if known(p, keys, context, errs) {
			ps = append(ps, p)
		}
	}
	return ps
}

// mappings checks that n is a list of mappings (or null) and returns
// each one's pairs. A null item is left out, as yaml.v3 leaves out a null
// decoded into a struct.
func mappings(n *yaml.Node, want, wantItem string, keys []string, context string, errs *problems) [][]pair {
	if n = ofKind(n, yaml.SequenceNode, want, errs); n == nil {
		return nil
	}
	out := make([][]pair, 0, len(n.Content))
	for _, item := range n.Content {
		if isNull(follow(item)) {
			continue
		}
		out = append(out, mapping(item, wantItem, keys, context, errs))
	}
	return out
}

// pairs returns a mapping's pairs, with merge keys ("<<: *anchor")
// expanded after the mapping's own keys, which win.
func pairs(n *yaml.Node, errs *problems) []pair {
	var out []pair
	if !collectPairs(n, &out, map[*yaml.Node]bool{}, errs) {
		return nil
	}
	kept := out[:0]
	for _, p := range out {
		if !slices.ContainsFunc(kept, func(q pair) bool { return q.key == p.key }) {
			kept = append(kept, p)
		}
	}
	return kept
}

// known reports whether p's key is one of keys, and reports it if not,
// with a did-you-mean for a key that differs only in case.
func known(p pair, keys []string, context string, errs *problems) bool {
	if p.k.Kind != yaml.ScalarNode {
		errs.typeMismatch(p.k, "string")
		return false
	}
	if slices.Contains(keys, p.key) {
		return true
	}
	hint := ""
	for _, k := range keys {
		if strings.EqualFold(k, p.key) {
			hint = fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	errs.add(p.k.Line, "unknown key %q %s%s; valid keys are %s", p.key, context, hint, strings.Join(keys, ", "))
	return false
}

// mergeProblem is yaml.v3's word for a merge key without mappings.
const mergeProblem = "not valid YAML: map merge requires map or sequence of maps as the value"

// collectPairs appends n's pairs to out, then those of the mappings it
// merges. A mapping that gives a key twice is reported and yields
// nothing: collectPairs returns false.
func collectPairs(n *yaml.Node, out *[]pair, seen map[*yaml.Node]bool, errs *problems) bool {
	if seen[n] {
		errs.add(0, "not valid YAML: anchor '%s' value contains itself", n.Anchor)
		return false
	}
	seen[n] = true
	dup := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		for j := i + 2; j+1 < len(n.Content); j += 2 {
			if a, b := n.Content[i], n.Content[j]; a.Kind == b.Kind && a.Value == b.Value {
				errs.add(b.Line, "mapping key %#v already defined at line %d", b.Value, a.Line)
				dup = true
			}
		}
	}
	if dup {
		return false
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge") {
			merges = append(merges, v)
			continue
		}
		*out = append(*out, pair{key: k.Value, k: k, v: v})
	}
	ok := true
	for _, m := range merges {
		m = follow(m)
		switch m.Kind {
		case yaml.MappingNode:
			ok = collectPairs(m, out, seen, errs) && ok
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if item = follow(item); item.Kind == yaml.MappingNode {
					ok = collectPairs(item, out, seen, errs) && ok
				} else {
					errs.add(0, mergeProblem)
					ok = false
				}
			}
		default:
			errs.add(0, mergeProblem)
			ok = false
		}
	}
	return ok
}

// text is a string value and the line it was given on.
type text struct {
	value string
	line  int
}

// scalarValue follows an alias and reports a key given without a value.
func scalarValue(n *yaml.Node, key string, errs *problems) (*yaml.Node, bool) {
	line := n.Line
	n = follow(n)
	if isNull(n) {
		errs.add(line, "%s has no value; give it one or remove the key", key)
		return nil, false
	}
	return n, true
}

// stringValue checks that n is a non-empty string.
func stringValue(n *yaml.Node, key string, errs *problems) text {
	line := n.Line
	n, ok := scalarValue(n, key, errs)
	if !ok {
		return text{}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		errs.add(line, "%s must be a string (quote it if it looks like a number or a boolean)", key)
		return text{}
	}
	if n.Value == "" {
		errs.add(line, "%s is empty; remove the key instead", key)
		return text{}
	}
	return text{value: n.Value, line: line}
}

// listValue accepts a list of names or one comma-separated string, the
// same syntax as DOCKER_CREDENTIAL_ACR_SOURCES.
func listValue(n *yaml.Node, key string, errs *problems) (items []string, line int, ok bool) {
	line = n.Line
	n, ok = scalarValue(n, key, errs)
	if !ok {
		return nil, 0, false
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		return splitList(n.Value), line, true
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!str" {
				errs.add(c.Line, "%s must list source names", key)
				return nil, 0, false
			}
			items = append(items, c.Value)
		}
		return items, line, true
	}
	errs.add(line, "%s must be a list of source names", key)
	return nil, 0, false
}
