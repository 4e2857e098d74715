package wasmtest

// ABI v1 plugins (sdk/ABI.md), a well-behaved one and hostile ones. Each
// constructor returns a complete module; all but HugeCounts are valid
// WebAssembly that wazero compiles.

// Memory layout of the passthrough plugin and the plugins built on it.
const (
	PassthroughOut = 1024 // result frame: header + "ok, 1 output, payload unchanged" per message
	PassthroughIn  = 8192 // input buffer, up to the end of page 2
)

// Passthrough returns a well-behaved plugin that answers a batch of up to 64
// messages with each payload unchanged.
func Passthrough() []byte { return PassthroughModule(64).Bytes() }

// PassthroughModule returns the passthrough plugin for batches of up to
// maxBatch messages, as a Module to modify. Its functions are, in order,
// tributary_abi_v1, tributary_alloc, tributary_init and tributary_handle; its
// memory has 2 pages. The result frame is a constant data segment at
// PassthroughOut; handle only copies the input's count into it. alloc
// returns PassthroughIn, or 0 when the size does not fit in memory.
func PassthroughModule(maxBatch int) Module {
	return constantModule(maxBatch, []byte{0, 1, 0, 0, 0, 1}, PassthroughIn, 2)
}

// ConstantModule returns a plugin like the passthrough one, for batches of
// up to maxBatch messages, that answers every message with the same result
// bytes: one result of a result frame (sdk/ABI.md §4), which the caller
// makes well formed or not. Its result frame lies at PassthroughOut, its
// input buffer right after the frame (rounded up to 64 KiB), with 64 KiB
// of memory for input frames. Benchmarks use it for a stage whose own time
// is (almost) nothing.
func ConstantModule(maxBatch int, result []byte) Module {
	in := (PassthroughOut + 8 + maxBatch*len(result) + 65535) &^ 65535
	return constantModule(maxBatch, result, in, uint32(in/65536+1))
}

// constantModule is ConstantModule with the input buffer at in and pages
// of memory.
func constantModule(maxBatch int, result []byte, in int, pages uint32) Module {
	frame := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	for range maxBatch {
		frame = append(frame, result...)
	}
	var alloc []byte
	alloc = append(alloc, 0x20, 0x00) // local.get 0
	alloc = AppendSLEB(append(alloc, 0x41), int64(pages)*65536-int64(in))
	alloc = append(alloc, 0x4b, 0x04, I32, 0x41, 0x00, 0x05, 0x41) // i32.gt_u; if (result i32) 0 else
	alloc = AppendSLEB(alloc, int64(in))
	alloc = append(alloc, 0x0b) // end

	var handle []byte
	handle = AppendSLEB(append(handle, 0x41), PassthroughOut+4)   // i32.const out+4
	handle = append(handle, 0x20, 0x00, 0x28, 0x02, 0x04)         // local.get 0; i32.load offset=4
	handle = append(handle, 0x36, 0x02, 0x00)                     // i32.store
	handle = AppendSLEB(append(handle, 0x42), PassthroughOut<<32) // i64.const out<<32
	handle = append(handle, 0x20, 0x00, 0x28, 0x02, 0x04)         // count
	handle = AppendSLEB(append(handle, 0x41), int64(len(result))) // *len(result)
	handle = append(handle, 0x6c, 0x41, 8, 0x6a)                  // + 8
	handle = append(handle, 0xad, 0x84)                           // i64.extend_i32_u; i64.or

	return Module{
		MemPages: pages,
		Data:     []Data{{Offset: PassthroughOut, Bytes: frame}},
		Funcs: []Func{
			{Export: "tributary_abi_v1"},
			{Export: "tributary_alloc", Params: []byte{I32}, Results: []byte{I32}, Body: alloc},
			{Export: "tributary_init", Params: []byte{I32, I32}, Results: []byte{I64}, Body: []byte{0x42, 0x00}},
			{Export: "tributary_handle", Params: []byte{I32, I32}, Results: []byte{I64}, Body: handle},
		},
	}
}

// The functions of PassthroughModule, by index.
const (
	funcAlloc  = 1
	funcInit   = 2
	funcHandle = 3
)

// loopForever is `loop br 0 end`: an endless loop with no result.
var loopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}

// Count is what HugeCounts makes huge.
type Count string

// The counts HugeCounts can declare.
const (
	CountImports   Count = "imports"   // the import section's count
	CountLocals    Count = "locals"    // one local declaration of 2^32-1 i32 locals
	CountBrTable   Count = "br_table"  // a br_table with 2^32-1 labels
	CountTypes     Count = "types"     // the type section's count
	CountFunctions Count = "functions" // the function section's count
	CountData      Count = "data"      // a data segment's length
)

// HugeCounts returns the passthrough plugin with one count of kind set to
// 2^32-1 and, except for CountLocals, nothing behind it: a few bytes that a
// reader trusting the count would loop over (or allocate for) billions of
// times. Every kind but CountLocals is malformed. The CountLocals module is
// well formed: an extra function declares 2^32-1 locals.
//
// Never hand these to wazero without a pre-check: wazero v1.12 allocates in
// proportion to some counts before it reads the items, and the process dies
// out of memory (not a recoverable panic) on CountImports (a 448 GiB
// allocation), CountFunctions (16 GiB) and CountLocals (32 GiB).
func HugeCounts(kind Count) []byte {
	const huge = 1<<32 - 1
	m := PassthroughModule(0) // without its result frame: small
	m.Data = nil
	switch kind {
	case CountLocals:
		m.Funcs = append(m.Funcs, Func{I32Locals: huge})
		return m.Bytes()
	case CountBrTable:
		m.Funcs[funcHandle].Body = AppendULEB(append([]byte{0x41, 0x00}, 0x0e), huge) // i32.const 0; br_table huge...
		return m.Bytes()
	case CountImports:
		return append(header(), AppendSection(nil, 2, AppendULEB(nil, huge))...)
	case CountTypes:
		return append(header(), AppendSection(nil, 1, AppendULEB(nil, huge))...)
	case CountFunctions:
		b := AppendSection(header(), 1, Vec(nil, [][]byte{funcType(nil, nil)}))
		return AppendSection(b, 3, AppendULEB(nil, huge))
	case CountData:
		seg := AppendULEB([]byte{1, 0x00, 0x41, 0x00, 0x0b}, huge) // one segment at 0, huge bytes
		return AppendSection(m.Bytes(), 11, seg)
	}
	panic("wasmtest: unknown count " + string(kind))
}

// header is the magic number and version.
func header() []byte { return []byte{0, 'a', 's', 'm', 1, 0, 0, 0} }

// StartLoops returns the passthrough plugin with a start function that
// never returns: instantiating it runs for ever.
func StartLoops() []byte {
	m := PassthroughModule(64)
	m.Funcs = append(m.Funcs, Func{Start: true, Body: loopForever})
	return m.Bytes()
}

// InitLoops returns the passthrough plugin whose tributary_init never
// returns.
func InitLoops() []byte {
	m := PassthroughModule(64)
	m.Funcs[funcInit].Body = append(append([]byte{}, loopForever...), 0x42, 0x00)
	return m.Bytes()
}

// HandleLoops returns the passthrough plugin whose tributary_handle never
// returns.
func HandleLoops() []byte {
	m := PassthroughModule(64)
	m.Funcs[funcHandle].Body = append(append([]byte{}, loopForever...), 0x42, 0x00)
	return m.Bytes()
}

// DeepNesting returns the passthrough plugin whose tributary_handle runs
// inside depth nested blocks (a valid module whose compile time grows faster
// than depth in wazero).
func DeepNesting(depth int) []byte {
	m := PassthroughModule(64)
	body := make([]byte, 0, 3*depth+len(m.Funcs[funcHandle].Body))
	for range depth {
		body = append(body, 0x02, I64) // block (result i64)
	}
	body = append(body, m.Funcs[funcHandle].Body...)
	for range depth {
		body = append(body, 0x0b)
	}
	m.Funcs[funcHandle].Body = body
	return m.Bytes()
}

// HugeMemory returns the passthrough plugin with a memory of pages initial
// pages.
func HugeMemory(pages uint32) []byte {
	m := PassthroughModule(64)
	m.MemPages = max(pages, 2)
	return m.Bytes()
}

// HugeTable returns the passthrough plugin with a funcref table of elems
// initial elements.
func HugeTable(elems uint32) []byte {
	m := PassthroughModule(64)
	m.TableElems = elems
	return m.Bytes()
}

// OversizedOutput returns the passthrough plugin whose tributary_handle
// returns a result frame at PassthroughOut claiming n bytes, far more than it
// wrote (and, for a large n, more than its memory).
func OversizedOutput(n uint32) []byte {
	m := PassthroughModule(64)
	m.Funcs[funcHandle].Body = AppendSLEB([]byte{0x42}, PassthroughOut<<32|int64(n))
	return m.Bytes()
}

// FanOut returns a plugin that answers each message of a batch of up to 256
// with n outputs, each the payload unchanged. Its handle writes the result
// frame in a loop (memory.fill sets the n output flags), after the input
// buffer; its memory is sized for 256 messages, which fits the host's
// default 16 MiB memory limit for n up to about 65,000.
func FanOut(n uint32) []byte {
	const out = 2 * 65536 // after the input buffer
	m := PassthroughModule(0)
	m.Data = nil
	perMsg := 5 + uint64(n) // status, u32 n, n flag bytes
	m.MemPages = 2 + uint32((8+256*perMsg+65535)/65536)

	// params: ptr 0, len 1; locals: i 2, p 3, count 4
	var b []byte
	b = append(b, 0x20, 0x00, 0x28, 0x02, 0x04, 0x21, 0x04) // count = load(ptr+4)
	b = AppendSLEB(append(b, 0x41), out)                    // i32.const out
	b = append(b, 0x41, 0x01, 0x36, 0x02, 0x00)             // i32.const 1; i32.store (version)
	b = AppendSLEB(append(b, 0x41), out)                    // i32.const out
	b = append(b, 0x20, 0x04, 0x36, 0x02, 0x04)             // local.get count; i32.store offset=4
	b = AppendSLEB(append(b, 0x41), out+8)
	b = append(b, 0x21, 0x03)                               // p = out+8
	b = append(b, 0x02, 0x40, 0x03, 0x40)                   // block loop
	b = append(b, 0x20, 0x02, 0x20, 0x04, 0x4f, 0x0d, 0x01) // i >= count: br_if 1
	b = append(b, 0x20, 0x03, 0x41, 0x00, 0x3a, 0x00, 0x00) // store8 p, 0 (ok)
	b = append(b, 0x20, 0x03)
	b = AppendSLEB(append(b, 0x41), int64(n))
	b = append(b, 0x36, 0x00, 0x01) // i32.store align=1 offset=1 (n)
	b = append(b, 0x20, 0x03, 0x41, 0x05, 0x6a, 0x41, 0x01)
	b = AppendSLEB(append(b, 0x41), int64(n))
	b = append(b, 0xfc, 0x0b, 0x00) // memory.fill(p+5, 1, n): flags "unchanged"
	b = append(b, 0x20, 0x03)
	b = AppendSLEB(append(b, 0x41), int64(perMsg))
	b = append(b, 0x6a, 0x21, 0x03)                         // p += 5+n
	b = append(b, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x21, 0x02) // i++
	b = append(b, 0x0c, 0x00, 0x0b, 0x0b)                   // br 0; end; end
	b = AppendSLEB(append(b, 0x42), out<<32)                // i64.const out<<32
	b = append(b, 0x20, 0x03)
	b = AppendSLEB(append(b, 0x41), out)
	b = append(b, 0x6b, 0xad, 0x84) // p - out; i64.extend_i32_u; i64.or
	m.Funcs[funcHandle].Locals = []byte{I32, I32, I32}
	m.Funcs[funcHandle].Body = b
	return m.Bytes()
}
