//go:build wasip1

package jsonfield

// In a wasm guest, Parse, Lookup, Get, Value.Float, Set (and its typed
// variants), Delete, Edit.Apply, Fields.Find, Value.Members and
// Value.Elements call the optional host imports tributary.json_parse,
// json_get, json_float, json_set, json_set_float, json_delete, json_edit,
// json_find and json_children (sdk/ABI.md §2.1), which run this same package
// natively on the guest's memory: Go compiled to wasm is many times slower
// than native code, more so under the host's termination checks. Results
// are identical by construction; when the host reports a failure the Go
// implementation runs again to produce the same error value.

import (
	"slices"
	"unsafe"
)

//go:wasmimport tributary json_parse
//go:noescape
func jsonParse(doc unsafe.Pointer, docLen uint32) int64

//go:wasmimport tributary json_get
//go:noescape
func jsonGet(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32) int64

//go:wasmimport tributary json_set
//go:noescape
func jsonSet(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	val unsafe.Pointer, valLen uint32, out unsafe.Pointer, outCap uint32) int64

//go:wasmimport tributary json_delete
//go:noescape
func jsonDelete(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	out unsafe.Pointer, outCap uint32) int64

//go:wasmimport tributary json_float
//go:noescape
func jsonFloat(val unsafe.Pointer, valLen uint32) float64

//go:wasmimport tributary json_set_float
//go:noescape
func jsonSetFloat(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	f float64, out unsafe.Pointer, outCap uint32) int64

// Result codes of the imports (ABI.md §2.1; abi.JSONNotFound and
// abi.JSONMalformed, checked equal by TestHostImportNames): spans and sizes
// are >= 0.
const (
	codeNotFound  = -1
	codeMalformed = -2
)

// maxHostLen bounds the lengths handed to the host: spans pack offsets in
// 31 bits. Larger inputs take the Go path.
const maxHostLen = 1<<31 - 1

func bytesPtr(b []byte) unsafe.Pointer  { return unsafe.Pointer(unsafe.SliceData(b)) }
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// fromSpan turns a json_parse or json_get result into a Value of doc.
func fromSpan(doc []byte, r int64) (Value, int) {
	switch {
	case r == codeNotFound:
		return Value{}, hostNotFound
	case r < 0:
		return Value{}, hostMalformed
	}
	off, n := uint64(r)>>32, uint64(r)&0xffffffff
	if n == 0 || off+n > uint64(len(doc)) {
		return Value{}, hostNone // never from a correct host; let Go decide
	}
	end := off + n
	return Value{raw: doc[off:end:end]}, hostOK
}

func hostParse(doc []byte) (Value, int) {
	if len(doc) > maxHostLen {
		return Value{}, hostNone
	}
	return fromSpan(doc, jsonParse(bytesPtr(doc), uint32(len(doc))))
}

func hostGet(doc []byte, path string) (Value, int) {
	if len(doc) > maxHostLen || len(path) > maxHostLen {
		return Value{}, hostNone
	}
	return fromSpan(doc, jsonGet(bytesPtr(doc), uint32(len(doc)), stringPtr(path), uint32(len(path))))
}

// outGuess is the output buffer offered to json_set and json_delete: enough
// for any edit except keys that need many escapes, which take a second call.
func outGuess(doc []byte, path string, raw []byte) int {
	return len(doc) + len(raw) + 2*len(path) + 16
}

// hostFloat reads a number Value (raw is one trimmed value) natively.
func hostFloat(raw []byte) (float64, int) {
	if len(raw) > maxHostLen {
		return 0, hostNone
	}
	f := jsonFloat(bytesPtr(raw), uint32(len(raw)))
	if f != f { // NaN: not a number, or out of range
		return 0, hostMalformed
	}
	return f, hostOK
}

func hostSet(doc []byte, path string, raw []byte) ([]byte, int) {
	return hostEdit(doc, path, raw, func(out []byte) int64 {
		return jsonSet(bytesPtr(doc), uint32(len(doc)), stringPtr(path), uint32(len(path)),
			bytesPtr(raw), uint32(len(raw)), bytesPtr(out), uint32(len(out)))
	})
}

// floatRoom is the most bytes a formatted float64 takes.
var floatRoom = make([]byte, 24)

func hostSetFloat(doc []byte, path string, f float64) ([]byte, int) {
	return hostEdit(doc, path, floatRoom, func(out []byte) int64 {
		return jsonSetFloat(bytesPtr(doc), uint32(len(doc)), stringPtr(path), uint32(len(path)),
			f, bytesPtr(out), uint32(len(out)))
	})
}

// hostEdit runs call (json_set or json_set_float) with an output buffer
// for an edit of doc at path by a value of up to len(raw) bytes, and again
// with a larger buffer when the host says it needs one.
func hostEdit(doc []byte, path string, raw []byte, call func(out []byte) int64) ([]byte, int) {
	if len(doc) > maxHostLen/4 || len(path) > maxHostLen/4 || len(raw) > maxHostLen/4 {
		return nil, hostNone
	}
	out := make([]byte, outGuess(doc, path, raw))
	for range 2 {
		r := call(out)
		switch {
		case r < 0:
			return nil, hostMalformed
		case r <= int64(len(out)):
			return out[:r:r], hostOK
		case r > maxHostLen:
			return nil, hostNone
		}
		out = make([]byte, r)
	}
	return nil, hostNone // the size changed between calls: never from a correct host
}

func hostDelete(doc []byte, path string) ([]byte, int) {
	if len(doc) > maxHostLen || len(path) > maxHostLen {
		return nil, hostNone
	}
	out := make([]byte, len(doc)) // a deletion only removes bytes
	r := jsonDelete(bytesPtr(doc), uint32(len(doc)), stringPtr(path), uint32(len(path)),
		bytesPtr(out), uint32(len(out)))
	switch {
	case r == codeNotFound:
		return nil, hostNotFound
	case r < 0:
		return nil, hostMalformed
	case r <= int64(len(out)):
		return out[:r:r], hostOK
	}
	return nil, hostNone
}

//go:wasmimport tributary json_edit
//go:noescape
func jsonEdit(doc unsafe.Pointer, docLen uint32, prog unsafe.Pointer, progLen uint32,
	out unsafe.Pointer, outCap uint32) int64

//go:wasmimport tributary json_find
//go:noescape
func jsonFind(doc unsafe.Pointer, docLen uint32, paths unsafe.Pointer, pathsLen uint32,
	out unsafe.Pointer, n uint32) int64

//go:wasmimport tributary json_children
//go:noescape
func jsonChildren(val unsafe.Pointer, valLen uint32, out unsafe.Pointer, outCap uint32) int64

// hostApply runs an Edit's program with json_edit, appending the result
// to dst: in dst's spare capacity when it has room for any result except
// those with keys that need many escapes or a Select that copies values
// twice, else in a new buffer; once more with the size the host asks for.
func hostApply(dst, doc, prog []byte) ([]byte, int) {
	if len(doc) > maxHostLen/4 || len(prog) > maxHostLen/4 || len(dst) > maxHostLen/4 {
		return nil, hostNone
	}
	n := len(dst)
	if room := len(doc) + 2*len(prog) + 16; cap(dst)-n < room {
		dst = slices.Grow(dst, room)
	}
	for range 2 {
		out := dst[n:cap(dst)]
		r := jsonEdit(bytesPtr(doc), uint32(len(doc)), bytesPtr(prog), uint32(len(prog)),
			bytesPtr(out), uint32(len(out)))
		switch {
		case r < 0:
			return nil, hostMalformed
		case r <= int64(len(out)):
			return dst[:n+int(r)], hostOK
		case r > maxHostLen:
			return nil, hostNone
		}
		dst = slices.Grow(dst[:n], int(r))
	}
	return nil, hostNone // the size changed between calls: never from a correct host
}

// hostFind looks a Fields' paths (prog) up with json_find: one span per
// path, -1 for an absent one.
func hostFind(doc, prog []byte, vals []Value) (Value, int) {
	if len(doc) > maxHostLen || len(prog) > maxHostLen || len(vals) > 1<<16 { // the host's limit
		return Value{}, hostNone
	}
	var buf [16]int64
	spans := buf[:]
	if len(vals) > len(buf) {
		spans = make([]int64, len(vals))
	}
	spans = spans[:len(vals)]
	r := jsonFind(bytesPtr(doc), uint32(len(doc)), bytesPtr(prog), uint32(len(prog)),
		unsafe.Pointer(unsafe.SliceData(spans)), uint32(len(spans)))
	v, res := fromSpan(doc, r)
	switch res {
	case hostOK:
	case hostMalformed:
		return Value{}, hostMalformed
	default:
		return Value{}, hostNone
	}
	for i, s := range spans {
		x, res := fromSpan(doc, s)
		switch res {
		case hostOK:
			vals[i] = x
		case hostNotFound:
			vals[i] = Value{}
		default:
			return Value{}, hostNone // never from a correct host; find clears vals
		}
	}
	return v, hostOK
}

// hostChildren asks json_children for the spans of the children of raw, a
// valid object (obj) or array: for an object, key then value for each
// member. false means the Go code must walk raw itself.
func hostChildren(raw []byte, obj bool) ([]int64, bool) {
	if len(raw) > maxHostLen {
		return nil, false
	}
	spans := make([]int64, 16)
	for range 2 {
		r := jsonChildren(bytesPtr(raw), uint32(len(raw)), unsafe.Pointer(unsafe.SliceData(spans)), uint32(len(spans)))
		switch {
		case r < 0 || r > int64(len(raw)): // every child takes a byte
			return nil, false
		case r <= int64(len(spans)):
			spans = spans[:r]
			return spans, childSpansOK(raw, spans, obj)
		}
		spans = make([]int64, r)
	}
	return nil, false
}

// childSpansOK checks json_children's answer before anything is yielded:
// spans inside raw, not empty, keys that are strings, pairs for objects.
func childSpansOK(raw []byte, spans []int64, obj bool) bool {
	if obj && len(spans)%2 != 0 {
		return false
	}
	for i, s := range spans {
		off, n := uint64(s)>>32, uint64(s)&0xffffffff
		if s < 0 || n == 0 || off+n > uint64(len(raw)) {
			return false
		}
		if obj && i%2 == 0 && (n < 2 || raw[off] != '"') {
			return false
		}
	}
	return true
}
