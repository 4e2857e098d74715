package jsonfield

import (
	"errors"
	"iter"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Kind is the JSON type of a [Value].
type Kind uint8

// The JSON kinds. Invalid is the zero Value's kind.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Object
	Array
)

var kindNames = [...]string{"invalid", "null", "bool", "number", "string", "object", "array"}

// String returns the kind's JSON name, such as "number".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one validated JSON value inside a document. It aliases the
// document's bytes: it is valid while they are unchanged. The zero Value has
// kind Invalid and every accessor reports false.
type Value struct {
	raw []byte
}

// Parse validates doc as exactly one JSON value (with optional surrounding
// whitespace) and returns it. Errors wrap [ErrSyntax].
func Parse(doc []byte) (Value, error) {
	if v, r := hostParse(doc); r == hostOK {
		return v, nil
	}
	return parse(doc) // also explains a failure
}

// parse is [Parse] in Go, on every target.
func parse(doc []byte) (Value, error) {
	i := skipSpace(doc, 0)
	end, err := skipValue(doc, i, 0)
	if err != nil {
		return Value{}, err
	}
	if j := skipSpace(doc, end); j != len(doc) {
		return Value{}, syntaxErr(j, "unexpected %q after the value", doc[j])
	}
	return Value{raw: doc[i:end:end]}, nil
}

// Kind returns the value's JSON type.
func (v Value) Kind() Kind {
	if len(v.raw) == 0 {
		return Invalid
	}
	switch c := v.raw[0]; c {
	case 'n':
		return Null
	case 't', 'f':
		return Bool
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	default:
		return Number
	}
}

// Raw returns the value's JSON text, without surrounding whitespace. The
// slice aliases the document; do not modify it.
func (v Value) Raw() []byte { return v.raw }

// Float returns a number as a float64; false for other kinds or when the
// number is out of float64's range.
func (v Value) Float() (float64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	if f, ok := shortFloat(v.raw); ok { // cheaper than a host call in wasm
		return f, true
	}
	switch f, r := hostFloat(v.raw); r {
	case hostOK:
		return f, true
	case hostMalformed:
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// shortFloat parses raw, a valid JSON number, when it is a plain decimal
// (no exponent) of at most 15 digits, and returns what strconv.ParseFloat
// returns: the digits as an integer and the power of ten are both exact
// in a float64, so their quotient is the correctly rounded value. false
// for other numbers.
func shortFloat(raw []byte) (float64, bool) {
	i, neg := 0, false
	if len(raw) > 0 && raw[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// Int returns a number as an int64 when it is integral and in range
// ("12", "-3", "1e3", "2.0"); false otherwise.
func (v Value) Int() (int64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(v.raw), 10, 64); err == nil {
		return n, true
	}
	f, ok := v.Float()
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Bool returns a boolean's value; false, false for other kinds.
func (v Value) Bool() (value, ok bool) {
	if v.Kind() != Bool {
		return false, false
	}
	return v.raw[0] == 't', true
}

// Text returns a string's unescaped value; false for other kinds. Invalid
// UTF-8 and unpaired surrogates become U+FFFD, as with encoding/json.
func (v Value) Text() (string, bool) {
	if v.Kind() != String {
		return "", false
	}
	return unescape(v.raw[1 : len(v.raw)-1]), true
}

// Get looks path up inside v; see the package comment for path syntax.
func (v Value) Get(path string) (Value, bool) {
	if v.Kind() == Invalid {
		return Value{}, false
	}
	return Get(v.raw, path)
}

// Members iterates over an object's members in document order, yielding
// each unescaped key and its value. It yields nothing for other kinds.
// Duplicate keys are yielded as they appear.
func (v Value) Members() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if v.Kind() != Object {
			return
		}
		if spans, ok := hostChildren(v.raw, true); ok {
			for i := 0; i < len(spans); i += 2 {
				key := spanOf(v.raw, spans[i])
				key = key[1 : len(key)-1]
				k := string(key)
				if hasBackslash(key) {
					k = unescape(key)
				}
				if !yield(k, Value{raw: spanOf(v.raw, spans[i+1])}) {
					return
				}
			}
			return
		}
		w := newWalker(v.raw, 0, 0)
		for w.next() && w.finish() {
			key := w.doc[w.keyStart+1 : w.keyEnd-1]
			k := string(key)
			if w.keyEscaped {
				k = unescape(key)
			}
			if !yield(k, Value{raw: w.doc[w.valStart:w.valEnd:w.valEnd]}) {
				return
			}
		}
	}
}

// Elements iterates over an array's elements in order, yielding each index
// and value. It yields nothing for other kinds.
func (v Value) Elements() iter.Seq2[int, Value] {
	return func(yield func(int, Value) bool) {
		if v.Kind() != Array {
			return
		}
		if spans, ok := hostChildren(v.raw, false); ok {
			for i, s := range spans {
				if !yield(i, Value{raw: spanOf(v.raw, s)}) {
					return
				}
			}
			return
		}
		w := newWalker(v.raw, 0, 0)
		for w.next() && w.finish() {
			if !yield(w.index, Value{raw: w.doc[w.valStart:w.valEnd:w.valEnd]}) {
				return
			}
		}
	}
}

// Len returns the number of members of an object or elements of an array,
// and 0 for other kinds.
func (v Value) Len() int {
	k := v.Kind()
	if k != Object && k != Array {
		return 0
	}
	w := newWalker(v.raw, 0, 0)
	n := 0
	for w.next() {
		n++
	}
	return n
}

// unescape decodes the inside of a valid JSON string.
func unescape(raw []byte) string {
	simple := true
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple || (utf8.Valid(raw) && !hasBackslash(raw)) {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
			continue
		}
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch e := raw[i+1]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if len(raw)-i >= 6 && raw[i] == '\\' && raw[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(raw[i+2:])); pair != utf8.RuneError {
						out = utf8.AppendRune(out, pair)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, e)
		}
		i += 2
	}
	return string(out)
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// spanOf returns the part off<<32 | len of raw, capped (json_children's
// spans, checked by the caller).
func spanOf(raw []byte, span int64) []byte {
	off, n := int(uint64(span)>>32), int(uint64(span)&0xffffffff)
	return raw[off : off+n : off+n]
}

// errNotContainer is returned internally when a path goes through a scalar.
var errNotContainer = errors.New("not an object or array")

// IsNumber reports whether s, with optional JSON whitespace around it, is
// one JSON number: whether [Parse] would find a Number in it. It runs in
// Go on every target (no host call in a wasm guest), for checking text
// such as an MQTT topic level before writing it as a number with
// [Edit.Set].
func IsNumber(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // only read
	i := skipSpace(b, 0)
	if i == len(b) || (b[i] != '-' && (b[i] < '0' || b[i] > '9')) {
		return false
	}
	end, err := skipNumber(b, i)
	return err == nil && skipSpace(b, end) == len(b)
}
