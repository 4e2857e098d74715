package wasmhost

// A tiny WebAssembly assembler for hand-made test modules: broken plugins
// for the compile checks, and a passthrough guest with no language runtime
// for the example and the host-overhead benchmark.

import "slices"

const (
	i32 byte = 0x7f
	i64 byte = 0x7e
)

type wasmImport struct {
	module, name    string
	params, results []byte
}

type wasmFunc struct {
	export          string
	params, results []byte
	body            []byte // instructions, without the final end
	locals          []byte // the encoded local declarations; nil: none
}

type wasmData struct {
	offset uint32
	bytes  []byte
}

type wasmModule struct {
	imports  []wasmImport
	funcs    []wasmFunc
	memPages uint32 // 0: no memory
	noExport bool   // define memory but do not export it
	data     []wasmData
}

func wasmVec(dst []byte, items [][]byte) []byte {
	dst = appendULEB(dst, uint64(len(items)))
	for _, it := range items {
		dst = append(dst, it...)
	}
	return dst
}

func funcType(params, results []byte) []byte {
	b := []byte{0x60}
	b = append(appendULEB(b, uint64(len(params))), params...)
	return append(appendULEB(b, uint64(len(results))), results...)
}

// bytes encodes the module. Function i of imports and funcs uses type i.
func (m wasmModule) bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	var types, imports, funcs, exports, code, data [][]byte
	for _, im := range m.imports {
		t := uint64(len(types))
		types = append(types, funcType(im.params, im.results))
		b := appendName(appendName(nil, im.module), im.name)
		imports = append(imports, appendULEB(append(b, 0x00), t))
	}
	for i, f := range m.funcs {
		t := uint64(len(types))
		types = append(types, funcType(f.params, f.results))
		funcs = append(funcs, appendULEB(nil, t))
		if f.export != "" {
			exports = append(exports, appendULEB(append(appendName(nil, f.export), 0x00), uint64(len(m.imports)+i)))
		}
		body := []byte{0x00} // no locals
		if f.locals != nil {
			body = slices.Clone(f.locals)
		}
		body = append(body, f.body...)
		body = append(body, 0x0b)
		code = append(code, append(appendULEB(nil, uint64(len(body))), body...))
	}
	if m.memPages > 0 && !m.noExport {
		exports = append(exports, []byte{6, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00})
	}
	for _, d := range m.data {
		b := appendSLEB([]byte{0x00, 0x41}, int64(d.offset))
		b = append(b, 0x0b)
		b = append(appendULEB(b, uint64(len(d.bytes))), d.bytes...)
		data = append(data, b)
	}
	out = appendSection(out, 1, wasmVec(nil, types))
	if len(imports) > 0 {
		out = appendSection(out, 2, wasmVec(nil, imports))
	}
	out = appendSection(out, 3, wasmVec(nil, funcs))
	if m.memPages > 0 {
		out = appendSection(out, 5, appendULEB([]byte{1, 0x00}, uint64(m.memPages)))
	}
	out = appendSection(out, 7, wasmVec(nil, exports))
	out = appendSection(out, 10, wasmVec(nil, code))
	if len(data) > 0 {
		out = appendSection(out, 11, wasmVec(nil, data))
	}
	return out
}

// Layout of the passthrough module's memory.
const (
	ptOut      = 1024 // result frame: header + 64 "ok, 1 output, payload unchanged"
	ptIn       = 8192 // input buffer
	ptMaxBatch = 64
)

// passthroughModule returns a guest with no language runtime that answers a
// batch of up to 64 messages with each payload unchanged. The result frame is
// a constant data segment; handle only copies the count into it.
func passthroughModule() wasmModule { return passthroughModuleN(ptMaxBatch) }

// passthroughModuleN is passthroughModule for batches of up to max messages.
func passthroughModuleN(max int) wasmModule {
	frame := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	for range max {
		frame = append(frame, 0, 1, 0, 0, 0, 1)
	}
	var alloc []byte
	alloc = append(alloc, 0x20, 0x00) // local.get 0
	alloc = appendSLEB(append(alloc, 0x41), 2*65536-ptIn)
	alloc = append(alloc, 0x4b, 0x04, i32, 0x41, 0x00, 0x05, 0x41) // i32.gt_u; if (result i32) 0 else
	alloc = appendSLEB(alloc, ptIn)
	alloc = append(alloc, 0x0b) // end

	var handle []byte
	handle = appendSLEB(append(handle, 0x41), ptOut+4)    // i32.const out+4
	handle = append(handle, 0x20, 0x00, 0x28, 0x02, 0x04) // local.get 0; i32.load offset=4
	handle = append(handle, 0x36, 0x02, 0x00)             // i32.store
	handle = appendSLEB(append(handle, 0x42), ptOut<<32)  // i64.const out<<32
	handle = append(handle, 0x20, 0x00, 0x28, 0x02, 0x04) // count
	handle = append(handle, 0x41, 6, 0x6c, 0x41, 8, 0x6a) // *6 + 8
	handle = append(handle, 0xad, 0x84)                   // i64.extend_i32_u; i64.or

	return wasmModule{
		memPages: 2,
		data:     []wasmData{{offset: ptOut, bytes: frame}},
		funcs: []wasmFunc{
			{export: "tributary_abi_v1"},
			{export: "tributary_alloc", params: []byte{i32}, results: []byte{i32}, body: alloc},
			{export: "tributary_init", params: []byte{i32, i32}, results: []byte{i64}, body: []byte{0x42, 0x00}},
			{export: "tributary_handle", params: []byte{i32, i32}, results: []byte{i64}, body: handle},
		},
	}
}
