package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration; see README.md.
type config struct {
	// Pattern is the topic pattern, e.g. "building/floor{floor}/+/sensor/{sensor}/{metric}".
	Pattern string `json:"pattern"`
	// Into is the object path the fields are written under; "" is the top level.
	Into string `json:"into"`
	// Numbers lists captured names written as JSON numbers instead of strings.
	Numbers []string `json:"numbers"`
	// Key and Topic are templates over the captured names, e.g. "{sensor}".
	Key   string `json:"key"`
	Topic string `json:"topic"`
	// NoMatch is what happens to a message whose topic does not match:
	// "pass" (unchanged, the default) or "dead_letter".
	NoMatch string `json:"no_match"`
	// Fields, when false, leaves the payload alone (only key and topic are set).
	Fields *bool `json:"fields"`
}

// segment is one level of the pattern.
type segment struct {
	kind   byte   // 'l' literal, 'c' capture, '+' any level, '#' any rest
	lit    string // the literal ('l'), or the prefix before the capture ('c')
	suffix string // text after the capture ('c')
	name   string // the capture's name ('c')
	number bool   // write the capture as a number
	field  string // the JSON path the capture is written to
}

// template is a key or topic template: literal parts, each followed by the
// value of a capture (refs[i] is its index, -1 after the last part).
type template struct {
	parts []string
	refs  []int
	buf   []byte            // rendering space, reused by each message
	seen  map[string]string // rendered strings, so that a repeated one is not allocated again
	last  string            // the last rendering
}

// maxSeen bounds a template's remembered renderings; past it they are
// forgotten and remembered afresh.
const maxSeen = 4096

var (
	pattern      []segment
	captureNames []string
	writeFields  bool
	deadLetter   bool
	keyTmpl      *template
	topicTmpl    *template
	values       []string       // reused: captured values by capture index
	captures     []*segment     // the capture segments in order: edit's operation i writes captures[i]
	edit         jsonfield.Edit // reused: the fields written to a payload
	payloadBuf   []byte         // reused: the new payload
	keyBuf       []byte         // reused: the new key
)

// configure decodes and checks the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	segs, names, err := parsePattern(c.Pattern)
	if err != nil {
		return err
	}
	numbers := map[string]bool{}
	for i, n := range c.Numbers {
		if !contains(names, n) {
			return fmt.Errorf("config: numbers[%d]: %q is not captured by pattern %q", i, n, c.Pattern)
		}
		numbers[n] = true
	}
	for i := range segs {
		if segs[i].kind == 'c' {
			segs[i].number = numbers[segs[i].name]
			segs[i].field = segs[i].name
			if c.Into != "" {
				segs[i].field = c.Into + "." + jsonfield.EscapeKey(segs[i].name)
			} else {
				segs[i].field = jsonfield.EscapeKey(segs[i].name)
			}
		}
	}
	var kt, tt *template
	if c.Key != "" {
		if kt, err = parseTemplate(c.Key, names); err != nil {
			return fmt.Errorf("config: key: %w", err)
		}
	}
	if c.Topic != "" {
		if tt, err = parseTemplate(c.Topic, names); err != nil {
			return fmt.Errorf("config: topic: %w", err)
		}
	}
	var dl bool
	switch c.NoMatch {
	case "", "pass":
	case "dead_letter":
		dl = true
	default:
		return fmt.Errorf("config: no_match: %q is not pass or dead_letter", c.NoMatch)
	}
	fields := c.Fields == nil || *c.Fields
	if !fields && kt == nil && tt == nil {
		return errors.New("config: fields is false and neither key nor topic is set: the plugin would do nothing")
	}
	pattern, captureNames, writeFields, deadLetter, keyTmpl, topicTmpl = segs, names, fields, dl, kt, tt
	values = make([]string, len(names))
	captures = captures[:0]
	for i := range segs {
		if segs[i].kind == 'c' {
			captures = append(captures, &segs[i])
		}
	}
	return nil
}

// parsePattern splits a pattern into segments and returns the capture names
// in order.
func parsePattern(p string) ([]segment, []string, error) {
	if p == "" {
		return nil, nil, errors.New("config: pattern: required")
	}
	var segs []segment
	var names []string
	levels := strings.Split(p, "/")
	for i, l := range levels {
		switch {
		case l == "+":
			segs = append(segs, segment{kind: '+'})
		case l == "#":
			if i != len(levels)-1 {
				return nil, nil, fmt.Errorf("config: pattern: %q: # must be the last level", p)
			}
			segs = append(segs, segment{kind: '#'})
		case strings.ContainsAny(l, "{}"):
			open, close := strings.IndexByte(l, '{'), strings.IndexByte(l, '}')
			if open < 0 || close < open || strings.Count(l, "{") != 1 || strings.Count(l, "}") != 1 {
				return nil, nil, fmt.Errorf("config: pattern: level %q: want at most one {name} per level", l)
			}
			name := l[open+1 : close]
			if name == "" || strings.ContainsAny(name, "+#") {
				return nil, nil, fmt.Errorf("config: pattern: level %q: bad capture name", l)
			}
			if contains(names, name) {
				return nil, nil, fmt.Errorf("config: pattern: %q captured twice", name)
			}
			names = append(names, name)
			segs = append(segs, segment{kind: 'c', lit: l[:open], suffix: l[close+1:], name: name})
		case strings.ContainsAny(l, "+#"):
			return nil, nil, fmt.Errorf("config: pattern: level %q: + and # must be whole levels", l)
		default:
			segs = append(segs, segment{kind: 'l', lit: l})
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("config: pattern: %q captures nothing; name levels like {sensor}", p)
	}
	return segs, names, nil
}

// parseTemplate parses text with {name} references to captured names.
func parseTemplate(s string, names []string) (*template, error) {
	t := &template{}
	for {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			if strings.IndexByte(s, '}') >= 0 {
				return nil, fmt.Errorf("unmatched } in %q", s)
			}
			t.parts, t.refs = append(t.parts, s), append(t.refs, -1)
			return t, nil
		}
		close := strings.IndexByte(s[open:], '}')
		if close < 0 {
			return nil, fmt.Errorf("unclosed { in %q", s)
		}
		name := s[open+1 : open+close]
		idx := index(names, name)
		if idx < 0 {
			return nil, fmt.Errorf("{%s} is not captured by the pattern (captured: %s)", name, strings.Join(names, ", "))
		}
		t.parts, t.refs = append(t.parts, s[:open]), append(t.refs, idx)
		s = s[open+close+1:]
	}
}

// expand renders t with the captured values. A template that is one
// capture ("{sensor}") is that value itself; other renderings are
// allocated the first time they are seen only: a Go wasm guest pays
// several hundred nanoseconds per allocation.
func (t *template) expand(vals []string) string {
	if len(t.parts) == 2 && t.parts[0] == "" && t.parts[1] == "" && t.refs[0] >= 0 {
		return vals[t.refs[0]]
	}
	t.buf = t.appendTo(t.buf[:0], vals)
	if string(t.buf) == t.last { // a run of one sensor's metric, without hashing
		return t.last
	}
	if s, ok := t.seen[string(t.buf)]; ok {
		t.last = s
		return s
	}
	if t.seen == nil || len(t.seen) >= maxSeen {
		t.seen = make(map[string]string)
	}
	s := string(t.buf)
	t.seen[s] = s
	t.last = s
	return s
}

// appendTo appends t rendered with vals to dst.
func (t *template) appendTo(dst []byte, vals []string) []byte {
	for i, p := range t.parts {
		if p != "" {
			dst = append(dst, p...)
		}
		if r := t.refs[i]; r >= 0 {
			dst = append(dst, vals[r]...)
		}
	}
	return dst
}

// match captures topic's values into vals; false when the topic does not
// match the pattern. A trailing # matches any number of levels, none
// included, as in MQTT.
func match(topic string, vals []string) bool {
	c := 0
	i, n := 0, len(topic) // the current level starts at i; i > n once the last level is read
	for k := range pattern {
		s := &pattern[k] // not copied: every copy and call counts in a wasm guest
		if s.kind == '#' {
			return true
		}
		if i > n {
			return false
		}
		if s.kind == 'l' { // the level is the literal, and then ends
			end := i + len(s.lit)
			if end > n || topic[i:end] != s.lit || (end < n && topic[end] != '/') {
				return false
			}
			i = end + 1
			continue
		}
		j := i
		for j < n && topic[j] != '/' {
			j++
		}
		level := topic[i:j]
		i = j + 1
		switch s.kind {
		case 'c':
			if len(level) < len(s.lit)+len(s.suffix)+1 || level[:len(s.lit)] != s.lit || level[len(level)-len(s.suffix):] != s.suffix {
				return false
			}
			vals[c] = level[len(s.lit) : len(level)-len(s.suffix)]
			c++
		}
	}
	return i > n
}

// handle is the handler.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	if !match(m.Topic(), values) {
		if deadLetter {
			return nil, fmt.Errorf("topic-fields: topic %q does not match pattern", m.Topic())
		}
		return sdk.One(m), nil
	}
	if writeFields {
		doc, err := setFields(m.Payload())
		if err != nil {
			return nil, err
		}
		m.SetPayload(doc)
	}
	if keyTmpl != nil {
		keyBuf = keyTmpl.appendTo(keyBuf[:0], values) // the SDK copies it when handle returns
		m.SetKey(keyBuf)
	}
	if topicTmpl != nil {
		m.SetKafkaTopic(topicTmpl.expand(values))
	}
	return sdk.One(m), nil
}

// setFields returns doc with every capture written to its field, with one
// jsonfield.Edit. Its errors, and their order, are those of validating doc
// (not JSON, then not an object) and then writing the captures one by one
// (a number capture that is not a number, or a field that cannot be set).
func setFields(doc []byte) ([]byte, error) {
	edit.Reset()
	bad := -1 // the first number capture that is not a number
	for c, s := range captures {
		if s.number {
			raw := values[c]
			if !jsonfield.IsNumber(raw) {
				bad = c
				break
			}
			edit.Set(s.field, []byte(raw))
		} else {
			edit.SetString(s.field, values[c])
		}
	}
	out, err := edit.AppendApply(payloadBuf[:0], doc)
	if err == nil {
		payloadBuf = out // the SDK copies it when handle returns
	}
	var setErr error // the failing capture's error
	failed := 0      // its index
	if err != nil {
		var ee *jsonfield.EditError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("topic-fields: payload is not JSON: %w", err)
		}
		failed, setErr = ee.Index, ee.Err
	}
	if k := kindOf(doc); k != jsonfield.Object { // doc is valid
		return nil, fmt.Errorf("topic-fields: payload is a JSON %s, want an object", k)
	}
	if setErr != nil {
		return nil, fmt.Errorf("topic-fields: set %s: %w", captures[failed].name, setErr)
	}
	if bad >= 0 {
		return nil, fmt.Errorf("topic-fields: %s: topic level %q is not a number", captures[bad].name, values[bad])
	}
	return out, nil
}

// kindOf returns the kind of the valid JSON document doc from its first
// byte, as jsonfield.Value.Kind does.
func kindOf(doc []byte) jsonfield.Kind {
	for _, c := range doc {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case 'n':
			return jsonfield.Null
		case 't', 'f':
			return jsonfield.Bool
		case '"':
			return jsonfield.String
		case '{':
			return jsonfield.Object
		case '[':
			return jsonfield.Array
		}
		return jsonfield.Number
	}
	return jsonfield.Invalid
}

func contains(names []string, n string) bool { return index(names, n) >= 0 }

func index(names []string, n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return -1
}
