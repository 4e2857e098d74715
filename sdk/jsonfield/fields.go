package jsonfield

import "encoding/binary"

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
	v, err := parse(doc)
	if err != nil {
		return Value{}, err
	}
	for i, p := range paths {
		if x, err := lookup(v.raw, p); err == nil {
			vals[i] = x
		}
	}
	return v, nil
}
