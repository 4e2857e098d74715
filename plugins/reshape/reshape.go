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

// opKind is the kind of one compiled operation.
type opKind uint8

const (
	opDrop   opKind = iota // Delete path
	opMove                 // Move path to to (rename, move, nest)
	opAdd                  // Set path to raw
	opTopic                // SetString path to topic level index
	opSelect               // Select paths
)

// op is one compiled operation, one jsonfield.Edit operation: a
// configuration entry compiles to one op per path or member, in order,
// except select, which is one op.
type op struct {
	kind  opKind
	path  string   // drop, move (from), add, add_topic
	to    string   // move: the target path
	raw   []byte   // add: the constant, one valid JSON value
	index int      // add_topic: the topic level (negative counts from the end)
	paths []string // select
}

// label names o in an error, as "reshape: LABEL: cause".
func (o *op) label() string {
	switch o.kind {
	case opDrop:
		return "drop " + o.path
	case opMove:
		return "move " + o.path + " to " + o.to
	case opAdd:
		return "add " + o.path
	case opTopic:
		return "add_topic " + o.path
	}
	return "select"
}

// The compiled configuration and the per-message edit. A wasm instance is
// single-threaded, and the SDK runs one handler call at a time.
var (
	ops []op
	// static reports that no op depends on the message (no add_topic), so
	// edit holds all of ops, built once by configure.
	static bool
	// edit is ops as one jsonfield.Edit: built once when static, else
	// rebuilt for each message's topic.
	edit jsonfield.Edit
	// out is the new payload, reused by each message: the SDK copies it
	// when the handler returns.
	out []byte
)

// configure decodes and compiles the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	if len(c.Ops) == 0 {
		return errors.New("config: ops: at least one operation is required")
	}
	var compiled []op
	for i, o := range c.Ops {
		at := fmt.Sprintf("config: ops[%d]", i)
		more, err := compileOp(o, at)
		if err != nil {
			return err
		}
		compiled = append(compiled, more...)
	}
	ops, static = compiled, true
	for _, o := range ops {
		if o.kind == opTopic {
			static = false
		}
	}
	edit.Reset()
	if static {
		_ = addOps(&edit, ops, "") // no add_topic op: cannot fail
	}
	return nil
}

// compileOp checks one operation and returns its ops, in order.
func compileOp(o opConfig, at string) ([]op, error) {
	n := 0
	for _, set := range []bool{o.Select != nil, o.Drop != nil, o.Rename != nil, o.Move != nil, o.Add != nil, o.AddTopic != nil, o.Nest != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: want exactly one of select, drop, rename, move, add, add_topic or nest", at)
	}
	var out []op
	switch {
	case o.Select != nil:
		if err := nonEmpty(o.Select, at+".select"); err != nil {
			return nil, err
		}
		out = append(out, op{kind: opSelect, paths: o.Select})
	case o.Drop != nil:
		if err := nonEmpty(o.Drop, at+".drop"); err != nil {
			return nil, err
		}
		for _, p := range o.Drop {
			out = append(out, op{kind: opDrop, path: p})
		}
	case o.Rename != nil:
		pairs, err := members(o.Rename, at+".rename")
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			name, ok := p.v.Text()
			if !ok || name == "" {
				return nil, fmt.Errorf("%s.rename.%s: want the new key name as a string", at, p.k)
			}
			out = append(out, op{kind: opMove, path: p.k, to: parent(p.k) + jsonfield.EscapeKey(name)})
		}
	case o.Move != nil:
		pairs, err := members(o.Move, at+".move")
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			to, ok := p.v.Text()
			if !ok || to == "" {
				return nil, fmt.Errorf("%s.move.%s: want the target path as a string", at, p.k)
			}
			if strings.HasPrefix(to, p.k+".") {
				return nil, fmt.Errorf("%s.move.%s: cannot move a field into itself (%q)", at, p.k, to)
			}
			out = append(out, op{kind: opMove, path: p.k, to: to})
		}
	case o.Add != nil:
		pairs, err := members(o.Add, at+".add")
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out = append(out, op{kind: opAdd, path: p.k, raw: p.v.Raw()})
		}
	case o.AddTopic != nil:
		pairs, err := members(o.AddTopic, at+".add_topic")
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			n, ok := p.v.Int()
			if !ok {
				return nil, fmt.Errorf("%s.add_topic.%s: want a topic level index (0 is the first, -1 the last)", at, p.k)
			}
			out = append(out, op{kind: opTopic, path: p.k, index: int(n)})
		}
	default:
		if o.Nest.Into == "" {
			return nil, fmt.Errorf("%s.nest.into: required", at)
		}
		if err := nonEmpty(o.Nest.Fields, at+".nest.fields"); err != nil {
			return nil, err
		}
		for _, f := range o.Nest.Fields {
			if f == o.Nest.Into {
				return nil, fmt.Errorf("%s.nest.fields: %q is the target object itself", at, f)
			}
			out = append(out, op{kind: opMove, path: f, to: o.Nest.Into + "." + lastKey(f)})
		}
	}
	return out, nil
}

// addOps adds ops to e as Edit operations, in order, the add_topic ones
// with the levels of topic. At the first add_topic op whose level topic
// lacks it stops and returns that op's error, having added the ops before
// it.
func addOps(e *jsonfield.Edit, ops []op, topic string) error {
	for i := range ops {
		o := &ops[i]
		switch o.kind {
		case opDrop:
			e.Delete(o.path)
		case opMove:
			e.Move(o.path, o.to)
		case opAdd:
			e.Set(o.path, o.raw)
		case opTopic:
			s, ok := topicLevelAt(topic, o.index)
			if !ok {
				return fmt.Errorf("reshape: add_topic %s: topic %q has no level %d", o.path, topic, o.index)
			}
			e.SetString(o.path, s)
		case opSelect:
			e.Select(o.paths...)
		}
	}
	return nil
}

// reshape is the handler: ops applied to the payload with one Edit.
func reshape(m *sdk.Message) error {
	doc := m.Payload()
	if !startsObject(doc) {
		// Not an object, or not JSON: Parse says which.
		v, err := jsonfield.Parse(doc)
		if err != nil {
			return fmt.Errorf("reshape: payload is not JSON: %w", err)
		}
		return fmt.Errorf("reshape: payload is a JSON %s, want an object", v.Kind())
	}
	var stop error // a missing topic level, reported if the ops before it succeed
	if !static {
		edit.Reset()
		stop = addOps(&edit, ops, m.Topic())
	}
	next, err := edit.AppendApply(out[:0], doc)
	if err != nil {
		return explain(err, doc, m.Topic())
	}
	if stop != nil {
		return stop
	}
	out = next
	m.SetPayload(next)
	return nil
}

// startsObject reports whether doc's first non-space byte opens an object.
func startsObject(doc []byte) bool {
	for _, c := range doc {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// explain turns an error of edit.Apply(doc) into the handler's error,
// naming the failing op as the one-by-one steps did.
func explain(err error, doc []byte, topic string) error {
	var ee *jsonfield.EditError
	if !errors.As(err, &ee) {
		return fmt.Errorf("reshape: payload is not JSON: %w", err)
	}
	if ee.Index < 0 || ee.Index >= len(ops) {
		return fmt.Errorf("reshape: %w", err) // not an op of ours; never happens
	}
	o := &ops[ee.Index]
	if o.kind == opSelect {
		if p, perr := explainSelect(o, ee.Index, doc, topic); perr != nil {
			return fmt.Errorf("reshape: select %s: %w", p, perr)
		}
	}
	return fmt.Errorf("reshape: %s: %w", o.label(), ee.Err)
}

// explainSelect finds which path of select op o, at index i of ops, fails
// on doc: it applies the ops before o, then o's paths one by one, as the
// select step did before Edit. Only errors take this path; it returns ""
// and nil if it cannot reproduce the failure.
func explainSelect(o *op, i int, doc []byte, topic string) (string, error) {
	var e jsonfield.Edit
	if err := addOps(&e, ops[:i], topic); err != nil {
		return "", nil
	}
	in, err := e.Apply(doc)
	if err != nil {
		return "", nil
	}
	out := []byte("{}")
	for _, p := range o.paths {
		v, ok := jsonfield.Get(in, p)
		if !ok {
			continue
		}
		if out, err = jsonfield.Set(out, p, v.Raw()); err != nil {
			return p, err
		}
	}
	return "", nil
}

// member is one key and value of a configuration object.
type member struct {
	k string
	v jsonfield.Value
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
