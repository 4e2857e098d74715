package schemaenc

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path of JSON Schema validation: a schema that uses only a common subset of the
// keywords (type, properties, required, additionalProperties, enum and const of scalars,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, items,
// minItems, maxItems, and annotations) is compiled into a tree of jsNodes that checks the JSON
// bytes as they are, with no Go values in between. It only ever says "accepted" when the
// library validator would accept the document too; on any doubt (a keyword outside the
// subset, an escaped string, a number at a bound it cannot compare exactly, malformed JSON, a
// document that does not fit, …) the library validator decides and gives the error with its
// path, so errors are the library's. A differential test and a fuzz test hold the fast
// path's acceptances to the library's.

// jsType is a bit set of JSON Schema types.
type jsType uint8

const (
	jsNull jsType = 1 << iota
	jsBoolean
	jsInteger
	jsNumber // any number, integers included
	jsString
	jsArray
	jsObject
)

// jsNode is one compiled schema of the fast path.
type jsNode struct {
	never      bool   // the schema false
	types      jsType // 0: any type
	enum       []jsLiteral
	hasEnum    bool
	constant   []jsLiteral // const, as a one-member enum
	min, max   *jsBound
	exMin      *jsBound
	exMax      *jsBound
	minLength  int
	maxLength  int // -1: none
	items      *jsNode
	minItems   int
	maxItems   int // -1: none
	props      []jsProperty
	required   int     // how many of props are required
	additional *jsNode // nil: any member allowed
}

// jsProperty is one of a jsNode's properties.
type jsProperty struct {
	name     []byte
	node     *jsNode
	required bool
}

// jsLiteral is a scalar of an enum or const as the JSON text the document must have for
// the fast path to take it as equal: a string's contents (kind '"'), a number's text (kind
// '0'), or true, false, null (kind 'l').
type jsLiteral struct {
	kind byte
	text []byte
}

// jsBound is a numeric bound, kept exactly when it is an integer.
type jsBound struct {
	f     float64
	i     int64
	isInt bool
}

// maxJSProperties bounds the properties of an object schema the fast path takes (which were
// seen is kept in a 64-bit set).
const maxJSProperties = 64

// compileJSFast compiles the schema text for the fast path; nil when it uses anything the
// fast path does not cover.
func compileJSFast(text string) *jsNode {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil
	}
	return compileJSNode(doc, 0)
}

func compileJSNode(v any, depth int) *jsNode {
	if depth > 32 {
		return nil
	}
	switch v := v.(type) {
	case bool:
		return &jsNode{never: !v, maxLength: -1, maxItems: -1}
	case map[string]any:
		n := &jsNode{maxLength: -1, maxItems: -1}
		var required []string
		for k, val := range v {
			ok := true
			switch k {
			case "$schema", "$id", "$comment", "title", "description", "default", "examples",
				"deprecated", "readOnly", "writeOnly", "$defs", "definitions":
			case "type":
				n.types, ok = jsTypes(val)
			case "enum":
				n.hasEnum = true
				n.enum, ok = jsLiterals(val)
			case "const":
				n.constant, ok = jsLiterals([]any{val})
			case "minimum":
				n.min, ok = jsBoundOf(val)
			case "maximum":
				n.max, ok = jsBoundOf(val)
			case "exclusiveMinimum":
				n.exMin, ok = jsBoundOf(val) // a draft-4 boolean is not covered
			case "exclusiveMaximum":
				n.exMax, ok = jsBoundOf(val)
			case "minLength":
				n.minLength, ok = jsCount(val)
			case "maxLength":
				n.maxLength, ok = jsCount(val)
			case "minItems":
				n.minItems, ok = jsCount(val)
			case "maxItems":
				n.maxItems, ok = jsCount(val)
			case "items":
				if _, tuple := val.([]any); tuple {
					return nil
				}
				n.items = compileJSNode(val, depth+1)
				ok = n.items != nil
			case "additionalProperties":
				n.additional = compileJSNode(val, depth+1)
				ok = n.additional != nil
			case "properties":
				m, isMap := val.(map[string]any)
				if !isMap || len(m) > maxJSProperties {
					return nil
				}
				for name, s := range m {
					p := jsProperty{name: []byte(name), node: compileJSNode(s, depth+1)}
					if p.node == nil {
						return nil
					}
					n.props = append(n.props, p)
				}
			case "required":
				list, isList := val.([]any)
				if !isList {
					return nil
				}
				for _, r := range list {
					s, isString := r.(string)
					if !isString {
						return nil
					}
					required = append(required, s)
				}
			default:
				return nil
			}
			if !ok {
				return nil
			}
		}
		for _, r := range required {
			found := false
			for k := range n.props {
				if string(n.props[k].name) == r {
					if !n.props[k].required {
						n.props[k].required = true
						n.required++
					}
					found = true
				}
			}
			if !found { // a required member without a property schema is not covered
				return nil
			}
		}
		return n
	}
	return nil
}

func jsTypes(v any) (jsType, bool) {
	names, ok := v.([]any)
	if !ok {
		names = []any{v}
	}
	var t jsType
	for _, name := range names {
		switch name {
		case "null":
			t |= jsNull
		case "boolean":
			t |= jsBoolean
		case "integer":
			t |= jsInteger
		case "number":
			t |= jsNumber | jsInteger
		case "string":
			t |= jsString
		case "array":
			t |= jsArray
		case "object":
			t |= jsObject
		default:
			return 0, false
		}
	}
	return t, t != 0
}

func jsLiterals(v any) ([]jsLiteral, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var lits []jsLiteral
	for _, m := range list {
		switch m := m.(type) {
		case string:
			lits = append(lits, jsLiteral{'"', []byte(m)})
		case json.Number:
			lits = append(lits, jsLiteral{'0', []byte(m)})
		case bool:
			lits = append(lits, jsLiteral{'l', []byte(strconv.FormatBool(m))})
		case nil:
			lits = append(lits, jsLiteral{'l', []byte("null")})
		default:
			return nil, false
		}
	}
	return lits, true
}

func jsBoundOf(v any) (*jsBound, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, false
	}
	b := &jsBound{f: f}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		b.i, b.isInt = i, true
	}
	return b, true
}

func jsCount(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(n))
	return i, err == nil && i >= 0
}

// accepts reports whether the fast path is sure the schema accepts doc.
func (n *jsNode) accepts(doc []byte) bool {
	i, ok := n.check(doc, ws(doc, 0), 0)
	return ok && ws(doc, i) == len(doc)
}

// check checks the JSON value at b[i:] and returns the index after it.
func (n *jsNode) check(b []byte, i, depth int) (int, bool) {
	if n.never || i >= len(b) || depth > 64 {
		return 0, false
	}
	switch b[i] {
	case '{':
		if !n.allows(jsObject) || n.hasEnum || n.constant != nil {
			return 0, false
		}
		return n.checkObject(b, i, depth)
	case '[':
		if !n.allows(jsArray) || n.hasEnum || n.constant != nil {
			return 0, false
		}
		return n.checkArray(b, i, depth)
	case '"':
		s, j, ok := plainString(b, i)
		if !ok || !n.allows(jsString) {
			return 0, false
		}
		if n.minLength > 0 || n.maxLength >= 0 {
			l := utf8.RuneCount(s)
			if l < n.minLength || (n.maxLength >= 0 && l > n.maxLength) {
				return 0, false
			}
		}
		return j, n.literalFits('"', s)
	case 't', 'f', 'n':
		t, lit := jsBoolean, "true"
		if b[i] == 'f' {
			lit = "false"
		} else if b[i] == 'n' {
			t, lit = jsNull, "null"
		}
		j, ok := literal(b, i, lit)
		if !ok || !n.allows(t) {
			return 0, false
		}
		return j, n.literalFits('l', b[i:j])
	}
	j, ok := number(b, i)
	if !ok {
		return 0, false
	}
	text := b[i:j]
	integral := true
	for _, c := range text {
		if c == '.' || c == 'e' || c == 'E' {
			integral = false
		}
	}
	if !n.allows(jsNumber) && !(integral && n.allows(jsInteger)) {
		return 0, false
	}
	if n.min != nil || n.max != nil || n.exMin != nil || n.exMax != nil {
		if !n.inBounds(text, integral) {
			return 0, false
		}
	}
	return j, n.literalFits('0', text)
}

// allows reports whether the schema's type allows t.
func (n *jsNode) allows(t jsType) bool { return n.types == 0 || n.types&t != 0 }

// literalFits reports whether the scalar (kind, text) is sure to be in the enum and equal to
// the const.
func (n *jsNode) literalFits(kind byte, text []byte) bool {
	in := func(lits []jsLiteral) bool {
		for _, l := range lits {
			if l.kind == kind && string(l.text) == string(text) {
				return true
			}
		}
		return false
	}
	return (!n.hasEnum || in(n.enum)) && (n.constant == nil || in(n.constant))
}

// inBounds reports whether the number text is sure to be within the bounds: compared
// exactly as integers, or as floats when they differ (rounding keeps a strict order).
func (n *jsNode) inBounds(text []byte, integral bool) bool {
	var iv int64
	isInt := false
	if integral {
		v, err := strconv.ParseInt(bytesString(text), 10, 64)
		iv, isInt = v, err == nil
	}
	fv, err := strconv.ParseFloat(bytesString(text), 64)
	if err != nil {
		return false
	}
	// cmp is the sign of value - bound when sure, ok false when not
	cmp := func(b *jsBound) (int, bool) {
		if isInt && b.isInt {
			switch {
			case iv < b.i:
				return -1, true
			case iv > b.i:
				return 1, true
			}
			return 0, true
		}
		switch {
		case fv < b.f:
			return -1, true
		case fv > b.f:
			return 1, true
		}
		return 0, false
	}
	for _, c := range []struct {
		b       *jsBound
		sign    int
		allowEq bool
	}{{n.min, 1, true}, {n.max, -1, true}, {n.exMin, 1, false}, {n.exMax, -1, false}} {
		if c.b == nil {
			continue
		}
		d, ok := cmp(c.b)
		if !ok || (d == 0 && !c.allowEq) || d == -c.sign {
			return false
		}
	}
	return true
}

// checkObject checks the object at b[i:] member by member (a repeated member is checked each
// time: the library keeps the last one).
func (n *jsNode) checkObject(b []byte, i, depth int) (int, bool) {
	var seen uint64
	required := 0
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, n.required == 0
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		j = ws(b, j)
		if j >= len(b) || b[j] != ':' {
			return 0, false
		}
		j = ws(b, j+1)
		p := -1
		for k := range n.props {
			if string(n.props[k].name) == string(key) {
				p = k
				break
			}
		}
		switch {
		case p >= 0:
			if n.props[p].required && seen&(1<<p) == 0 {
				required++
			}
			seen |= 1 << p
			j, ok = n.props[p].node.check(b, j, depth+1)
		case n.additional != nil:
			j, ok = n.additional.check(b, j, depth+1)
		default:
			j, ok = skipValue(b, j, 0)
		}
		if !ok {
			return 0, false
		}
		i = ws(b, j)
		if i < len(b) && b[i] == ',' {
			i = ws(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, required == n.required
		}
		return 0, false
	}
}

// checkArray checks the array at b[i:] item by item.
func (n *jsNode) checkArray(b []byte, i, depth int) (int, bool) {
	count := 0
	i = ws(b, i+1)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			var j int
			var ok bool
			if n.items != nil {
				j, ok = n.items.check(b, i, depth+1)
			} else {
				j, ok = skipValue(b, i, 0)
			}
			if !ok {
				return 0, false
			}
			count++
			i = ws(b, j)
			if i < len(b) && b[i] == ',' {
				i = ws(b, i+1)
				continue
			}
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			return 0, false
		}
	}
	return i, count >= n.minItems && (n.maxItems < 0 || count <= n.maxItems)
}
