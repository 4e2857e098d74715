package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// Miss policies: what happens to a message whose key is absent or not in
// the table.
const (
	missPass       = "pass"        // forward the message unchanged (the default)
	missDrop       = "drop"        // filter it out
	missDeadLetter = "dead_letter" // send it to the route's dead-letter topic
)

// config is the stage configuration; see README.md for the reference.
type config struct {
	// KeyField is the dotted jsonfield path of the lookup key in the payload.
	KeyField string `json:"key_field"`
	// KeyTopicSegment takes the key from the MQTT topic instead: the
	// 0-based segment, negative counting from the end (-1 is the last).
	KeyTopicSegment *int `json:"key_topic_segment"`
	// Table maps a key to the JSON object whose members are added.
	Table map[string]json.RawMessage `json:"table"`
	// Into is the dotted path of the object that receives the fields; ""
	// means the top level of the payload.
	Into string `json:"into"`
	// OnMiss is pass, drop or dead_letter.
	OnMiss string `json:"on_miss"`
}

// field is one member to set: its full jsonfield path and raw JSON value.
type field struct {
	path string
	raw  []byte
}

// entry is one table entry compiled for the hot path.
type entry struct {
	fields []field
	// names are the member names set at the top level (when into is "").
	names []string
	// present are the indexes in plugin.fields of names, when the plugin
	// finds them (plugin.findNames).
	present []int
	// members is `,"a":1,"b":2` for one splice before an object's closing
	// brace, used when into is "" and none of names exists yet.
	members []byte
}

// plugin is the configuration compiled for the hot path.
type plugin struct {
	keyField string
	useTopic bool
	segment  int
	topLevel bool
	table    map[string]*entry
	onMiss   string

	// fields is found in a payload with one Fields.Find: key_field first
	// (unless the key comes from the topic), then, when findNames is set,
	// every top-level name of the table, so that one host call validates
	// the payload, reads the key and tells which of an entry's names are
	// present. With a topic key it is found only for a hit whose fields
	// go to the top level, and is nil when into is set.
	fields    *jsonfield.Fields
	findNames bool
	vals      []jsonfield.Value // reused by each message
	edit      jsonfield.Edit    // reused by each message
	out       []byte            // the new payload, reused by each message (see sdk.Message.SetPayload)
}

// maxFoundNames bounds the table's distinct top-level names looked up with
// the key; past it the payload's members are scanned instead.
const maxFoundNames = 8

var cur plugin

// configure validates the stage configuration and precomputes, for every
// table entry, the paths and values to set.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	p, err := compile(c)
	if err != nil {
		return err
	}
	cur = p
	return nil
}

func compile(c config) (plugin, error) {
	var errs []error
	p := plugin{keyField: c.KeyField, onMiss: c.OnMiss, topLevel: c.Into == "", table: make(map[string]*entry, len(c.Table))}
	switch {
	case c.KeyField == "" && c.KeyTopicSegment == nil:
		errs = append(errs, errors.New("config: one of key_field or key_topic_segment is required"))
	case c.KeyField != "" && c.KeyTopicSegment != nil:
		errs = append(errs, errors.New("config: key_field and key_topic_segment are exclusive; set one"))
	case c.KeyTopicSegment != nil:
		p.useTopic, p.segment = true, *c.KeyTopicSegment
	}
	switch c.OnMiss {
	case "":
		p.onMiss = missPass
	case missPass, missDrop, missDeadLetter:
	default:
		errs = append(errs, fmt.Errorf("config: on_miss %q: want pass, drop or dead_letter", c.OnMiss))
	}
	if len(c.Table) == 0 {
		errs = append(errs, errors.New("config: table: at least one entry is required"))
	}
	prefix := c.Into
	if prefix != "" {
		prefix += "."
	}
	for key, raw := range c.Table {
		v, err := jsonfield.Parse(raw)
		if err != nil || v.Kind() != jsonfield.Object {
			errs = append(errs, fmt.Errorf("config: table[%q]: want a JSON object of fields to add", key))
			continue
		}
		e := new(entry)
		for name, val := range v.Members() {
			e.fields = append(e.fields, field{path: prefix + jsonfield.EscapeKey(name), raw: append([]byte(nil), val.Raw()...)})
			e.names = append(e.names, name)
			q, _ := json.Marshal(name)
			e.members = append(append(append(append(e.members, ','), q...), ':'), val.Raw()...)
		}
		p.table[key] = e
	}
	p.planFind()
	return p, errors.Join(errs...)
}

// planFind sets p.fields: the key field, and the table's top-level names
// when there are few and each is found by its path exactly when the
// payload has a member of that name (a non-empty, valid UTF-8 name
// without U+FFFD, which escaped keys in a payload may decode to).
func (p *plugin) planFind() {
	var paths []string
	if !p.useTopic {
		paths = append(paths, p.keyField)
	}
	if p.topLevel {
		index := map[string]int{}
		usable := true
		for _, e := range p.table {
			for _, n := range e.names {
				if n == "" || !utf8.ValidString(n) || strings.ContainsRune(n, utf8.RuneError) {
					usable = false
				}
				if _, ok := index[n]; !ok {
					index[n] = len(paths)
					paths = append(paths, jsonfield.EscapeKey(n))
				}
			}
		}
		if usable && len(index) <= maxFoundNames {
			p.findNames = true
			for _, e := range p.table {
				e.present = e.present[:0]
				for _, n := range e.names {
					e.present = append(e.present, index[n])
				}
			}
		} else {
			paths = paths[:len(paths)-len(index)]
		}
	}
	if !p.useTopic || p.topLevel {
		p.fields = jsonfield.NewFields(paths...)
		p.vals = make([]jsonfield.Value, len(paths))
	}
}

// handle looks the message's key up and adds the entry's fields.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	var (
		doc    jsonfield.Value
		docErr error
		key    string
		found  bool
		err    error
	)
	if !cur.useTopic {
		doc, docErr = cur.fields.Find(m.Payload(), cur.vals)
	}
	switch {
	case cur.useTopic:
		key, found = topicSegment(m.Topic(), cur.segment)
	case docErr == nil:
		if raw, plain := plainText(cur.vals[0]); plain {
			// The common case, without converting the key to a string.
			e, hit := cur.table[string(raw)]
			if hit {
				return cur.handleHit(m, e, doc, docErr)
			}
			key, found = string(raw), true
			break
		}
		key, found, err = cur.keyOf(cur.vals[0])
	default:
		// Malformed: Lookup tells, as before, whether the key is still
		// found (malformed JSON only after it) or the payload is an error.
		key, found, err = cur.key(m)
	}
	if err != nil {
		return nil, err
	}
	e, hit := cur.table[key]
	if !found || !hit {
		switch cur.onMiss {
		case missDrop:
			return nil, nil
		case missDeadLetter:
			if !found {
				return nil, errors.New("enrich: no lookup key in message")
			}
			return nil, fmt.Errorf("enrich: key %q not in table", key)
		}
		return sdk.One(m), nil
	}
	if cur.useTopic && cur.topLevel && len(e.names) > 0 {
		doc, docErr = cur.fields.Find(m.Payload(), cur.vals) // validate, find the names
	}
	return cur.handleHit(m, e, doc, docErr)
}

// handleHit adds entry e's fields to m; doc and docErr are p.fields.Find's
// result for the payload.
func (p *plugin) handleHit(m *sdk.Message, e *entry, doc jsonfield.Value, docErr error) ([]*sdk.Message, error) {
	out, err := p.apply(e, m.Payload(), doc, docErr)
	if err != nil {
		return nil, err
	}
	m.SetPayload(out)
	return sdk.One(m), nil
}

// plainText returns the text of v when it is a JSON string that is its
// own text, without escapes or invalid UTF-8 (which Text turns into
// U+FFFD): its raw bytes between the quotes.
func plainText(v jsonfield.Value) ([]byte, bool) {
	raw := v.Raw()
	if v.Kind() != jsonfield.String || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// apply returns doc with e's fields set; v and verr are p.fields.Find's
// result for doc (validating it, as Parse does). The common case (top
// level, none of the fields present yet) splices all members in with one
// copy; otherwise the fields are set with one jsonfield.Edit.
func (p *plugin) apply(e *entry, doc []byte, v jsonfield.Value, verr error) ([]byte, error) {
	if p.topLevel && len(e.names) > 0 {
		if verr != nil {
			return nil, fmt.Errorf("enrich: payload is not JSON: %w", verr)
		}
		if v.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("enrich: payload is a JSON %v, want an object", v.Kind())
		}
		if !p.hasAny(v, e) {
			raw := v.Raw()
			end := len(raw) - 1 // the closing brace
			members := e.members
			if len(bytes.TrimSpace(raw[1:end])) == 0 {
				members = members[1:] // no leading comma in an empty object
			}
			out := append(append(append(p.out[:0], raw[:end]...), members...), '}')
			p.out = out // the SDK copies it when the handler returns
			return out, nil
		}
	}
	if len(e.fields) == 0 {
		return doc, nil
	}
	p.edit.Reset()
	for _, f := range e.fields {
		p.edit.Set(f.path, f.raw)
	}
	out, err := p.edit.AppendApply(p.out[:0], doc)
	if err != nil {
		// Set one by one, the first field fails on a malformed doc.
		path := e.fields[0].path
		var ee *jsonfield.EditError
		if errors.As(err, &ee) {
			path, err = e.fields[ee.Index].path, ee.Err
		}
		return nil, fmt.Errorf("enrich: set %q: %w", path, err)
	}
	p.out = out
	return out, nil
}

// hasAny reports whether object v has a member named in e.names: from
// p.vals when p.findNames, else by scanning v's members.
func (p *plugin) hasAny(v jsonfield.Value, e *entry) bool {
	if p.findNames {
		for _, i := range e.present {
			if p.vals[i].Kind() != jsonfield.Invalid {
				return true
			}
		}
		return false
	}
	for k := range v.Members() {
		for _, n := range e.names {
			if k == n {
				return true
			}
		}
	}
	return false
}

// key returns the lookup key of m from key_field and whether it has one,
// with jsonfield.Lookup, which validates the payload only up to the key.
// Malformed JSON on the way is an error; a missing key field is a miss.
func (p *plugin) key(m *sdk.Message) (string, bool, error) {
	v, err := jsonfield.Lookup(m.Payload(), p.keyField)
	if errors.Is(err, jsonfield.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("enrich: payload is not JSON: %w", err)
	}
	return p.keyOf(v)
}

// keyOf returns the lookup key held by v, the value at key_field (kind
// Invalid when absent), and whether there is one: absent and null are
// misses, objects and arrays errors.
func (p *plugin) keyOf(v jsonfield.Value) (string, bool, error) {
	switch v.Kind() {
	case jsonfield.Invalid:
		return "", false, nil
	case jsonfield.String:
		s, _ := v.Text()
		return s, true, nil
	case jsonfield.Number, jsonfield.Bool:
		return string(v.Raw()), true, nil
	case jsonfield.Null:
		return "", false, nil
	}
	return "", false, fmt.Errorf("enrich: key_field %q is a %v, want a string or number", p.keyField, v.Kind())
}

// topicSegment returns segment i of topic (negative from the end) and
// whether it exists.
func topicSegment(topic string, i int) (string, bool) {
	n := strings.Count(topic, "/") + 1
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return "", false
	}
	for range i {
		_, topic, _ = strings.Cut(topic, "/")
	}
	seg, _, _ := strings.Cut(topic, "/")
	return seg, true
}
