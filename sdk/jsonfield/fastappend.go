package jsonfield

import "math"

// This file is the fastest path of an Edit, for its commonest use: setting
// top-level members (topic levels, table entries, converted readings,
// copied parent fields). The document is validated and copied once, with
// the values of members it has replaced in place and new members written
// before its closing brace, exactly as applyEdit's Set calls would place
// them. Anything else is left to the tree of fastedit.go.

// maxAppendOps bounds the operations appendNew takes on.
const maxAppendOps = 16

// newMember is one member appendNew adds: its key (a plain path), and its
// value, raw or a float to format.
type newMember struct {
	key   string
	raw   []byte
	f     float64
	float bool
	dflt  bool // a SetDefault
	skip  bool // a SetDefault whose key the document has
	// found: a Set whose key the document has, first at [from, to) (the
	// value replaced).
	found    bool
	from, to int
}

// appendNew appends to dst the result of applyEdit(doc, prog) and reports
// true when prog holds only Set, SetDefault and SetFloat operations on
// distinct top-level keys written plainly (printable ASCII without quotes,
// backslashes or dots), the document's root is a compact object (as the
// tree requires), and nothing fails; else it reports false and dst's
// contents past its length are undefined.
func appendNew(dst, doc, prog []byte) ([]byte, bool) {
	var ops [maxAppendOps]newMember
	n := 0
	for r := (progReader{b: prog}); len(r.b) > 0; n++ {
		if n == len(ops) {
			return dst, false
		}
		op := &ops[n]
		code := r.byte()
		op.key = bstring(r.bytes())
		switch code {
		case opSet, opSetDefault:
			raw := r.bytes()
			if r.err {
				return dst, false
			}
			v, err := parse(raw)
			if err != nil {
				return dst, false
			}
			op.raw, op.dflt = v.raw, code == opSetDefault
		case opSetFloat:
			op.f, op.float = r.float(), true
			if math.IsNaN(op.f) || math.IsInf(op.f, 0) {
				return dst, false
			}
		default:
			return dst, false
		}
		if r.err || !plainPathKey(op.key) {
			return dst, false
		}
		for _, prev := range ops[:n] {
			if prev.key == op.key {
				return dst, false
			}
		}
	}
	i := skipSpace(doc, 0)
	end, members, ok := scanCompactRoot(doc, i, ops[:n])
	if !ok || skipSpace(doc, end) != len(doc) {
		return dst, false
	}
	// Replaced values, in document order, then the new members.
	var order [maxAppendOps]int
	replaced := 0
	for k := range ops[:n] {
		if !ops[k].found {
			continue
		}
		at := replaced
		for at > 0 && ops[order[at-1]].from > ops[k].from {
			order[at] = order[at-1]
			at--
		}
		order[at] = k
		replaced++
	}
	pos := 0
	for _, k := range order[:replaced] {
		op := &ops[k]
		dst = append(dst, doc[pos:op.from]...)
		dst = op.appendValue(dst)
		pos = op.to
	}
	dst = append(dst, doc[pos:end-1]...)
	for k := range ops[:n] {
		op := &ops[k]
		if op.skip || op.found {
			continue
		}
		if members > 0 {
			dst = append(dst, ',')
		}
		members++
		dst = append(dst, '"')
		dst = append(dst, op.key...)
		dst = append(dst, '"', ':')
		dst = op.appendValue(dst)
	}
	dst = append(dst, '}')
	return append(dst, doc[end:]...), true
}

// appendValue appends op's value, as Set writes it.
func (op *newMember) appendValue(dst []byte) []byte {
	if op.float {
		return appendFloat(dst, op.f)
	}
	return append(dst, op.raw...)
}

// plainPathKey reports whether the path p is one key that Set writes as
// p between quotes and that keyIs compares bytewise.
func plainPathKey(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '.' {
			return false
		}
	}
	return true
}

// scanCompactRoot validates the compact object at doc[i] as skipValue
// would, returning the offset past it and its number of members; for each
// op whose key a member has, the first such member marks a SetDefault
// skip and any other op found, with its value's span. Whitespace between
// the object's tokens and keys with escapes fail the scan (ok false).
func scanCompactRoot(doc []byte, i int, ops []newMember) (end, members int, ok bool) {
	if i+1 >= len(doc) || doc[i] != '{' {
		return 0, 0, false
	}
	if doc[i+1] == '}' {
		return i + 2, 0, true
	}
	for j := i + 1; ; members++ {
		if j >= len(doc) || doc[j] != '"' {
			return 0, 0, false
		}
		keyEnd, esc, err := skipString(doc, j)
		if err != nil || esc || keyEnd >= len(doc) || doc[keyEnd] != ':' {
			return 0, 0, false
		}
		valEnd, err := skipValue(doc, keyEnd+1, 1)
		if err != nil || valEnd >= len(doc) {
			return 0, 0, false
		}
		key := doc[j+1 : keyEnd-1]
		for k := range ops {
			op := &ops[k]
			if len(op.key) != len(key) || op.key != string(key) || op.skip || op.found {
				continue // not this key, or not its first member
			}
			if op.dflt {
				op.skip = true
			} else {
				op.found, op.from, op.to = true, keyEnd+1, valEnd
			}
		}
		switch doc[valEnd] {
		case ',':
			j = valEnd + 1
		case '}':
			return valEnd + 1, members + 1, true
		default:
			return 0, 0, false
		}
	}
}
