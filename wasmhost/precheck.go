package wasmhost

import (
	"bytes"
	"errors"
	"fmt"
)

// Defaults of [ModuleLimits]. They were chosen by measuring the first-party
// plugins and test guests (15 Go modules built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared, 4 C modules built with clang) and what hostile modules
// cost wazero v1.12 to compile (TestModuleStats and TestCompileCost in
// precheck_measure_test.go; times on a shared 2-core machine, one core used).
const (
	defaultMaxModuleBytes   = 32 << 20
	defaultMaxFunctions     = 20_000
	defaultMaxTypes         = 1_000
	defaultMaxNesting       = 4096
	defaultMaxControlFlow   = 400_000_000
	defaultMaxLocals        = 50_000
	defaultMaxModuleLocals  = 1_000_000
	defaultMaxMemoryPages   = 1024 // 64 MiB
	defaultMaxTableElements = 100_000
)

// ModuleLimits bound what an untrusted module may declare. [Precheck] enforces them on the
// module's bytes before anything is compiled, so a small file cannot make compilation or
// instantiation take unbounded time or memory. The zero value of each field means its default.
//
// What no field names is bounded by MaxModuleBytes: Precheck checks every vector's count
// against the bytes that remain, so imports, exports, globals, element and data segments
// and custom sections cost wazero work in proportion to the module's size. The fields bound
// what a few bytes can multiply, or what costs wazero more than linear time: functions and
// types (compile time grows with their product), nesting, control flow (compile time grows
// with the square of a function's branches and blocks), locals (a 5-byte declaration asks
// for 4 billion), memory pages (64 KiB each at instantiation) and table elements (8 bytes
// each, at instantiation or table.grow).
//
// Without the pre-check wazero is not safe on hostile bytes: v1.12 allocates for a declared
// count before reading the items, and a 15-byte module declaring 2^32-1 imports makes it
// ask for 448 GiB, which kills the process (2^32-1 functions: 16 GiB; locals: 32 GiB).
type ModuleLimits struct {
	// MaxModuleBytes bounds the size of the .wasm file (config limits.module.max_module_mb, in MiB). Default
	// 32 MiB; the first-party Go plugins are 2.6 to 3.9 MiB, the C ones 4 to 20 KiB.
	MaxModuleBytes int
	// MaxFunctions bounds the functions a module imports and defines together (config
	// limits.module.max_functions). Default 20,000; Go plugins have 1,844 to 2,620, C ones 11 to 27.
	// wazero's compile time grows faster than linearly: 10,000 functions of distinct types
	// 1.9 s, 100,000 3.4 minutes; 10,000 of one type 0.16 s, 40,000 1.3 s.
	MaxFunctions int
	// MaxTypes bounds the function types (config limits.module.max_types). Default 1,000; Go modules
	// declare 17, C ones 10.
	MaxTypes int
	// MaxNesting bounds how deeply blocks, loops and ifs nest inside one function (config
	// limits.module.max_nesting). Default 4096; Go plugins nest 549 deep (C: 11). One function nested
	// 4,000 deep compiles in 0.1 s, 16,000 in 2.5 s, 32,000 in 7.9 s (76 MiB).
	MaxNesting int
	// MaxControlFlow bounds the sum, over a module's functions, of the square of each
	// function's control instructions: block, loop, if, else, br, br_if, and each br_table
	// label (config limits.module.max_control_flow). wazero's compile time grows with that square: one
	// function of 8,000 br_if compiles in 3.9 s, of 32,000 in 61 s, of 100,000 blocks in 2.5
	// minutes, while 100,000 straight-line instructions take 0.07 s. Default 400,000,000:
	// about 25 s of compiling for the costliest pattern measured (br_if, 6e-8 s per unit);
	// the largest Go plugin (filter: 2,783 control instructions in its largest function)
	// weighs 70,000,000 and compiles in 4.1 s.
	MaxControlFlow uint64
	// MaxLocals bounds the locals one function declares, its parameters not included (config
	// limits.module.max_locals). Default 50,000; Go functions declare at most 20 (the Go compiler keeps
	// values on its own stack in linear memory), C ones 17.
	MaxLocals int
	// MaxModuleLocals bounds the locals all functions declare together (config
	// limits.module.max_module_locals). Default 1,000,000; 1,000,000 locals cost wazero 0.15 s and 28 MiB.
	MaxModuleLocals int
	// MaxMemoryPages bounds the initial size a module declares for its memory, in 64 KiB
	// pages (config: limits.memory_mb). Default 1024 (64 MiB); Go plugins declare 39 to 47
	// pages, C ones 2. Growth at run time is bounded by [Limits].MemoryPages instead.
	MaxMemoryPages uint32
	// MaxTableElements bounds the initial size a module declares for each table (config
	// limits.module.max_table_elements), and the maximum of a table the module grows with table.grow (a
	// table without a maximum could otherwise grow to 2^32-1 elements, 32 GiB, outside the
	// memory limit). Default 100,000; Go plugins declare one table of 5,923 to 6,692
	// elements and never grow it.
	MaxTableElements uint32
}

// WithDefaults returns l with every zero (or negative) field set to its default: the limits
// Precheck applies.
func (l ModuleLimits) WithDefaults() ModuleLimits {
	if l.MaxModuleBytes <= 0 {
		l.MaxModuleBytes = defaultMaxModuleBytes
	}
	if l.MaxFunctions <= 0 {
		l.MaxFunctions = defaultMaxFunctions
	}
	if l.MaxTypes <= 0 {
		l.MaxTypes = defaultMaxTypes
	}
	if l.MaxNesting <= 0 {
		l.MaxNesting = defaultMaxNesting
	}
	if l.MaxControlFlow == 0 {
		l.MaxControlFlow = defaultMaxControlFlow
	}
	if l.MaxLocals <= 0 {
		l.MaxLocals = defaultMaxLocals
	}
	if l.MaxModuleLocals <= 0 {
		l.MaxModuleLocals = defaultMaxModuleLocals
	}
	if l.MaxMemoryPages == 0 {
		l.MaxMemoryPages = defaultMaxMemoryPages
	}
	if l.MaxTableElements == 0 {
		l.MaxTableElements = defaultMaxTableElements
	}
	return l
}

// Precheck checks the structure of wasm against lim (its zero fields replaced by their
// defaults) without compiling it: the header, the order and size of every section, every
// vector's count against the bytes that remain, each function body's instructions (the
// instruction set of WebAssembly 2.0, which wazero's default features accept), and the
// limits. It runs in time linear in len(wasm) and allocates little, whatever the bytes
// (a 3.9 MiB Go plugin takes 12 to 75 ms). The error names the first limit or structural
// rule broken, for example "module declares 70000 functions, more than max_functions 50000".
//
// Precheck does not validate: a module it accepts may still fail to compile (types, indexes,
// the operand stack are wazero's job). It is the gate in front of compilation, so that
// compiling costs time and memory in proportion to what the limits allow.
func Precheck(wasm []byte, lim ModuleLimits) error {
	lim = lim.WithDefaults()
	if len(wasm) > lim.MaxModuleBytes {
		return fmt.Errorf("module is %d bytes, more than max_module_bytes %d (max_module_mb %d)", len(wasm), lim.MaxModuleBytes, lim.MaxModuleBytes>>20)
	}
	_, err := scanModule(wasm, lim)
	return err
}

// moduleStats is what scanModule measured of a module.
type moduleStats struct {
	functions     int    // imported and defined
	maxNesting    int    // deepest block nesting in one function
	maxLocals     uint64 // most locals declared by one function
	memoryPages   uint64 // initial pages of the memory (0: none)
	tableElements uint64 // largest initial size of a table
	brTableLabels uint64 // most labels of one br_table
	tableGrows    int    // table.grow instructions
	types         int
	maxControl    int    // most control instructions in one function (see ModuleLimits.MaxControlFlow)
	controlFlow   uint64 // sum over functions of the square of their control instructions
	moduleLocals  uint64 // locals of all functions
}

// limitError is a limit that was exceeded: it stops scanModule at once.
type limitError struct{ error }

// scanModule walks every section of wasm, checking its structure and lim, and
// returns what it measured.
func scanModule(wasm []byte, lim ModuleLimits) (moduleStats, error) {
	var st moduleStats
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return st, errors.New("not a WebAssembly 1.0 module (bad magic number or version)")
	}
	r := &wasmReader{b: wasm, pos: len(wasmHeader)}
	s := scanner{lim: lim, st: &st, dataCount: -1}
	lastOrder := 0
	for r.pos < len(wasm) && r.err == nil {
		id := r.byte()
		size := r.u32()
		start := r.pos
		r.skip(size)
		if r.err != nil {
			return st, fmt.Errorf("section %d: %w", id, r.err)
		}
		if id > secDataCount {
			return st, fmt.Errorf("offset %d: unknown section id %d", start, id)
		}
		if id != secCustom {
			o := sectionOrder(id)
			if o <= lastOrder {
				return st, fmt.Errorf("offset %d: section %d is out of order or repeated", start, id)
			}
			lastOrder = o
		}
		sr := &wasmReader{b: wasm[start:r.pos]}
		err := s.section(id, sr)
		if err == nil && sr.err == nil && sr.pos != len(sr.b) {
			sr.fail("%d bytes after the section's contents", len(sr.b)-sr.pos)
		}
		if err == nil {
			err = sr.err
		}
		var le limitError
		if errors.As(err, &le) {
			return st, le.error
		}
		if err != nil {
			return st, fmt.Errorf("section %d at offset %d: %w", id, start, err)
		}
	}
	if r.err != nil {
		return st, r.err
	}
	if s.definedFuncs != s.bodies {
		return st, fmt.Errorf("function section declares %d functions, code section has %d bodies", s.definedFuncs, s.bodies)
	}
	if s.dataCount >= 0 && uint64(s.dataCount) != s.dataSegments {
		return st, fmt.Errorf("data count section declares %d segments, data section has %d", s.dataCount, s.dataSegments)
	}
	return st, nil
}

// scanner holds what scanModule learns from earlier sections.
type scanner struct {
	lim ModuleLimits
	st  *moduleStats

	importedFuncs, definedFuncs, bodies uint64
	// tableMax is each table's declared maximum, -1 when it has none.
	tableMax     []int64
	dataCount    int64 // -1: no data count section
	dataSegments uint64
}

func (s *scanner) limit(format string, args ...any) error {
	return limitError{fmt.Errorf(format, args...)}
}

// section checks the contents of one section.
func (s *scanner) section(id byte, r *wasmReader) error {
	switch id {
	case secCustom:
		r.name()
		r.skip(uint64(r.remaining()))
	case secType:
		n := r.count("types", 3) // 0x60, params, results
		s.st.types = int(n)
		if s.st.types > s.lim.MaxTypes {
			return s.limit("module declares %d types, more than max_types %d", n, s.lim.MaxTypes)
		}
		for i := uint64(0); i < n && r.err == nil; i++ {
			if form := r.byte(); form != 0x60 && r.err == nil {
				r.fail("type %d: form 0x%02x, want 0x60 (func)", i, form)
			}
			r.skip(r.count("params", 1))
			r.skip(r.count("results", 1))
		}
	case secImport:
		n := r.count("imports", 4) // module, name, kind, index
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0:
				r.u32()
				s.importedFuncs++
			case 1:
				r.byte()
				if err := s.table(r); err != nil {
					return err
				}
			case 2:
				if err := s.memory(r); err != nil {
					return err
				}
			case 3:
				r.byte()
				r.byte()
			default:
				r.fail("import %d: kind %d", i, kind)
			}
		}
		if err := s.functions(); err != nil {
			return err
		}
	case secFunction:
		s.definedFuncs = r.count("functions", 1)
		if err := s.functions(); err != nil {
			return err
		}
		for i := uint64(0); i < s.definedFuncs && r.err == nil; i++ {
			r.u32()
		}
	case secTable:
		n := r.count("tables", 3) // reftype, limits
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.byte()
			if err := s.table(r); err != nil {
				return err
			}
		}
	case secMemory:
		n := r.count("memories", 2)
		for i := uint64(0); i < n && r.err == nil; i++ {
			if err := s.memory(r); err != nil {
				return err
			}
		}
	case secGlobal:
		n := r.count("globals", 3) // type, mut, end
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.byte()
			r.byte()
			s.constExpr(r)
		}
	case secExport:
		n := r.count("exports", 3) // name, kind, index
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.name()
			r.byte()
			r.u32()
		}
	case secStart:
		r.u32()
	case secElement:
		n := r.count("element segments", 2)
		for i := uint64(0); i < n && r.err == nil; i++ {
			s.elementSegment(r)
		}
	case secDataCount:
		s.dataCount = int64(r.u32())
	case secCode:
		s.bodies = r.count("function bodies", 3) // size, local declarations, end
		if s.bodies != s.definedFuncs && r.err == nil {
			return fmt.Errorf("code section has %d bodies, function section declares %d functions", s.bodies, s.definedFuncs)
		}
		for i := uint64(0); i < s.bodies && r.err == nil; i++ {
			size := r.u32()
			start := r.pos
			r.skip(size)
			if r.err != nil {
				break
			}
			if err := s.body(s.importedFuncs+i, &wasmReader{b: r.b[start:r.pos]}); err != nil {
				return err
			}
		}
	case secData:
		s.dataSegments = r.count("data segments", 2) // flags, bytes
		for i := uint64(0); i < s.dataSegments && r.err == nil; i++ {
			switch flags := r.u32(); flags {
			case 0:
				s.constExpr(r)
			case 1:
			case 2:
				r.u32()
				s.constExpr(r)
			default:
				r.fail("data segment %d: flags %d", i, flags)
			}
			r.skip(r.count("data bytes", 1))
		}
	}
	return nil
}

// functions checks max_functions once imports and definitions are known.
func (s *scanner) functions() error {
	s.st.functions = int(s.importedFuncs + s.definedFuncs)
	if s.st.functions > s.lim.MaxFunctions {
		return s.limit("module declares %d functions, more than max_functions %d", s.st.functions, s.lim.MaxFunctions)
	}
	return nil
}

// table reads a table's limits and checks max_table_elements.
func (s *scanner) table(r *wasmReader) error {
	initial, maximum, hasMax := r.limits()
	if r.err != nil {
		return nil
	}
	if initial > uint64(s.lim.MaxTableElements) {
		return s.limit("table %d declares %d initial elements, more than max_table_elements %d", len(s.tableMax), initial, s.lim.MaxTableElements)
	}
	s.st.tableElements = max(s.st.tableElements, initial)
	if !hasMax {
		s.tableMax = append(s.tableMax, -1)
	} else {
		s.tableMax = append(s.tableMax, int64(maximum))
	}
	return nil
}

// memory reads a memory's limits and checks max_memory_pages.
func (s *scanner) memory(r *wasmReader) error {
	initial, _, _ := r.limits()
	if r.err != nil {
		return nil
	}
	if initial > uint64(s.lim.MaxMemoryPages) {
		return s.limit("memory declares %d initial pages (%d MiB), more than max_memory_pages %d (memory_mb %d)",
			initial, initial/16, s.lim.MaxMemoryPages, s.lim.MaxMemoryPages/16)
	}
	s.st.memoryPages = max(s.st.memoryPages, initial)
	return nil
}

// constExpr skips a constant expression (an offset, a global's value, an
// element), up to and including its end.
func (s *scanner) constExpr(r *wasmReader) {
	if r.err != nil {
		return
	}
	if err := walkInstructions(r, func(in instr) error {
		if in.depth > 0 {
			return fmt.Errorf("offset %d: block in a constant expression", in.start)
		}
		return nil
	}); err != nil && r.err == nil {
		r.err = err
	}
}

// elementSegment skips one element segment (all eight encodings).
func (s *scanner) elementSegment(r *wasmReader) {
	flags := r.u32()
	if r.err != nil {
		return
	}
	if flags > 7 {
		r.fail("element segment flags %d", flags)
		return
	}
	if flags&1 == 0 { // active: a table (flag 2) and an offset
		if flags&2 != 0 {
			r.u32()
		}
		s.constExpr(r)
	}
	if flags&3 != 0 { // an element kind (flags 1-3) or a reference type (5-7)
		r.byte()
	}
	if flags&4 == 0 { // function indexes
		n := r.count("element indexes", 1)
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.u32()
		}
		return
	}
	n := r.count("element expressions", 2) // op, end
	for i := uint64(0); i < n && r.err == nil; i++ {
		s.constExpr(r)
	}
}

// body checks one function body: its locals and its instructions.
func (s *scanner) body(fn uint64, r *wasmReader) error {
	n := r.count("local declarations", 2) // count, type
	var locals uint64
	for i := uint64(0); i < n && r.err == nil; i++ {
		locals += r.u32() // fewer than 2^32 terms below 2^32 each: no overflow
		r.byte()
	}
	if r.err != nil {
		return fmt.Errorf("function %d: %w", fn, r.err)
	}
	if locals > uint64(s.lim.MaxLocals) {
		return s.limit("function %d: declares %d locals, more than max_locals %d", fn, locals, s.lim.MaxLocals)
	}
	s.st.maxLocals = max(s.st.maxLocals, locals)
	if s.st.moduleLocals += locals; s.st.moduleLocals > uint64(s.lim.MaxModuleLocals) {
		return s.limit("module declares %d locals (up to function %d), more than max_module_locals %d", s.st.moduleLocals, fn, s.lim.MaxModuleLocals)
	}
	control := 0
	err := walkInstructions(r, func(in instr) error {
		if in.depth > s.lim.MaxNesting {
			return s.limit("function %d: blocks nested %d deep, more than max_nesting %d", fn, in.depth, s.lim.MaxNesting)
		}
		s.st.maxNesting = max(s.st.maxNesting, in.depth)
		switch in.op {
		case 0x02, 0x03, 0x04, 0x05, 0x0c, 0x0d:
			control++
		case 0x0e:
			control += 1 + int(in.imm)
		}
		switch {
		case in.op == 0x0e:
			s.st.brTableLabels = max(s.st.brTableLabels, in.imm)
		case in.op == 0xfc && in.sub == 15: // table.grow
			s.st.tableGrows++
			if in.imm < uint64(len(s.tableMax)) {
				if m := s.tableMax[in.imm]; m < 0 || m > int64(s.lim.MaxTableElements) {
					return s.limit("function %d: table.grow on table %d, whose maximum is not at most max_table_elements %d", fn, in.imm, s.lim.MaxTableElements)
				}
			}
		}
		return nil
	})
	var le limitError
	if errors.As(err, &le) {
		return err
	}
	s.st.maxControl = max(s.st.maxControl, control)
	s.st.controlFlow += uint64(control) * uint64(control) // control < 2^31: no overflow
	if s.st.controlFlow > s.lim.MaxControlFlow {
		return s.limit("function %d: control flow reaches %d, more than max_control_flow %d (its %d control instructions squared, added to those of the functions before it)",
			fn, s.st.controlFlow, s.lim.MaxControlFlow, control)
	}
	if err == nil && r.pos != len(r.b) {
		err = fmt.Errorf("offset %d: %d bytes after the function's end", r.pos, len(r.b)-r.pos)
	}
	if err != nil {
		return fmt.Errorf("function %d: %w", fn, err)
	}
	return nil
}

// startExport is the export a module's start function is moved to by moveStart.
const startExport = "tributary_start"

// moveStart returns wasm with its start section removed and the start function exported as
// startExport, so the host can run it under the call watchdog after instantiation. hadStart
// reports whether there was a start section. A module without one is returned unchanged. It
// fails on a malformed section list and when the module already exports a name startExport.
func moveStart(wasm []byte) (out []byte, hadStart bool, err error) {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, false, errors.New("not a WebAssembly 1.0 module")
	}
	type section struct {
		id       byte
		contents []byte
	}
	var secs []section
	start := -1
	r := &wasmReader{b: wasm, pos: len(wasmHeader)}
	for r.pos < len(wasm) && r.err == nil { // each section takes at least 2 bytes
		id := r.byte()
		n := r.u32()
		p := r.pos
		r.skip(n)
		if r.err == nil {
			if id == secStart {
				start = len(secs)
			}
			secs = append(secs, section{id, wasm[p:r.pos]})
		}
	}
	if r.err != nil {
		return nil, false, r.err
	}
	if start < 0 {
		return wasm, false, nil
	}
	sr := &wasmReader{b: secs[start].contents}
	fn := sr.u32()
	if sr.err == nil && sr.pos != len(sr.b) {
		sr.fail("%d bytes after the start function's index", len(sr.b)-sr.pos)
	}
	if sr.err != nil {
		return nil, false, fmt.Errorf("start section: %w", sr.err)
	}
	export := appendULEB(append(appendName(nil, startExport), 0x00), fn) // name, func, index

	out = bytes.Clone(wasm[:len(wasmHeader)])
	exported := false
	for _, s := range secs {
		if !exported && s.id != secCustom && sectionOrder(s.id) > sectionOrder(secExport) {
			out = appendSection(out, secExport, appendToVec([]byte{0}, export))
			exported = true
		}
		switch {
		case s.id == secStart:
			continue
		case s.id == secExport && exported:
			return nil, false, errors.New("export section after the start section")
		case s.id == secExport:
			er := &wasmReader{b: s.contents}
			n := er.count("exports", 3)
			for i := uint64(0); i < n && er.err == nil; i++ {
				if name := er.name(); string(name) == startExport {
					return nil, false, fmt.Errorf("module already exports %s", startExport)
				}
				er.byte()
				er.u32()
			}
			if er.err != nil {
				return nil, false, fmt.Errorf("export section: %w", er.err)
			}
			out = appendSection(out, secExport, appendToVec(s.contents, export))
			exported = true
			continue
		}
		out = appendSection(out, s.id, s.contents)
	}
	return out, true, nil
}
