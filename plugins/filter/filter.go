package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// config is the plugin's configuration: exactly one of Keep and Drop.
type config struct {
	// Keep passes a message when the condition holds and drops it otherwise.
	Keep *condConfig `json:"keep"`
	// Drop drops a message when the condition holds and passes it otherwise.
	Drop *condConfig `json:"drop"`
}

// condConfig is one condition as written in the configuration: either a
// field test (Field, Op and Value or Values) or one combinator (All, Any,
// Not).
type condConfig struct {
	Field  string            `json:"field"`
	Op     string            `json:"op"`
	Value  json.RawMessage   `json:"value"`
	Values []json.RawMessage `json:"values"`
	All    []condConfig      `json:"all"`
	Any    []condConfig      `json:"any"`
	Not    *condConfig       `json:"not"`
}

// cond is a compiled condition. eval reports whether it holds for the
// message whose fields m holds.
type cond interface {
	eval(m *msg) bool
}

var (
	root     cond
	keepWhen bool // the result of root that keeps a message
	// fields holds every path the conditions read, each once: a message's
	// fields are found with one Fields.Find (one host call in a guest).
	fields *jsonfield.Fields
	cur    msg // the message being evaluated; reused
)

// msg is the message being evaluated: the value of every path of fields
// (kind Invalid when absent) and each number's float64, read at most once.
type msg struct {
	vals []jsonfield.Value
	nums []number
}

// number caches the float64 of one field: Value.Float is a host call in a
// guest, and a condition tree may read the same number several times.
type number struct {
	state uint8 // 0: not read yet, 1: read, 2: not a float64
	f     float64
}

// reset prepares m for a message under a Fields of n paths.
func (m *msg) reset(n int) {
	if cap(m.vals) < n {
		m.vals, m.nums = make([]jsonfield.Value, n), make([]number, n)
	}
	m.vals, m.nums = m.vals[:n], m.nums[:n]
	clear(m.nums)
}

// float returns field i as a float64, as Value.Float does, calling it at
// most once per message.
func (m *msg) float(i int) (float64, bool) {
	n := &m.nums[i]
	if n.state == 0 {
		n.state = 2
		if f, ok := m.vals[i].Float(); ok {
			n.state, n.f = 1, f
		}
	}
	return n.f, n.state == 1
}

// configure decodes and compiles the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	var (
		cp   compiler
		r    cond
		keep bool
		err  error
	)
	switch {
	case c.Keep != nil && c.Drop != nil:
		return errors.New("config: keep and drop are exclusive; set one")
	case c.Keep != nil:
		r, err = cp.compile(*c.Keep, "keep")
		keep = true
	case c.Drop != nil:
		r, err = cp.compile(*c.Drop, "drop")
	default:
		return errors.New("config: one of keep or drop is required")
	}
	if err != nil {
		return err
	}
	root, keepWhen, fields = r, keep, jsonfield.NewFields(cp.paths...)
	cur.reset(fields.Len())
	return nil
}

// compiler gathers the paths the conditions read, each once, in the order
// first met; a test refers to its path by index.
type compiler struct {
	paths []string
	index map[string]int
}

// field returns the index of path, adding it when new.
func (cp *compiler) field(path string) int {
	if i, ok := cp.index[path]; ok {
		return i
	}
	if cp.index == nil {
		cp.index = map[string]int{}
	}
	cp.index[path] = len(cp.paths)
	cp.paths = append(cp.paths, path)
	return len(cp.paths) - 1
}

// keep is the handler: it dead-letters payloads that are not JSON objects.
// It reads every field the conditions name with one Fields.Find.
func keep(m *sdk.Message) (bool, error) {
	cur.reset(fields.Len())
	doc, err := fields.Find(m.Payload(), cur.vals)
	if err != nil {
		return false, fmt.Errorf("filter: payload is not JSON: %w", err)
	}
	if k := doc.Kind(); k != jsonfield.Object {
		return false, fmt.Errorf("filter: payload is a JSON %s, want an object", k)
	}
	return root.eval(&cur) == keepWhen, nil
}

// compile checks c and turns it into a cond; at names c in errors, such as
// "keep.all[1]".
func (cp *compiler) compile(c condConfig, at string) (cond, error) {
	n := 0
	for _, set := range []bool{c.Field != "" || c.Op != "", c.All != nil, c.Any != nil, c.Not != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("config: %s: want exactly one of field/op, all, any or not", at)
	}
	switch {
	case c.All != nil || c.Any != nil:
		subs, name := c.All, "all"
		if c.Any != nil {
			subs, name = c.Any, "any"
		}
		if len(subs) == 0 {
			return nil, fmt.Errorf("config: %s.%s: at least one condition is required", at, name)
		}
		g := group{any: name == "any"}
		for i, s := range subs {
			cc, err := cp.compile(s, fmt.Sprintf("%s.%s[%d]", at, name, i))
			if err != nil {
				return nil, err
			}
			g.conds = append(g.conds, cc)
		}
		return g, nil
	case c.Not != nil:
		inner, err := cp.compile(*c.Not, at+".not")
		if err != nil {
			return nil, err
		}
		return not{inner}, nil
	}
	return cp.compileTest(c, at)
}

// compileTest compiles a field test.
func (cp *compiler) compileTest(c condConfig, at string) (cond, error) {
	if c.Field == "" {
		return nil, fmt.Errorf("config: %s.field: required", at)
	}
	t := test{field: cp.field(c.Field), op: c.Op}
	hasValue, hasValues := c.Value != nil, c.Values != nil
	switch c.Op {
	case "exists", "missing":
		if hasValue || hasValues {
			return nil, fmt.Errorf("config: %s.value: op %q takes no value", at, c.Op)
		}
		return t, nil
	case "in", "not_in":
		if hasValue || !hasValues {
			return nil, fmt.Errorf("config: %s.values: op %q needs a list in values (not value)", at, c.Op)
		}
		for i, raw := range c.Values {
			lit, err := literal(raw)
			if err != nil {
				return nil, fmt.Errorf("config: %s.values[%d]: %w", at, i, err)
			}
			t.set = append(t.set, lit)
		}
		return t, nil
	case "==", "!=", "<", "<=", ">", ">=", "regex":
	case "":
		return nil, fmt.Errorf("config: %s.op: required", at)
	default:
		return nil, fmt.Errorf("config: %s.op: unknown operator %q (want ==, !=, <, <=, >, >=, exists, missing, in, not_in or regex)", at, c.Op)
	}
	if !hasValue || hasValues {
		return nil, fmt.Errorf("config: %s.value: op %q needs one value (not values)", at, c.Op)
	}
	lit, err := literal(c.Value)
	if err != nil {
		return nil, fmt.Errorf("config: %s.value: %w", at, err)
	}
	switch c.Op {
	case "regex":
		if lit.kind != jsonfield.String {
			return nil, fmt.Errorf("config: %s.value: op regex needs a string", at)
		}
		re, err := newMatcher(lit.s)
		if err != nil {
			return nil, fmt.Errorf("config: %s.value: %w", at, err)
		}
		t.re = re
	case "<", "<=", ">", ">=":
		if lit.kind != jsonfield.Number && lit.kind != jsonfield.String {
			return nil, fmt.Errorf("config: %s.value: op %q needs a number or a string", at, c.Op)
		}
	}
	t.lit = lit
	return t, nil
}

// lit is a constant from the configuration.
type lit struct {
	kind jsonfield.Kind
	f    float64 // Number
	s    string  // String: unescaped; Bool: "true"/"false"
}

// literal parses one scalar JSON constant.
func literal(raw json.RawMessage) (lit, error) {
	v, err := jsonfield.Parse(raw)
	if err != nil {
		return lit{}, err
	}
	l := lit{kind: v.Kind()}
	switch l.kind {
	case jsonfield.Number:
		f, ok := v.Float()
		if !ok {
			return lit{}, fmt.Errorf("number %s out of range", raw)
		}
		l.f = f
	case jsonfield.String:
		l.s, _ = v.Text()
	case jsonfield.Bool:
		l.s = string(v.Raw())
	case jsonfield.Null:
	default:
		return lit{}, fmt.Errorf("want a string, number, bool or null, got a JSON %s", l.kind)
	}
	return l, nil
}

// group is all (every condition holds) or any (at least one holds); both
// stop at the first deciding condition.
type group struct {
	any   bool
	conds []cond
}

func (g group) eval(m *msg) bool {
	for _, c := range g.conds {
		if c.eval(m) == g.any {
			return g.any
		}
	}
	return !g.any
}

// not negates a condition.
type not struct{ c cond }

func (n not) eval(m *msg) bool { return !n.c.eval(m) }

// test is one comparison of a field with constants.
type test struct {
	field int // index in fields
	op    string
	lit   lit
	set   []lit
	re    *matcher
}

func (t test) eval(m *msg) bool {
	v := m.vals[t.field]
	found := v.Kind() != jsonfield.Invalid
	switch t.op {
	case "exists":
		return found
	case "missing":
		return !found
	case "!=":
		return !found || !equal(m, t.field, t.lit)
	case "not_in":
		return !found || !in(m, t.field, t.set)
	}
	if !found {
		return false
	}
	switch t.op {
	case "==":
		return equal(m, t.field, t.lit)
	case "in":
		return in(m, t.field, t.set)
	case "regex":
		return t.re.matchValue(v)
	}
	c, ok := compare(m, t.field, t.lit)
	if !ok {
		return false
	}
	switch t.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // ">="
		return c >= 0
	}
}

// in reports whether field i of m equals one of set.
func in(m *msg, i int, set []lit) bool {
	for _, l := range set {
		if equal(m, i, l) {
			return true
		}
	}
	return false
}

// equal reports whether field i of m is the constant l: same kind and same
// value (numbers compared as float64, strings after unescaping).
func equal(m *msg, i int, l lit) bool {
	v := m.vals[i]
	if v.Kind() != l.kind {
		return false
	}
	switch l.kind {
	case jsonfield.Number:
		f, ok := m.float(i)
		return ok && f == l.f
	case jsonfield.String:
		return textEqual(v, l.s)
	case jsonfield.Bool:
		return string(v.Raw()) == l.s
	default: // Null
		return true
	}
}

// textEqual compares the JSON string v with s, without allocating when v
// has no escapes.
func textEqual(v jsonfield.Value, s string) bool {
	raw := v.Raw()
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(string(body), '\\') < 0 {
		return string(body) == s
	}
	u, _ := v.Text()
	return u == s
}

// compare orders field i of m against l: numbers with numbers, strings
// with strings (byte-wise). Other pairs are not ordered and report false.
func compare(m *msg, i int, l lit) (int, bool) {
	v := m.vals[i]
	switch {
	case l.kind == jsonfield.Number && v.Kind() == jsonfield.Number:
		f, ok := m.float(i)
		if !ok {
			return 0, false
		}
		switch {
		case f < l.f:
			return -1, true
		case f > l.f:
			return 1, true
		}
		return 0, true
	case l.kind == jsonfield.String && v.Kind() == jsonfield.String:
		s, _ := v.Text()
		return strings.Compare(s, l.s), true
	}
	return 0, false
}
