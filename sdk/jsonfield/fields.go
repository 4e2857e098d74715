package jsonfield

import (
	"encoding/binary"
	"math"
)

// Fields is a set of paths looked up together by [Fields.Find]: one pass
// of validation and, in a wasm guest, one host call
// (tributary.json_find, sdk/ABI.md §2.1) for all of them, where a
// [Parse] and a [Get] per path would cost a host call each. Build it once
// (at configuration time) with [NewFields]; it is safe for concurrent use.
type Fields struct {
	paths []string
	prog  []byte // the paths as json_find takes them: each uvarint length, bytes
}

// NewFields returns the set of paths, in the order given.
func NewFields(paths ...string) *Fields {
	f := &Fields{paths: append([]string(nil), paths...)}
	for _, p := range paths {
		f.prog = binary.AppendUvarint(f.prog, uint64(len(p)))
		f.prog = append(f.prog, p...)
	}
	return f
}

// Len returns the number of paths.
func (f *Fields) Len() int { return len(f.paths) }

// Path returns the i-th path.
func (f *Fields) Path(i int) string { return f.paths[i] }

// Find validates doc as [Parse] does and returns it as a Value, with
// vals[i] set to the value at the i-th path, as [Get] finds it, or to the
// zero Value (kind Invalid) when the path does not exist. vals must have
// room for [Fields.Len] values; Find panics otherwise, as an index out of
// range would. On an error (malformed doc, wrapping [ErrSyntax]) vals are
// zeroed.
func (f *Fields) Find(doc []byte, vals []Value) (Value, error) {
	vals = vals[:len(f.paths)]
	if v, r := hostFind(doc, f.prog, vals); r == hostOK {
		return v, nil
	}
	return find(doc, f.paths, vals) // also explains a failure
}

// find is [Fields.Find] in Go, on every target.
func find(doc []byte, paths []string, vals []Value) (Value, error) {
	clear(vals)
	var members rootMembers
	v, err := parseMembers(doc, &members)
	if err != nil {
		return Value{}, err
	}
	for i, p := range paths {
		vals[i], _ = lookupIn(v.raw, &members, p)
	}
	return v, nil
}

// maxMembers is how many of the root object's members parseMembers
// records; lookups in larger objects scan as lookup does.
const maxMembers = 32

// rootMember is a member of the root object, found while validating it.
type rootMember struct {
	keyStart, keyEnd, valStart, valEnd int32
	keyEscaped, keyASCII               bool
}

// rootMembers are the recorded members of a document's root object:
// lookups of several paths then scan the document once.
type rootMembers struct {
	m [maxMembers]rootMember
	n int // -1 when not recorded (not an object, or too many members)
}

// parseMembers is parse, also recording in ms the members of a root
// object.
func parseMembers(doc []byte, ms *rootMembers) (Value, error) {
	ms.n = -1
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return parse(doc)
	}
	ms.n = 0
	w := newWalker(doc, i, 1) // as skipValue(doc, i, 0) validates
	for w.next() && w.finish() {
		if ms.n >= 0 && ms.n < maxMembers && w.valEnd-i <= math.MaxInt32 {
			ms.m[ms.n] = rootMember{int32(w.keyStart - i), int32(w.keyEnd - i), int32(w.valStart - i), int32(w.valEnd - i),
				w.keyEscaped, isASCII(doc[w.keyStart:w.keyEnd])}
			ms.n++
		} else {
			ms.n = -1
		}
	}
	if w.err != nil {
		return Value{}, w.err
	}
	if j := skipSpace(doc, w.end); j != len(doc) {
		return Value{}, syntaxErr(j, "unexpected %q after the value", doc[j])
	}
	return Value{raw: doc[i:w.end:w.end]}, nil
}

// lookupIn is lookupValid on doc, a valid document whose root members ms
// records (unless ms.n is -1).
func lookupIn(doc []byte, ms *rootMembers, path string) (Value, bool) {
	if ms.n < 0 || path == "" {
		return lookupValid(doc, path)
	}
	segs := newSegments(path)
	seg, _ := segs.next()
	for k := range ms.m[:ms.n] {
		m := &ms.m[k]
		if int(m.keyEnd-m.keyStart-2) != len(seg) && !m.keyEscaped && m.keyASCII {
			continue // cannot match: keyIs compares the bytes
		}
		if keyIs(doc[m.keyStart+1:m.keyEnd-1], m.keyEscaped, seg) {
			if segs.done {
				return Value{raw: doc[m.valStart:m.valEnd:m.valEnd]}, true
			}
			return lookupFrom(doc, int(m.valStart), &segs)
		}
	}
	return Value{}, false
}

// lookupValid is lookup on a document already validated in full: found or
// not, without building the error that says why not.
func lookupValid(doc []byte, path string) (Value, bool) {
	segs := newSegments(path)
	return lookupFrom(doc, 0, &segs) // a parsed Value has no surrounding space
}

// lookupFrom is lookupValid of the rest of segs from the value at doc[i].
func lookupFrom(doc []byte, i int, segs *segments) (Value, bool) {
	for seg, ok := segs.next(); ok; seg, ok = segs.next() {
		if i >= len(doc) {
			return Value{}, false
		}
		if c := doc[i]; c != '{' && c != '[' {
			return Value{}, false
		}
		w, found, err := child(doc, i, 1, seg) // depth: doc is valid
		if err != nil || !found {
			return Value{}, false
		}
		i = w.valStart
	}
	end, err := skipValue(doc, i, 0)
	if err != nil {
		return Value{}, false // never: doc is valid
	}
	return Value{raw: doc[i:end:end]}, true
}
