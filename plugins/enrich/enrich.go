package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
}

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
			e.fields = append(e.fields, field{path: prefix + escapePath(name), raw: append([]byte(nil), val.Raw()...)})
			e.names = append(e.names, name)
			q, _ := json.Marshal(name)
			e.members = append(append(append(append(e.members, ','), q...), ':'), val.Raw()...)
		}
		p.table[key] = e
	}
	return p, errors.Join(errs...)
}

// escapePath escapes the dots and backslashes of a member name for jsonfield.
func escapePath(name string) string {
	if !strings.ContainsAny(name, `.\`) {
		return name
	}
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(name)
}

// handle looks the message's key up and adds the entry's fields.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	key, found, err := cur.key(m)
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
		return []*sdk.Message{m}, nil
	}
	doc, err := cur.apply(e, m.Payload())
	if err != nil {
		return nil, err
	}
	m.SetPayload(doc)
	return []*sdk.Message{m}, nil
}

// apply returns doc with e's fields set. The common case (top level, none
// of the fields present yet) validates doc once and splices all members in
// with one copy; otherwise each field is set with jsonfield.Set.
func (p *plugin) apply(e *entry, doc []byte) ([]byte, error) {
	if p.topLevel && len(e.names) > 0 {
		v, err := jsonfield.Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("enrich: payload is not JSON: %w", err)
		}
		if v.Kind() != jsonfield.Object {
			return nil, fmt.Errorf("enrich: payload is a JSON %v, want an object", v.Kind())
		}
		if !hasAny(v, e.names) {
			raw := v.Raw()
			end := len(raw) - 1 // the closing brace
			members := e.members
			if len(bytes.TrimSpace(raw[1:end])) == 0 {
				members = members[1:] // no leading comma in an empty object
			}
			out := make([]byte, 0, len(raw)+len(members))
			out = append(append(append(out, raw[:end]...), members...), '}')
			return out, nil
		}
	}
	var err error
	for _, f := range e.fields {
		if doc, err = jsonfield.Set(doc, f.path, f.raw); err != nil {
			return nil, fmt.Errorf("enrich: set %q: %w", f.path, err)
		}
	}
	return doc, nil
}

// hasAny reports whether object v has a member named in names.
func hasAny(v jsonfield.Value, names []string) bool {
	for k := range v.Members() {
		for _, n := range names {
			if k == n {
				return true
			}
		}
	}
	return false
}

// key returns the lookup key of m and whether it has one. Malformed JSON is
// an error; a missing key field or topic segment is a miss.
func (p *plugin) key(m *sdk.Message) (string, bool, error) {
	if p.useTopic {
		return topicSegment(m.Topic(), p.segment)
	}
	v, err := jsonfield.Lookup(m.Payload(), p.keyField)
	if errors.Is(err, jsonfield.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("enrich: payload is not JSON: %w", err)
	}
	switch v.Kind() {
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
func topicSegment(topic string, i int) (string, bool, error) {
	n := strings.Count(topic, "/") + 1
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return "", false, nil
	}
	for range i {
		_, topic, _ = strings.Cut(topic, "/")
	}
	seg, _, _ := strings.Cut(topic, "/")
	return seg, true, nil
}
