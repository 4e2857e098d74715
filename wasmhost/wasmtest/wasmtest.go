// Package wasmtest is test support that assembles hand-made WebAssembly
// modules, including hostile ones: plugins that speak ABI v1 (sdk/ABI.md)
// but each misbehave in one way (huge declared counts, a start function or an
// init that never returns, deep nesting, huge declared memory or tables,
// oversized results, fan-out), for the tests of the host and the gateway.
//
// Modules are built byte by byte with no language runtime, so they are small,
// fast to compile and do exactly what their documentation says. The package
// uses only the standard library and never imports wasmhost, so wasmhost's own
// tests can use it.
package wasmtest

// Value types.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
)

// Import is an imported function.
type Import struct {
	Module, Name    string
	Params, Results []byte // value types
}

// Func is a defined function.
type Func struct {
	Export          string // "": not exported
	Params, Results []byte // value types
	Locals          []byte // value types of the locals after the parameters
	I32Locals       uint32 // that many more i32 locals, in one declaration
	Body            []byte // instructions, without the final end
	// Start makes the function the module's start function (one at most).
	Start bool
}

// Data is an active data segment of memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Module is a module to assemble with [Module.Bytes]. Function i of Imports
// then Funcs has type i (one type per function).
type Module struct {
	Imports  []Import
	Funcs    []Func
	MemPages uint32 // initial pages of memory 0, exported as "memory"; 0: no memory
	MemMax   uint32 // maximum pages of memory 0; 0: no maximum
	NoExport bool   // define memory but do not export it
	// TableElems is the initial size of a funcref table without maximum; 0:
	// no table.
	TableElems uint32
	Data       []Data
}

// Bytes encodes the module.
func (m Module) Bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	var types, imports, funcs, exports, code, data [][]byte
	start := -1
	for _, im := range m.Imports {
		t := uint64(len(types))
		types = append(types, funcType(im.Params, im.Results))
		b := AppendName(AppendName(nil, im.Module), im.Name)
		imports = append(imports, AppendULEB(append(b, 0x00), t))
	}
	for i, f := range m.Funcs {
		t := uint64(len(types))
		types = append(types, funcType(f.Params, f.Results))
		funcs = append(funcs, AppendULEB(nil, t))
		if f.Export != "" {
			exports = append(exports, AppendULEB(append(AppendName(nil, f.Export), 0x00), uint64(len(m.Imports)+i)))
		}
		if f.Start {
			start = len(m.Imports) + i
		}
		var locals [][]byte
		for _, t := range f.Locals {
			locals = append(locals, []byte{1, t})
		}
		if f.I32Locals > 0 {
			locals = append(locals, append(AppendULEB(nil, uint64(f.I32Locals)), I32))
		}
		body := Vec(nil, locals)
		body = append(append(body, f.Body...), 0x0b)
		code = append(code, append(AppendULEB(nil, uint64(len(body))), body...))
	}
	if m.MemPages > 0 && !m.NoExport {
		exports = append(exports, []byte{6, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00})
	}
	for _, d := range m.Data {
		b := AppendSLEB([]byte{0x00, 0x41}, int64(d.Offset))
		b = append(b, 0x0b)
		b = append(AppendULEB(b, uint64(len(d.Bytes))), d.Bytes...)
		data = append(data, b)
	}
	out = AppendSection(out, 1, Vec(nil, types))
	if len(imports) > 0 {
		out = AppendSection(out, 2, Vec(nil, imports))
	}
	out = AppendSection(out, 3, Vec(nil, funcs))
	if m.TableElems > 0 {
		out = AppendSection(out, 4, AppendULEB([]byte{1, 0x70, 0x00}, uint64(m.TableElems)))
	}
	if m.MemPages > 0 {
		if m.MemMax > 0 {
			out = AppendSection(out, 5, AppendULEB(AppendULEB([]byte{1, 0x01}, uint64(m.MemPages)), uint64(m.MemMax)))
		} else {
			out = AppendSection(out, 5, AppendULEB([]byte{1, 0x00}, uint64(m.MemPages)))
		}
	}
	out = AppendSection(out, 7, Vec(nil, exports))
	if start >= 0 {
		out = AppendSection(out, 8, AppendULEB(nil, uint64(start)))
	}
	out = AppendSection(out, 10, Vec(nil, code))
	if len(data) > 0 {
		out = AppendSection(out, 11, Vec(nil, data))
	}
	return out
}

func funcType(params, results []byte) []byte {
	b := []byte{0x60}
	b = append(AppendULEB(b, uint64(len(params))), params...)
	return append(AppendULEB(b, uint64(len(results))), results...)
}

// Vec appends a vector: the number of items, then the items.
func Vec(dst []byte, items [][]byte) []byte {
	dst = AppendULEB(dst, uint64(len(items)))
	for _, it := range items {
		dst = append(dst, it...)
	}
	return dst
}

// AppendULEB appends v as unsigned LEB128.
func AppendULEB(dst []byte, v uint64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// AppendSLEB appends v as signed LEB128.
func AppendSLEB(dst []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// AppendName appends a name: its length, then its bytes.
func AppendName(dst []byte, s string) []byte {
	return append(AppendULEB(dst, uint64(len(s))), s...)
}

// AppendSection appends a section: its id, its size, its contents.
func AppendSection(dst []byte, id byte, contents []byte) []byte {
	return append(AppendULEB(append(dst, id), uint64(len(contents))), contents...)
}
