package schemaenc

import (
	"strconv"
	"unicode/utf8"

	"github.com/iskorotkov/avro/v2"
)

// The fast path of Avro encoding: a schema compiled into a tree of avroNodes writes the
// encoding straight from the JSON bytes through iskorotkov/avro's Writer, with no Go values in
// between. It covers what sensor payloads use (records whose members are all present, in any
// order; null, boolean, int, long, float, double, string, enum, arrays and [null, T] unions)
// and gives up on anything else (a missing field, an escaped string, a map, a union in its
// Avro JSON form, a value that does not fit, malformed JSON, …): the general path
// (avroNative, then iskorotkov/avro) then encodes the document, or says why it does not fit. Both
// write the same bytes; a differential test and a fuzz test hold them together.

// avroKind is what an avroNode writes.
type avroKind uint8

const (
	kNull avroKind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kString
	kEnum
	kArray
	kNullable // a two-branch union of null and elem
	kRecord
)

// avroNode is one compiled schema node of the fast path.
type avroNode struct {
	kind    avroKind
	elem    *avroNode   // kArray: the items; kNullable: the non-null branch
	nullIdx int32       // kNullable: the null branch's index (0 or 1)
	symbols [][]byte    // kEnum
	fields  []avroField // kRecord
}

type avroField struct {
	name []byte
	node *avroNode
}

// maxFastFields bounds the fields of a record the fast path takes (its member positions are
// kept on the stack).
const maxFastFields = 32

// arrayBlockLength is iskorotkov/avro's default block length, so that arrays are written in the
// same blocks as its encoder writes them.
const arrayBlockLength = 100

// compileFast compiles s for the fast path; nil when s uses something it does not cover.
func compileFast(s avro.Schema, depth int) *avroNode {
	if depth > 32 {
		return nil
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s.Type() {
	case avro.Null:
		return &avroNode{kind: kNull}
	case avro.Boolean:
		return &avroNode{kind: kBoolean}
	case avro.Int:
		return &avroNode{kind: kInt} // a date or time as a string is the general path's
	case avro.Long:
		if lt := logicalOf(s); lt != "" && lt != avro.TimestampMillis && lt != avro.TimestampMicros &&
			lt != avro.LocalTimestampMillis && lt != avro.LocalTimestampMicros {
			return nil
		}
		return &avroNode{kind: kLong}
	case avro.Float:
		return &avroNode{kind: kFloat}
	case avro.Double:
		return &avroNode{kind: kDouble}
	case avro.String:
		return &avroNode{kind: kString}
	case avro.Enum:
		n := &avroNode{kind: kEnum}
		for _, sym := range s.(*avro.EnumSchema).Symbols() {
			n.symbols = append(n.symbols, []byte(sym))
		}
		return n
	case avro.Array:
		elem := compileFast(s.(*avro.ArraySchema).Items(), depth+1)
		if elem == nil {
			return nil
		}
		return &avroNode{kind: kArray, elem: elem}
	case avro.Union:
		types := s.(*avro.UnionSchema).Types()
		if len(types) != 2 || (types[0].Type() == avro.Null) == (types[1].Type() == avro.Null) {
			return nil
		}
		n := &avroNode{kind: kNullable}
		other := types[0]
		if types[0].Type() == avro.Null {
			other = types[1]
		} else {
			n.nullIdx = 1
		}
		if other.Type() == avro.Union {
			return nil
		}
		if n.elem = compileFast(other, depth+1); n.elem == nil {
			return nil
		}
		return n
	case avro.Record:
		rs := s.(*avro.RecordSchema)
		if len(rs.Fields()) > maxFastFields {
			return nil
		}
		n := &avroNode{kind: kRecord}
		for _, f := range rs.Fields() {
			fn := compileFast(f.Type(), depth+1)
			if fn == nil {
				return nil
			}
			n.fields = append(n.fields, avroField{name: []byte(f.Name()), node: fn})
		}
		return n
	}
	return nil
}

// encodeFast writes doc through w as n, reporting false when the fast path does not take it.
func (n *avroNode) encodeFast(w *avro.Writer, doc []byte) bool {
	i, ok := n.encode(w, doc, ws(doc, 0))
	return ok && ws(doc, i) == len(doc)
}

// encode writes the JSON value at b[i:] as n and returns the index after it.
func (n *avroNode) encode(w *avro.Writer, b []byte, i int) (int, bool) {
	switch n.kind {
	case kNull:
		return literal(b, i, "null")
	case kBoolean:
		if j, ok := literal(b, i, "true"); ok {
			w.WriteBool(true)
			return j, true
		}
		j, ok := literal(b, i, "false")
		w.WriteBool(false)
		return j, ok
	case kInt, kLong:
		j, ok := number(b, i)
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(bytesString(b[i:j]), 10, 64)
		if err != nil {
			return 0, false
		}
		if n.kind == kInt {
			if v != int64(int32(v)) {
				return 0, false
			}
			w.WriteInt(int32(v))
		} else {
			w.WriteLong(v)
		}
		return j, true
	case kFloat, kDouble:
		j, ok := number(b, i)
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseFloat(bytesString(b[i:j]), 64)
		if err != nil {
			return 0, false
		}
		if n.kind == kFloat {
			w.WriteFloat(float32(v))
		} else {
			w.WriteDouble(v)
		}
		return j, true
	case kString:
		s, j, ok := plainString(b, i)
		if ok {
			w.WriteBytes(s) // a string's encoding is its bytes'
		}
		return j, ok
	case kEnum:
		s, j, ok := plainString(b, i)
		if !ok {
			return 0, false
		}
		for k, sym := range n.symbols {
			if string(sym) == string(s) {
				w.WriteInt(int32(k))
				return j, true
			}
		}
		return 0, false
	case kNullable:
		if j, ok := literal(b, i, "null"); ok {
			w.WriteInt(n.nullIdx)
			return j, true
		}
		w.WriteInt(1 - n.nullIdx)
		return n.elem.encode(w, b, i)
	case kArray:
		return n.encodeArray(w, b, i)
	case kRecord:
		return n.encodeRecord(w, b, i)
	}
	return 0, false
}

// encodeArray writes a JSON array in blocks of arrayBlockLength items, as iskorotkov/avro does.
func (n *avroNode) encodeArray(w *avro.Writer, b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = ws(b, i+1)
	ok := true
	if i < len(b) && b[i] == ']' {
		w.WriteBlockHeader(0, 0)
		return i + 1, true
	}
	done := false
	for !done && ok {
		w.WriteBlockCB(func(w *avro.Writer) int64 {
			var count int64
			for count < arrayBlockLength {
				var j int
				if j, ok = n.elem.encode(w, b, i); !ok {
					return count
				}
				count++
				i = ws(b, j)
				if i < len(b) && b[i] == ',' {
					i = ws(b, i+1)
					continue
				}
				if i < len(b) && b[i] == ']' {
					i++
					done = true
					return count
				}
				ok = false
				return count
			}
			return count
		})
	}
	if !ok {
		return 0, false
	}
	w.WriteBlockHeader(0, 0)
	return i, true
}

// encodeRecord finds the member of each field in the JSON object at b[i:], then writes the
// fields in schema order. A missing, unknown or repeated member gives up.
func (n *avroNode) encodeRecord(w *avro.Writer, b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	var at [maxFastFields]int // 1 + the offset of each field's value; 0: not seen
	seen := 0
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
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
			f := -1
			for k := range n.fields {
				if string(n.fields[k].name) == string(key) {
					f = k
					break
				}
			}
			if f < 0 || at[f] != 0 {
				return 0, false
			}
			at[f] = j + 1
			seen++
			if j, ok = skipValue(b, j, 0); !ok {
				return 0, false
			}
			i = ws(b, j)
			if i < len(b) && b[i] == ',' {
				i = ws(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return 0, false
		}
	}
	if seen != len(n.fields) {
		return 0, false
	}
	for k, f := range n.fields {
		if _, ok := f.node.encode(w, b, at[k]-1); !ok {
			return 0, false
		}
	}
	return i, true
}

// ws skips JSON whitespace from i.
func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// literal matches the JSON literal lit at b[i:].
func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// number matches a JSON number at b[i:]:
// -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i, _ = digits(i)
	default:
		return 0, false
	}
	var ok bool
	if i < len(b) && b[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return 0, false
		}
	}
	return i, true
}

// plainString matches a JSON string at b[i:] without escapes, of valid UTF-8 and without
// control characters, and returns its contents.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			return s, j + 1, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipValue matches any JSON value at b[i:] that the fast path could take (strings without
// escapes) and returns the index after it.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 64 {
		return 0, false
	}
	switch b[i] {
	case '"':
		_, j, ok := plainString(b, i)
		return j, ok
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	case '[', '{':
		closer := byte(']')
		if b[i] == '{' {
			closer = '}'
		}
		obj := b[i] == '{'
		i = ws(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if obj {
				_, j, ok := plainString(b, i)
				if !ok {
					return 0, false
				}
				j = ws(b, j)
				if j >= len(b) || b[j] != ':' {
					return 0, false
				}
				i = ws(b, j+1)
			}
			j, ok := skipValue(b, i, depth+1)
			if !ok {
				return 0, false
			}
			i = ws(b, j)
			if i < len(b) && b[i] == ',' {
				i = ws(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, true
			}
			return 0, false
		}
	}
	return number(b, i)
}
