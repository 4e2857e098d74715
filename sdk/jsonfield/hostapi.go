package jsonfield

import "errors"

// This file is the native side of the json_edit, json_find and
// json_children imports (sdk/ABI.md §2.1): wasmhost/jsonimports calls these functions
// on a guest's memory. Plugins use Edit, Fields and Value instead.

// Program returns e's operations encoded as tributary.json_edit takes them
// (sdk/ABI.md §2.1). The slice aliases e: it is valid until e changes.
func (e *Edit) Program() []byte { return e.prog }

// AppendEdit appends to dst the document that [Edit.Apply] returns for doc
// and the Edit whose [Edit.Program] is prog, and returns the extended
// slice; on an error dst is returned unchanged with Apply's error (a
// program that does not decode is an error too). doc and prog are only
// read, and no reference to them is kept. It is the native side of
// tributary.json_edit.
func AppendEdit(dst, doc, prog []byte) ([]byte, error) {
	if out, ok := applyFast(dst, doc, prog); ok {
		return out, nil
	}
	out, err := applyEdit(doc, prog)
	if err != nil {
		return dst, err
	}
	return append(dst, out...), nil
}

// errPaths reports a json_find path list that does not decode or does not
// hold exactly as many paths as values asked for.
var errPaths = errors.New("jsonfield: malformed path list")

// FindPaths is [Fields.Find] for the Fields whose paths are encoded in
// paths as tributary.json_find takes them (sdk/ABI.md §2.1: each path a
// uvarint length then its bytes): it validates doc, returns it, and sets
// vals[i] to the value at the i-th path or to the zero Value. paths must
// hold exactly len(vals) paths, else the error is a malformed path list.
// On an error vals are zeroed. It is the native side of tributary.json_find.
func FindPaths(doc, paths []byte, vals []Value) (Value, error) {
	clear(vals)
	var members rootMembers
	v, err := parseMembers(doc, &members)
	if err != nil {
		return Value{}, err
	}
	r := progReader{b: paths}
	for i := range vals {
		p := bstring(r.bytes())
		if r.err {
			clear(vals)
			return Value{}, errPaths
		}
		vals[i], _ = lookupIn(v.raw, &members, p)
	}
	if len(r.b) != 0 {
		clear(vals)
		return Value{}, errPaths
	}
	return v, nil
}

// errNoChildren reports json_children asked about a scalar.
var errNoChildren = errors.New("jsonfield: children: not one object or array")

// AppendChildSpans validates raw as one JSON object or array without
// surrounding whitespace and appends to spans the position of each of its
// children inside raw, as off<<32 | len: an array's elements in order, or
// an object's members in order as two spans each, the key (with its
// quotes, escapes as written) then the value. Values have no surrounding
// whitespace. Anything else than an object or array, or malformed JSON
// (wrapping [ErrSyntax]), is an error, with spans returned unchanged. It
// is the native side of tributary.json_children.
func AppendChildSpans(spans []int64, raw []byte) ([]int64, error) {
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return spans, errNoChildren
	}
	n := len(spans)
	w := newWalker(raw, 0, 1) // validates as skipValue does at depth 0
	for w.next() && w.finish() {
		if w.obj {
			spans = append(spans, int64(w.keyStart)<<32|int64(w.keyEnd-w.keyStart))
		}
		spans = append(spans, int64(w.valStart)<<32|int64(w.valEnd-w.valStart))
	}
	switch {
	case w.err != nil:
		return spans[:n], w.err
	case w.end != len(raw):
		return spans[:n], syntaxErr(w.end, "unexpected %q after the value", raw[w.end])
	}
	return spans, nil
}
