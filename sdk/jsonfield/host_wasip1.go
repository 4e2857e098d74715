//go:build wasip1

package jsonfield

// In a wasm guest, Parse, Lookup, Get, Value.Float, Set (and its typed
// variants) and Delete call the optional host imports tributary.json_parse,
// json_get, json_float, json_set, json_set_float and json_delete (sdk/ABI.md
// §2.1), which run this same package
// natively on the guest's memory: Go compiled to wasm is many times slower
// than native code, more so under the host's termination checks. Results
// are identical by construction; when the host reports a failure the Go
// implementation runs again to produce the same error value.

import "unsafe"

//go:wasmimport tributary json_parse
func jsonParse(doc unsafe.Pointer, docLen uint32) int64

//go:wasmimport tributary json_get
func jsonGet(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32) int64

//go:wasmimport tributary json_set
func jsonSet(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	val unsafe.Pointer, valLen uint32, out unsafe.Pointer, outCap uint32) int64

//go:wasmimport tributary json_delete
func jsonDelete(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	out unsafe.Pointer, outCap uint32) int64

//go:wasmimport tributary json_float
func jsonFloat(val unsafe.Pointer, valLen uint32) float64

//go:wasmimport tributary json_set_float
func jsonSetFloat(doc unsafe.Pointer, docLen uint32, path unsafe.Pointer, pathLen uint32,
	f float64, out unsafe.Pointer, outCap uint32) int64

// Result codes of the imports (ABI.md §2.1): spans and sizes are >= 0.
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

// hostApply and hostFind take the Go path until the json_edit and
// json_find imports exist.
func hostApply([]byte, []byte) ([]byte, int)        { return nil, hostNone }
func hostFind([]byte, []byte, []Value) (Value, int) { return Value{}, hostNone }
