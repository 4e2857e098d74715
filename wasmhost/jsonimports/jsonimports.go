package jsonimports

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// Result codes of the JSON imports (sdk/ABI.md §2.1). Spans and sizes are
// non-negative; failures are negative.
const (
	jsonNotFound  = abi.JSONNotFound  // json_get: no such path; json_delete: nothing deleted
	jsonMalformed = abi.JSONMalformed // malformed JSON, or a path that cannot be set
)

// Functions returns the JSON imports of module tributary (sdk/ABI.md §2.1),
// one [hostfunc.Function] per name of abi.ImportsJSON, for
// wasmhost.HostConfig.Extensions. Each call returns a new slice; the
// functions are safe for concurrent use.
func Functions() []hostfunc.Function {
	i32, i64, f64 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF64
	return []hostfunc.Function{
		{Name: abi.ImportJSONParse, Params: []api.ValueType{i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len"}, Func: jsonParse},
		{Name: abi.ImportJSONGet, Params: []api.ValueType{i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "path_ptr", "path_len"}, Func: jsonGet},
		{Name: abi.ImportJSONSet, Params: []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "path_ptr", "path_len", "val_ptr", "val_len", "out_ptr", "out_cap"},
			Func:       jsonSet},
		{Name: abi.ImportJSONDelete, Params: []api.ValueType{i32, i32, i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "path_ptr", "path_len", "out_ptr", "out_cap"}, Func: jsonDelete},
		{Name: abi.ImportJSONFloat, Params: []api.ValueType{i32, i32}, Results: []api.ValueType{f64},
			ParamNames: []string{"val_ptr", "val_len"}, Func: jsonFloat},
		{Name: abi.ImportJSONSetFloat, Params: []api.ValueType{i32, i32, i32, i32, f64, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "path_ptr", "path_len", "f", "out_ptr", "out_cap"}, Func: jsonSetFloat},
		{Name: abi.ImportJSONEdit, Params: []api.ValueType{i32, i32, i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "prog_ptr", "prog_len", "out_ptr", "out_cap"}, Func: jsonEdit},
		{Name: abi.ImportJSONFind, Params: []api.ValueType{i32, i32, i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"doc_ptr", "doc_len", "paths_ptr", "paths_len", "out_ptr", "n"}, Func: jsonFind},
		{Name: abi.ImportJSONChildren, Params: []api.ValueType{i32, i32, i32, i32}, Results: []api.ValueType{i64},
			ParamNames: []string{"val_ptr", "val_len", "out_ptr", "out_cap"}, Func: jsonChildren},
	}
}

// span packs the position of v inside doc as off<<32 | len, or returns
// jsonMalformed when v does not lie inside doc (jsonfield's values always
// alias the document they were found in).
func span(doc []byte, v jsonfield.Value) int64 {
	raw := v.Raw()
	if len(raw) == 0 || len(doc) == 0 {
		return jsonMalformed
	}
	off := uintptr(unsafe.Pointer(&raw[0])) - uintptr(unsafe.Pointer(&doc[0]))
	if off > uintptr(len(doc)) || uint64(off)+uint64(len(raw)) > uint64(len(doc)) {
		return jsonMalformed
	}
	return int64(off)<<32 | int64(len(raw))
}

// jsonParse implements tributary.json_parse(doc_ptr, doc_len) -> i64: the
// span of the trimmed document when it is one valid JSON value, else
// jsonMalformed.
func jsonParse(_ context.Context, mod api.Module, stack []uint64) {
	doc := hostfunc.Bytes(mod.Memory(), stack[0], stack[1])
	v, err := jsonfield.Parse(doc)
	if err != nil {
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	stack[0] = api.EncodeI64(span(doc, v))
}

// jsonGet implements tributary.json_get(doc_ptr, doc_len, path_ptr,
// path_len) -> i64: the span of the value at path, jsonNotFound or
// jsonMalformed, as jsonfield.Lookup decides.
func jsonGet(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	path := hostfunc.Bytes(mem, stack[2], stack[3])
	v, err := jsonfield.Lookup(doc, hostfunc.String(path))
	switch {
	case errors.Is(err, jsonfield.ErrNotFound):
		stack[0] = api.EncodeI64(jsonNotFound)
	case err != nil:
		stack[0] = api.EncodeI64(jsonMalformed)
	default:
		stack[0] = api.EncodeI64(span(doc, v))
	}
}

// jsonSet implements tributary.json_set(doc_ptr, doc_len, path_ptr,
// path_len, val_ptr, val_len, out_ptr, out_cap) -> i64: jsonfield.Set's
// result is written at out_ptr when it fits in out_cap bytes; the return
// value is its size either way, or jsonMalformed when Set fails.
func jsonSet(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	path := hostfunc.Bytes(mem, stack[2], stack[3])
	val := hostfunc.Bytes(mem, stack[4], stack[5])
	out, err := jsonfield.Set(doc, hostfunc.String(path), val)
	if err != nil {
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	stack[0] = api.EncodeI64(writeOut(mem, stack[6], stack[7], out))
}

// jsonDelete implements tributary.json_delete(doc_ptr, doc_len, path_ptr,
// path_len, out_ptr, out_cap) -> i64: like json_set with jsonfield.Delete,
// and jsonNotFound (nothing written) when the path does not exist.
func jsonDelete(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	path := hostfunc.Bytes(mem, stack[2], stack[3])
	out, err := jsonfield.Delete(doc, hostfunc.String(path))
	switch {
	case err != nil:
		stack[0] = api.EncodeI64(jsonMalformed)
	case len(out) == len(doc): // a deletion always removes bytes
		stack[0] = api.EncodeI64(jsonNotFound)
	default:
		stack[0] = api.EncodeI64(writeOut(mem, stack[4], stack[5], out))
	}
}

// jsonFloat implements tributary.json_float(val_ptr, val_len) -> f64: the
// JSON number at [val_ptr, val_ptr+val_len) (one value, no surrounding
// space) as jsonfield.Value.Float reads it, or NaN when it is not a number
// or out of float64's range (JSON has no NaN, so NaN is never a value).
func jsonFloat(_ context.Context, mod api.Module, stack []uint64) {
	raw := hostfunc.Bytes(mod.Memory(), stack[0], stack[1])
	v, err := jsonfield.Parse(raw)
	f, ok := v.Float()
	if err != nil || !ok || len(v.Raw()) != len(raw) {
		f = math.NaN()
	}
	stack[0] = api.EncodeF64(f)
}

// jsonSetFloat implements tributary.json_set_float(doc_ptr, doc_len,
// path_ptr, path_len, f, out_ptr, out_cap) -> i64: json_set with the number
// f formatted as jsonfield.SetFloat (and encoding/json) formats it.
func jsonSetFloat(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	path := hostfunc.Bytes(mem, stack[2], stack[3])
	out, err := jsonfield.SetFloat(doc, hostfunc.String(path), api.DecodeF64(stack[4]))
	if err != nil {
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	stack[0] = api.EncodeI64(writeOut(mem, stack[5], stack[6], out))
}

// writeOut writes out at [ptr, ptr+len(out)) when it fits in capacity and
// returns len(out). The output buffer is checked against memory whether or
// not out fits, so a bad out_ptr fails every call, not only large ones.
func writeOut(mem api.Memory, ptr, capacity uint64, out []byte) int64 {
	buf := hostfunc.Bytes(mem, ptr, capacity)
	if len(out) <= len(buf) {
		copy(buf, out)
	}
	return int64(len(out))
}

// scratch is the host's reusable memory for json_edit's result and for the
// spans of json_find and json_children, so a call allocates nothing once
// warm. Pooled: host functions of different instances run concurrently.
type scratch struct {
	out   []byte
	vals  []jsonfield.Value
	spans []int64
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxKeptScratch bounds what a pooled scratch keeps: one huge document
// does not pin its buffers.
const maxKeptScratch = 1 << 20

func putScratch(s *scratch) {
	if cap(s.out) > maxKeptScratch || cap(s.vals) > maxKeptScratch/24 || cap(s.spans) > maxKeptScratch/8 {
		return
	}
	clear(s.vals) // no references into guest memory survive the call
	scratchPool.Put(s)
}

// jsonEdit implements tributary.json_edit(doc_ptr, doc_len, prog_ptr,
// prog_len, out_ptr, out_cap) -> i64: jsonfield.Edit.Apply of the program
// at prog (jsonfield.AppendEdit), written and sized as json_set's result,
// or jsonMalformed when Apply fails (or the program does not decode).
func jsonEdit(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	prog := hostfunc.Bytes(mem, stack[2], stack[3])
	s := scratchPool.Get().(*scratch)
	defer putScratch(s)
	out, err := jsonfield.AppendEdit(s.out[:0], doc, prog)
	s.out = out
	if err != nil {
		hostfunc.Bytes(mem, stack[4], stack[5]) // a bad out_ptr fails every call
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	stack[0] = api.EncodeI64(writeOut(mem, stack[4], stack[5], out))
}

// maxFindPaths bounds json_find's n, so the host's memory for the values
// stays small; a guest with more paths uses the Go code.
const maxFindPaths = 1 << 16

// jsonFind implements tributary.json_find(doc_ptr, doc_len, paths_ptr,
// paths_len, out_ptr, n) -> i64: the n paths encoded at paths (each a
// uvarint length then its bytes, jsonfield.Fields' encoding) are looked up
// in the document, validated in full, and the span of each value (or -1)
// is written as n little-endian i64 at out_ptr; the result is the
// document's span, or jsonMalformed (nothing written) when the document is
// malformed or paths does not hold exactly n paths.
func jsonFind(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	doc := hostfunc.Bytes(mem, stack[0], stack[1])
	paths := hostfunc.Bytes(mem, stack[2], stack[3])
	n := uint64(uint32(stack[5]))
	out := hostfunc.I64s(mem, stack[4], n)
	if n > maxFindPaths || n > uint64(len(paths)) { // every path takes a length byte
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	s := scratchPool.Get().(*scratch)
	defer putScratch(s)
	if uint64(cap(s.vals)) < n {
		s.vals = make([]jsonfield.Value, n)
	}
	vals := s.vals[:n]
	v, err := jsonfield.FindPaths(doc, paths, vals)
	if err != nil {
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	for i, x := range vals {
		sp := jsonNotFound
		if x.Kind() != jsonfield.Invalid {
			sp = span(doc, x)
		}
		binary.LittleEndian.PutUint64(out[8*i:], uint64(sp))
	}
	stack[0] = api.EncodeI64(span(doc, v))
}

// jsonChildren implements tributary.json_children(val_ptr, val_len,
// out_ptr, out_cap) -> i64: val must be exactly one JSON object or array;
// the spans inside it of its children (jsonfield.AppendChildSpans: each
// element, or each member's key then value) are written as little-endian
// i64 at out_ptr when they fit in out_cap of them, and their number is
// returned either way; jsonMalformed for anything but a valid object or
// array.
func jsonChildren(_ context.Context, mod api.Module, stack []uint64) {
	mem := mod.Memory()
	val := hostfunc.Bytes(mem, stack[0], stack[1])
	out := hostfunc.I64s(mem, stack[2], uint64(uint32(stack[3])))
	s := scratchPool.Get().(*scratch)
	defer putScratch(s)
	spans, err := jsonfield.AppendChildSpans(s.spans[:0], val)
	s.spans = spans
	if err != nil {
		stack[0] = api.EncodeI64(jsonMalformed)
		return
	}
	if len(spans) <= len(out)/8 {
		for i, sp := range spans {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(sp))
		}
	}
	stack[0] = api.EncodeI64(int64(len(spans)))
}
