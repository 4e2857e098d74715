package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration: operations applied in order.
type config struct {
	Ops []opConfig `json:"ops"`
}

// opConfig is one operation; exactly one field is set. The object-valued
// ones are kept raw so their members are applied in the order written.
type opConfig struct {
	Select   []string        `json:"select"`
	Drop     []string        `json:"drop"`
	Rename   json.RawMessage `json:"rename"`
	Move     json.RawMessage `json:"move"`
	Add      json.RawMessage `json:"add"`
	AddTopic json.RawMessage `json:"add_topic"`
	Nest     *nestConfig     `json:"nest"`
}

// nestConfig moves Fields under the object at Into.
type nestConfig struct {
	Into   string   `json:"into"`
	Fields []string `json:"fields"`
}

// step is one compiled operation over a JSON object.
type step func(doc []byte, topic string) ([]byte, error)

var steps []step

// configure decodes and compiles the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	if len(c.Ops) == 0 {
		return errors.New("config: ops: at least one operation is required")
	}
	var ss []step
	for i, o := range c.Ops {
		at := fmt.Sprintf("config: ops[%d]", i)
		s, err := compileOp(o, at)
		if err != nil {
			return err
		}
		ss = append(ss, s)
	}
	steps = ss
	return nil
}

// compileOp checks one operation and returns its step.
func compileOp(o opConfig, at string) (step, error) {
	n := 0
	for _, set := range []bool{o.Select != nil, o.Drop != nil, o.Rename != nil, o.Move != nil, o.Add != nil, o.AddTopic != nil, o.Nest != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: want exactly one of select, drop, rename, move, add, add_topic or nest", at)
	}
	switch {
	case o.Select != nil:
		if err := nonEmpty(o.Select, at+".select"); err != nil {
			return nil, err
		}
		return selectStep(o.Select), nil
	case o.Drop != nil:
		if err := nonEmpty(o.Drop, at+".drop"); err != nil {
			return nil, err
		}
		return dropStep(o.Drop), nil
	case o.Rename != nil:
		pairs, err := members(o.Rename, at+".rename")
		if err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, p := range pairs {
			name, ok := p.v.Text()
			if !ok || name == "" {
				return nil, fmt.Errorf("%s.rename.%s: want the new key name as a string", at, p.k)
			}
			moves = append(moves, [2]string{p.k, parent(p.k) + escapeKey(name)})
		}
		return moveStep(moves), nil
	case o.Move != nil:
		pairs, err := members(o.Move, at+".move")
		if err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, p := range pairs {
			to, ok := p.v.Text()
			if !ok || to == "" {
				return nil, fmt.Errorf("%s.move.%s: want the target path as a string", at, p.k)
			}
			if strings.HasPrefix(to, p.k+".") {
				return nil, fmt.Errorf("%s.move.%s: cannot move a field into itself (%q)", at, p.k, to)
			}
			moves = append(moves, [2]string{p.k, to})
		}
		return moveStep(moves), nil
	case o.Add != nil:
		pairs, err := members(o.Add, at+".add")
		if err != nil {
			return nil, err
		}
		return addStep(pairs), nil
	case o.AddTopic != nil:
		pairs, err := members(o.AddTopic, at+".add_topic")
		if err != nil {
			return nil, err
		}
		var levels []topicLevel
		for _, p := range pairs {
			n, ok := p.v.Int()
			if !ok {
				return nil, fmt.Errorf("%s.add_topic.%s: want a topic level index (0 is the first, -1 the last)", at, p.k)
			}
			levels = append(levels, topicLevel{path: p.k, index: int(n)})
		}
		return addTopicStep(levels), nil
	default:
		if o.Nest.Into == "" {
			return nil, fmt.Errorf("%s.nest.into: required", at)
		}
		if err := nonEmpty(o.Nest.Fields, at+".nest.fields"); err != nil {
			return nil, err
		}
		var moves [][2]string
		for _, f := range o.Nest.Fields {
			if f == o.Nest.Into {
				return nil, fmt.Errorf("%s.nest.fields: %q is the target object itself", at, f)
			}
			moves = append(moves, [2]string{f, o.Nest.Into + "." + lastKey(f)})
		}
		return moveStep(moves), nil
	}
}

// reshape is the handler.
func reshape(m *sdk.Message) error {
	doc := m.Payload()
	v, err := jsonfield.Parse(doc)
	if err != nil {
		return fmt.Errorf("reshape: payload is not JSON: %w", err)
	}
	if v.Kind() != jsonfield.Object {
		return fmt.Errorf("reshape: payload is a JSON %s, want an object", v.Kind())
	}
	for _, s := range steps {
		if doc, err = s(doc, m.Topic()); err != nil {
			return fmt.Errorf("reshape: %w", err)
		}
	}
	m.SetPayload(doc)
	return nil
}

// selectStep keeps only paths (those present), in the order listed.
func selectStep(paths []string) step {
	return func(doc []byte, _ string) ([]byte, error) {
		out := []byte("{}")
		for _, p := range paths {
			v, ok := jsonfield.Get(doc, p)
			if !ok {
				continue
			}
			var err error
			if out, err = jsonfield.Set(out, p, v.Raw()); err != nil {
				return nil, fmt.Errorf("select %s: %w", p, err)
			}
		}
		return out, nil
	}
}

// dropStep deletes paths; absent ones are ignored.
func dropStep(paths []string) step {
	return func(doc []byte, _ string) ([]byte, error) {
		var err error
		for _, p := range paths {
			if doc, err = jsonfield.Delete(doc, p); err != nil {
				return nil, fmt.Errorf("drop %s: %w", p, err)
			}
		}
		return doc, nil
	}
}

// moveStep moves each from path to its to path, replacing what is there;
// absent sources are ignored.
func moveStep(moves [][2]string) step {
	return func(doc []byte, _ string) ([]byte, error) {
		for _, mv := range moves {
			v, ok := jsonfield.Get(doc, mv[0])
			if !ok {
				continue
			}
			raw := append([]byte(nil), v.Raw()...) // Delete copies doc, but keep v independent of it
			next, err := jsonfield.Delete(doc, mv[0])
			if err == nil {
				next, err = jsonfield.Set(next, mv[1], raw)
			}
			if err != nil {
				return nil, fmt.Errorf("move %s to %s: %w", mv[0], mv[1], err)
			}
			doc = next
		}
		return doc, nil
	}
}

// member is one key and value of a configuration object.
type member struct {
	k string
	v jsonfield.Value
}

// addStep sets each path to its constant.
func addStep(consts []member) step {
	return func(doc []byte, _ string) ([]byte, error) {
		var err error
		for _, c := range consts {
			if doc, err = jsonfield.Set(doc, c.k, c.v.Raw()); err != nil {
				return nil, fmt.Errorf("add %s: %w", c.k, err)
			}
		}
		return doc, nil
	}
}

// topicLevel is a path set to the MQTT topic level at index (negative
// counts from the end).
type topicLevel struct {
	path  string
	index int
}

// addTopicStep sets paths to MQTT topic levels, as strings. A topic with
// too few levels is an error.
func addTopicStep(levels []topicLevel) step {
	return func(doc []byte, topic string) ([]byte, error) {
		var err error
		for _, l := range levels {
			s, ok := topicLevelAt(topic, l.index)
			if !ok {
				return nil, fmt.Errorf("add_topic %s: topic %q has no level %d", l.path, topic, l.index)
			}
			if doc, err = jsonfield.SetString(doc, l.path, s); err != nil {
				return nil, fmt.Errorf("add_topic %s: %w", l.path, err)
			}
		}
		return doc, nil
	}
}

// topicLevelAt returns level i of topic (negative i counts from the end).
func topicLevelAt(topic string, i int) (string, bool) {
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
	level, _, _ := strings.Cut(topic, "/")
	return level, true
}

// members returns the members of the configuration object raw, in order.
func members(raw json.RawMessage, at string) ([]member, error) {
	v, err := jsonfield.Parse(raw)
	if err != nil || v.Kind() != jsonfield.Object {
		return nil, fmt.Errorf("%s: want an object", at)
	}
	var ms []member
	for k, val := range v.Members() {
		if k == "" {
			return nil, fmt.Errorf("%s: empty path", at)
		}
		ms = append(ms, member{k: k, v: val})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: at least one entry is required", at)
	}
	return ms, nil
}

func nonEmpty(paths []string, at string) error {
	if len(paths) == 0 {
		return fmt.Errorf("%s: at least one path is required", at)
	}
	for i, p := range paths {
		if p == "" {
			return fmt.Errorf("%s[%d]: empty path", at, i)
		}
	}
	return nil
}

// parent returns path up to and including its last unescaped dot ("" for a
// top-level key).
func parent(path string) string {
	cut := 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '.':
			cut = i + 1
		}
	}
	return path[:cut]
}

// lastKey returns the last segment of path, still escaped.
func lastKey(path string) string { return path[len(parent(path)):] }

// escapeKey escapes dots and backslashes so name is one path segment.
func escapeKey(name string) string {
	if !strings.ContainsAny(name, `.\`) {
		return name
	}
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(name)
}
