package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The JSON side of configure: it edits a docker config.json or a
// containers auth.json as text, touching only the credHelpers member, so
// that every other byte of the file (auths and their secrets, credsStore,
// proxies, unknown keys, spacing, key order, escapes, number spellings)
// stays as it was. encoding/json's Decoder finds the byte offsets of the
// top-level members; nothing is decoded into a map and written back.

// jsonDoc is a parsed file: the top-level object's members with their
// offsets in data, and the file's layout.
type jsonDoc struct {
	data        []byte
	open, close int // offsets of the top-level '{' and '}'
	members     []jsonMember
	layout      jsonLayout
}

// jsonMember is one "key": value of an object, by offsets into its text.
type jsonMember struct {
	key                        string // decoded
	keyStart, valStart, valEnd int
}

// jsonLayout is the file's style: the indentation of one level ("" for a
// one-line file), the line ending, and what separates a key from its
// value (":", ": ", " : ").
type jsonLayout struct {
	indent, newline, sep string
}

// newFileLayout is the style of a file configure creates: docker and
// podman write theirs with tabs.
func newFileLayout() jsonLayout { return jsonLayout{indent: "\t", newline: "\n", sep: ": "} }

// errNotObject is wrapped when a file is valid JSON but not an object.
var errNotObject = errors.New("not a JSON object")

// parseJSONDoc checks data and locates its top-level members. Empty (or
// blank) data is an empty document, as docker treats an empty file.
func parseJSONDoc(data []byte) (*jsonDoc, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, jsonSyntaxError(data, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: the top level is %s; docker and podman expect an object, {...}", errNotObject, jsonKind(v))
	}
	d := &jsonDoc{data: data}
	open, close, members, err := objectMembers(data, 0)
	if err != nil {
		return nil, err
	}
	d.open, d.close, d.members = open, close, members
	d.layout = detectLayout(data, members)
	return d, nil
}

// objectMembers walks the object that starts at or after offset base of
// data (which must be valid JSON) and returns its members' offsets.
func objectMembers(data []byte, base int) (open, close int, members []jsonMember, err error) {
	dec := json.NewDecoder(bytes.NewReader(data[base:]))
	if _, err := dec.Token(); err != nil { // '{'
		return 0, 0, nil, err
	}
	open = base + int(dec.InputOffset()) - 1
	for dec.More() {
		prev := base + int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, nil, err
		}
		key, _ := tok.(string)
		keyEnd := base + int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, 0, nil, err
		}
		valEnd := base + int(dec.InputOffset())
		members = append(members, jsonMember{
			key:      key,
			keyStart: prev + bytes.IndexByte(data[prev:keyEnd], '"'),
			valStart: valEnd - len(raw),
			valEnd:   valEnd,
		})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return 0, 0, nil, err
	}
	close = base + int(dec.InputOffset()) - 1
	return open, close, members, nil
}

// detectLayout reads the style off the first member: the whitespace that
// starts its line is one level of indentation; no line break before it
// means a one-line file.
func detectLayout(data []byte, members []jsonMember) jsonLayout {
	if len(members) == 0 {
		return newFileLayout()
	}
	m := members[0]
	l := jsonLayout{newline: "\n"}
	// The separator: what lies between the key's closing quote and the
	// value.
	l.sep = string(data[stringEnd(data, m.keyStart):m.valStart])
	if strings.ContainsAny(l.sep, "\r\n") {
		l.sep = ": "
	}
	i := m.keyStart
	for i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
		i--
	}
	if i > 0 && data[i-1] == '\n' {
		l.indent = string(data[i:m.keyStart])
		if i > 1 && data[i-2] == '\r' {
			l.newline = "\r\n"
		}
		return l
	}
	l.indent, l.newline = "", ""
	return l
}

// stringEnd is the offset just after the JSON string that starts (with
// its opening quote) at start.
func stringEnd(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// multiline reports whether the file puts members on their own lines.
func (l jsonLayout) multiline() bool { return l.newline != "" }

// jsonSyntaxError turns a decoding error into one with the line and
// column (1-based, counting bytes) where the file stops being JSON.
func jsonSyntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	off := int(se.Offset)
	if off > 0 && off <= len(data) && se.Error() != "unexpected end of JSON input" {
		off-- // Offset counts the offending byte as read.
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("not valid JSON: line %d, column %d: %s", line, col, se.Error())
}

// lineCol is the 1-based line and column of byte offset off.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return line, off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// helperEntry is one member of credHelpers, kept as text.
type helperEntry struct {
	rawKey, rawVal string
	host           string // decoded key
	helper         string // decoded value, or the raw text if not a string
}

// helperEntries reads the credHelpers member (its index in d.members, or
// -1) as an ordered list.
func (d *jsonDoc) helperEntries(i int) ([]helperEntry, error) {
	if d == nil || i < 0 {
		return nil, nil
	}
	m := d.members[i]
	raw := d.data[m.valStart:m.valEnd]
	if string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		var v any
		_ = json.Unmarshal(raw, &v)
		return nil, fmt.Errorf("%w: credHelpers is %s; it must map registry hosts to helper names, e.g. {\"myreg.azurecr.io\": \"acr\"}", errNotObject, jsonKind(v))
	}
	_, _, members, err := objectMembers(d.data, m.valStart)
	if err != nil {
		return nil, err
	}
	out := make([]helperEntry, 0, len(members))
	for _, e := range members {
		he := helperEntry{
			rawKey: string(d.data[e.keyStart:stringEnd(d.data, e.keyStart)]),
			rawVal: string(d.data[e.valStart:e.valEnd]),
			host:   e.key,
		}
		if err := json.Unmarshal([]byte(he.rawVal), &he.helper); err != nil {
			he.helper = he.rawVal
		}
		out = append(out, he)
	}
	return out, nil
}

// memberIndex finds the member named key; several with that name are an
// error, since which one a client obeys is not ours to guess.
func (d *jsonDoc) memberIndex(key string) (int, error) {
	if d == nil {
		return -1, nil
	}
	found := -1
	for i, m := range d.members {
		if m.key == key {
			if found >= 0 {
				line, _ := lineCol(d.data, m.keyStart)
				return -1, fmt.Errorf("the key %q appears more than once (again on line %d); keep one", key, line)
			}
			found = i
		}
	}
	return found, nil
}

// renderHelpers writes a credHelpers object one level deep in layout l.
func renderHelpers(entries []helperEntry, l jsonLayout) string {
	if len(entries) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteString("{")
	for i, e := range entries {
		switch {
		case l.multiline():
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(l.newline + l.indent + l.indent)
		case i > 0:
			b.WriteString(",")
			if strings.HasSuffix(l.sep, " ") {
				b.WriteString(" ")
			}
		}
		b.WriteString(e.rawKey + l.sep + e.rawVal)
	}
	if l.multiline() {
		b.WriteString(l.newline + l.indent)
	}
	b.WriteString("}")
	return b.String()
}

// withHelpers returns the document's text with credHelpers (member index
// i, or -1 when absent) replaced by entries; no entries removes the member.
func (d *jsonDoc) withHelpers(i int, entries []helperEntry) []byte {
	if d == nil {
		if len(entries) == 0 {
			return nil
		}
		l := newFileLayout()
		return []byte("{" + l.newline + l.indent + `"credHelpers"` + l.sep + renderHelpers(entries, l) + l.newline + "}" + l.newline)
	}
	l, data := d.layout, d.data
	splice := func(from, to int, s string) []byte {
		out := make([]byte, 0, len(data)+len(s))
		out = append(out, data[:from]...)
		out = append(out, s...)
		return append(out, data[to:]...)
	}
	switch {
	case i >= 0 && len(entries) > 0:
		m := d.members[i]
		return splice(m.valStart, m.valEnd, renderHelpers(entries, l))
	case i >= 0:
		m := d.members[i]
		switch {
		case i > 0:
			return splice(d.members[i-1].valEnd, m.valEnd, "")
		case len(d.members) > 1:
			return splice(m.keyStart, d.members[1].keyStart, "")
		default:
			return splice(d.open+1, d.close, "")
		}
	case len(entries) == 0:
		return data
	case len(d.members) == 0:
		l = newFileLayout()
		return splice(d.open, d.close+1, "{"+l.newline+l.indent+`"credHelpers"`+l.sep+renderHelpers(entries, l)+l.newline+"}")
	default:
		last := d.members[len(d.members)-1]
		lead := ","
		if l.multiline() {
			lead += l.newline + l.indent
		} else if strings.HasSuffix(l.sep, " ") {
			lead += " "
		}
		return splice(last.valEnd, last.valEnd, lead+`"credHelpers"`+l.sep+renderHelpers(entries, l))
	}
}

// storedSecret reports whether the auths member holds a password, auth
// or identity token for host, without returning it.
func (d *jsonDoc) storedSecret(host string) bool {
	i, err := d.memberIndex("auths")
	if err != nil || i < 0 {
		return false
	}
	m := d.members[i]
	var auths map[string]map[string]any
	if json.Unmarshal(d.data[m.valStart:m.valEnd], &auths) != nil {
		return false
	}
	for key, a := range auths {
		if authsKeyHost(key) != host {
			continue
		}
		for _, f := range []string{"auth", "password", "identitytoken"} {
			if s, ok := a[f].(string); ok && s != "" {
				return true
			}
		}
	}
	return false
}

// authsKeyHost is the host of an auths key, which docker writes as
// "host", "https://host" or "https://host/v1/".
func authsKeyHost(key string) string {
	if _, rest, ok := strings.Cut(key, "://"); ok {
		key = rest
	}
	key, _, _ = strings.Cut(key, "/")
	return strings.ToLower(key)
}
