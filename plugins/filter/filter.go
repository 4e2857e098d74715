package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
// object doc.
type cond interface {
	eval(doc jsonfield.Value) bool
}

var (
	root     cond
	keepWhen bool // the result of root that keeps a message
)

// configure decodes and compiles the configuration.
func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	switch {
	case c.Keep != nil && c.Drop != nil:
		return errors.New("config: keep and drop are exclusive; set one")
	case c.Keep != nil:
		r, err := compile(*c.Keep, "keep")
		if err != nil {
			return err
		}
		root, keepWhen = r, true
	case c.Drop != nil:
		r, err := compile(*c.Drop, "drop")
		if err != nil {
			return err
		}
		root, keepWhen = r, false
	default:
		return errors.New("config: one of keep or drop is required")
	}
	return nil
}

// keep is the handler: it dead-letters payloads that are not JSON objects.
func keep(m *sdk.Message) (bool, error) {
	doc, err := jsonfield.Parse(m.Payload())
	if err != nil {
		return false, fmt.Errorf("filter: payload is not JSON: %w", err)
	}
	if k := doc.Kind(); k != jsonfield.Object {
		return false, fmt.Errorf("filter: payload is a JSON %s, want an object", k)
	}
	return root.eval(doc) == keepWhen, nil
}

// compile checks c and turns it into a cond; at names c in errors, such as
// "keep.all[1]".
func compile(c condConfig, at string) (cond, error) {
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
			cc, err := compile(s, fmt.Sprintf("%s.%s[%d]", at, name, i))
			if err != nil {
				return nil, err
			}
			g.conds = append(g.conds, cc)
		}
		return g, nil
	case c.Not != nil:
		inner, err := compile(*c.Not, at+".not")
		if err != nil {
			return nil, err
		}
		return not{inner}, nil
	}
	return compileTest(c, at)
}

// compileTest compiles a field test.
func compileTest(c condConfig, at string) (cond, error) {
	if c.Field == "" {
		return nil, fmt.Errorf("config: %s.field: required", at)
	}
	t := test{field: c.Field, op: c.Op}
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
		re, err := regexp.Compile(lit.s)
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

func (g group) eval(doc jsonfield.Value) bool {
	for _, c := range g.conds {
		if c.eval(doc) == g.any {
			return g.any
		}
	}
	return !g.any
}

// not negates a condition.
type not struct{ c cond }

func (n not) eval(doc jsonfield.Value) bool { return !n.c.eval(doc) }

// test is one comparison of a field with constants.
type test struct {
	field string
	op    string
	lit   lit
	set   []lit
	re    *regexp.Regexp
}

func (t test) eval(doc jsonfield.Value) bool {
	v, found := doc.Get(t.field)
	switch t.op {
	case "exists":
		return found
	case "missing":
		return !found
	case "!=":
		return !found || !equal(v, t.lit)
	case "not_in":
		return !found || !in(v, t.set)
	}
	if !found {
		return false
	}
	switch t.op {
	case "==":
		return equal(v, t.lit)
	case "in":
		return in(v, t.set)
	case "regex":
		s, ok := v.Text()
		return ok && t.re.MatchString(s)
	}
	c, ok := compare(v, t.lit)
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

func in(v jsonfield.Value, set []lit) bool {
	for _, l := range set {
		if equal(v, l) {
			return true
		}
	}
	return false
}

// equal reports whether v is the constant l: same kind and same value
// (numbers compared as float64, strings after unescaping).
func equal(v jsonfield.Value, l lit) bool {
	if v.Kind() != l.kind {
		return false
	}
	switch l.kind {
	case jsonfield.Number:
		f, ok := v.Float()
		return ok && f == l.f
	case jsonfield.String:
		return textEqual(v.Raw(), l.s)
	case jsonfield.Bool:
		return string(v.Raw()) == l.s
	default: // Null
		return true
	}
}

// textEqual compares the raw JSON string raw with s without allocating
// when raw has no escapes.
func textEqual(raw []byte, s string) bool {
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(string(body), '\\') < 0 {
		return string(body) == s
	}
	u, _ := unescaped(raw)
	return u == s
}

// unescaped returns the text of the raw JSON string raw.
func unescaped(raw []byte) (string, bool) {
	v, err := jsonfield.Parse(raw)
	if err != nil {
		return "", false
	}
	return v.Text()
}

// compare orders v against l: numbers with numbers, strings with strings
// (byte-wise). Other pairs are not ordered and report false.
func compare(v jsonfield.Value, l lit) (int, bool) {
	switch {
	case l.kind == jsonfield.Number && v.Kind() == jsonfield.Number:
		f, ok := v.Float()
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
