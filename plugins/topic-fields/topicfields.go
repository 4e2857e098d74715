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
}

var (
	pattern      []segment
	captureNames []string
	writeFields  bool
	deadLetter   bool
	keyTmpl      *template
	topicTmpl    *template
	values       []string // reused: captured values by capture index
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
				segs[i].field = c.Into + "." + escapeKey(segs[i].name)
			} else {
				segs[i].field = escapeKey(segs[i].name)
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

// expand renders t with the captured values.
func (t *template) expand(vals []string) string {
	var b strings.Builder
	for i, p := range t.parts {
		b.WriteString(p)
		if r := t.refs[i]; r >= 0 {
			b.WriteString(vals[r])
		}
	}
	return b.String()
}

// match captures topic's values into vals; false when the topic does not
// match the pattern. A trailing # matches any number of levels, none
// included, as in MQTT.
func match(topic string, vals []string) bool {
	c := 0
	rest, done := topic, false
	for _, s := range pattern {
		if s.kind == '#' {
			return true
		}
		if done {
			return false
		}
		level, r, more := strings.Cut(rest, "/")
		rest, done = r, !more
		switch s.kind {
		case 'l':
			if level != s.lit {
				return false
			}
		case 'c':
			if len(level) < len(s.lit)+len(s.suffix)+1 || !strings.HasPrefix(level, s.lit) || !strings.HasSuffix(level, s.suffix) {
				return false
			}
			vals[c] = level[len(s.lit) : len(level)-len(s.suffix)]
			c++
		}
	}
	return done
}

// handle is the handler.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	if !match(m.Topic(), values) {
		if deadLetter {
			return nil, fmt.Errorf("topic-fields: topic %q does not match pattern", m.Topic())
		}
		return []*sdk.Message{m}, nil
	}
	if writeFields {
		doc := m.Payload()
		if v, err := jsonfield.Parse(doc); err != nil {
			return nil, fmt.Errorf("topic-fields: payload is not JSON: %w", err)
		} else if v.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("topic-fields: payload is a JSON %s, want an object", v.Kind())
		}
		c := 0
		for _, s := range pattern {
			if s.kind != 'c' {
				continue
			}
			var err error
			if s.number {
				raw := values[c]
				if !validNumber(raw) {
					return nil, fmt.Errorf("topic-fields: %s: topic level %q is not a number", s.name, raw)
				}
				doc, err = jsonfield.Set(doc, s.field, []byte(raw))
			} else {
				doc, err = jsonfield.SetString(doc, s.field, values[c])
			}
			if err != nil {
				return nil, fmt.Errorf("topic-fields: set %s: %w", s.name, err)
			}
			c++
		}
		m.SetPayload(doc)
	}
	if keyTmpl != nil {
		m.SetKey([]byte(keyTmpl.expand(values)))
	}
	if topicTmpl != nil {
		m.SetKafkaTopic(topicTmpl.expand(values))
	}
	return []*sdk.Message{m}, nil
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	v, err := jsonfield.Parse([]byte(s))
	return err == nil && v.Kind() == jsonfield.Number
}

// escapeKey escapes dots and backslashes so name is one path segment.
func escapeKey(name string) string {
	if !strings.ContainsAny(name, `.\`) {
		return name
	}
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(name)
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
