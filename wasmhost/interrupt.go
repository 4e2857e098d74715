package wasmhost

// Interrupting a running guest without wazero's termination checks.
//
// wazero (v1.12) compiles a termination check as an indirect call at every
// loop header, and a goroutine per call watches the context; Go guests,
// whose functions are all loops, run several times slower under them.
// Instead, instrumentLoops rewrites a plugin so that every loop header counts
// down a budget global, and every safePointEvery iterations it executes
// `memory.grow 0` and checks an exported stop global, trapping when it is
// set. The module runs in a runtime without wazero's checks; the Host's
// watchdog stops a call past its deadline by setting the stop global and
// running the budget down to 1, so the guest stops at its next loop header.
//
// The memory.grow is the safe point: wazero runs it in Go (an exit from the
// machine code), where the goroutine can be preempted. Without one, a guest
// spinning in machine code could never be preempted, and the next garbage
// collection, which stops every goroutine, would wait for it for ever, with
// the watchdog itself stopped: the whole process would hang. wazero's own
// checks are such Go calls, on every iteration.
//
// Why it is sound on wazero v1.12 (checked in its source):
//   - wazevo lowers global.get of a module-defined global to a load from
//     the module context; a value is reused only along a linear path of
//     sealed blocks, and a loop header is unsealed while it is lowered, so
//     the load happens on every iteration; there is no loop-invariant code
//     motion pass. The interpreter reads the global instance each time.
//   - memory.grow exits to Go (ExitCodeGrowMemory in call_engine.go).
//   - api.MutableGlobal.Set writes that module-context slot with a plain
//     8-byte store. The stop global goes 0 -> 1 only; a write to the budget
//     may be lost to the guest's own decrement, which delays the stop by at
//     most safePointEvery iterations. No Go code reads the slots while the
//     guest runs.
//   - Every non-terminating execution passes a loop header infinitely
//     often, or recurses until wazero's stack limit traps.
//
// As with wazero's checks, a guest blocked inside a host function (a WASI
// sleep) is stopped only when the function returns.

import (
	"bytes"
	"errors"
	"fmt"
)

// The exports of the globals instrumentLoops adds.
const (
	interruptExport = "tributary_interrupt" // stop global: non-zero stops the guest
	budgetExport    = "tributary_budget"    // loop iterations left before the next safe point
)

// safePointEvery is how many loop iterations a guest runs between safe points.
const safePointEvery = 1 << 14

// instrumentLoops returns wasm with two new mutable i32 globals, exported as
// interruptExport and budgetExport, and at the start of every loop a
// countdown of the budget whose expiry runs a safe point (memory.grow 0), the
// stop check (trap when the stop global is set) and a budget refill. It
// fails on what it cannot parse (SIMD, exceptions, a malformed module, a
// module without memory): the caller then keeps wazero's own checks.
func instrumentLoops(wasm []byte) ([]byte, error) {
	r := &wasmReader{b: wasm}
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, errors.New("not a wasm 1.0 module")
	}
	r.pos = 8
	type section struct {
		id       byte
		contents []byte
	}
	var secs []section
	for r.pos < len(wasm) && r.err == nil { // each section takes at least 2 bytes
		id := r.byte()
		n := r.u32()
		start := r.pos
		r.skip(n)
		secs = append(secs, section{id, wasm[start:r.pos]})
	}
	if r.err != nil {
		return nil, r.err
	}
	// The new global's index: imported globals first, then defined ones.
	var imported, defined uint64
	hasMemory := false
	for _, s := range secs {
		sr := &wasmReader{b: s.contents}
		switch s.id {
		case 5:
			hasMemory = true
		case 2: // imports
			n := sr.count("imports", 4)
			for i := uint64(0); i < n && sr.err == nil; i++ {
				sr.name() // module
				sr.name() // name
				switch kind := sr.byte(); kind {
				case 0: // func
					sr.u32()
				case 1: // table: reftype, limits
					sr.byte()
					sr.limits()
				case 2: // memory: limits
					hasMemory = true
					sr.limits()
				case 3: // global: valtype, mut
					sr.byte()
					sr.byte()
					imported++
				default:
					sr.fail("import kind %d", kind)
				}
			}
		case 6:
			defined = sr.count("globals", 3)
		}
		if sr.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, sr.err)
		}
	}
	g, b := imported+defined, imported+defined+1       // stop, budget
	refill := appendSLEB([]byte{0x41}, safePointEvery) // i32.const safePointEvery
	var check []byte
	check = appendULEB(append(check, 0x23), b)                    // global.get b
	check = append(check, 0x41, 0x01, 0x6b)                       // i32.const 1; i32.sub
	check = appendULEB(append(check, 0x24), b)                    // global.set b
	check = appendULEB(append(check, 0x23), b)                    // global.get b
	check = append(check, 0x45, 0x04, 0x40)                       // i32.eqz; if
	check = append(check, 0x41, 0x00, 0x40, 0x00, 0x1a)           //   i32.const 0; memory.grow 0; drop: the safe point
	check = appendULEB(append(append(check, refill...), 0x24), b) // i32.const N; global.set b
	check = appendULEB(append(check, 0x23), g)                    //   global.get g
	check = append(check, 0x04, 0x40, 0x00, 0x0b)                 //   if; unreachable; end
	check = append(check, 0x0b)                                   // end
	newGlobals := [][]byte{
		{0x7f, 0x01, 0x41, 0x00, 0x0b},                      // stop: mut i32 = 0
		append(append([]byte{0x7f, 0x01}, refill...), 0x0b), // budget: mut i32 = N
	}
	exports := [][]byte{
		appendULEB(append(appendName(nil, interruptExport), 0x03), g),
		appendULEB(append(appendName(nil, budgetExport), 0x03), b),
	}
	if !hasMemory {
		return nil, errors.New("module has no memory for the safe point")
	}

	out := bytes.Clone(wasm[:8])
	sawGlobals, sawExports := false, false
	for _, s := range secs {
		contents := s.contents
		var err error
		switch {
		case s.id == 6:
			sawGlobals = true
			contents = appendToVec(contents, newGlobals...)
		case s.id == 7:
			sawExports = true
			if bytes.Contains(contents, []byte(interruptExport)) || bytes.Contains(contents, []byte(budgetExport)) {
				return nil, fmt.Errorf("module already exports something named like %s or %s", interruptExport, budgetExport)
			}
			contents = appendToVec(contents, exports...)
		case s.id == 10:
			if contents, err = instrumentCode(contents, check); err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
		case s.id == 0 && isDebugSection(contents):
			continue // DWARF addresses code offsets, which moved
		}
		// A module without a global or export section gets one, in order.
		if !sawGlobals && s.id != 0 && sectionOrder(s.id) > sectionOrder(6) {
			sawGlobals = true
			out = appendSection(out, 6, appendToVec([]byte{0}, newGlobals...))
		}
		if !sawExports && s.id != 0 && sectionOrder(s.id) > sectionOrder(7) {
			sawExports = true
			out = appendSection(out, 7, appendToVec([]byte{0}, exports...))
		}
		out = appendSection(out, s.id, contents)
	}
	if !sawGlobals || !sawExports {
		return nil, errors.New("module has no code")
	}
	return out, nil
}

// isDebugSection reports whether a custom section is DWARF (".debug_*").
func isDebugSection(contents []byte) bool {
	r := &wasmReader{b: contents}
	n := r.uleb()
	return r.err == nil && n <= uint64(len(contents)-r.pos) && bytes.HasPrefix(contents[r.pos:r.pos+int(n)], []byte(".debug_"))
}

// sectionOrder is the position of a known section id in a module (the
// data count section, 12, comes before code).
func sectionOrder(id byte) int {
	if id == 12 {
		return 95 // between element (9) and code (10)
	}
	return int(id) * 10
}

// appendToVec appends encoded items to a wasm vector.
func appendToVec(vec []byte, items ...[]byte) []byte {
	r := &wasmReader{b: vec}
	n := r.uleb()
	out := append(appendULEB(nil, n+uint64(len(items))), vec[r.pos:]...)
	for _, item := range items {
		out = append(out, item...)
	}
	return out
}

// instrumentCode inserts check after the block type of every loop in the
// code section.
func instrumentCode(sec, check []byte) ([]byte, error) {
	r := &wasmReader{b: sec}
	n := r.count("functions", 3) // size, local declarations, end
	out := appendULEB(nil, n)
	for i := uint64(0); i < n; i++ {
		size := r.u32()
		start := r.pos
		r.skip(size)
		if r.err != nil {
			return nil, r.err
		}
		body, err := instrumentBody(sec[start:r.pos], check)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = append(appendULEB(out, uint64(len(body))), body...)
	}
	return out, nil
}

// instrumentBody inserts check after the block type of every loop of one
// function body. It refuses SIMD (prefix 0xfd), which the rewriter has never
// been checked with.
func instrumentBody(body, check []byte) ([]byte, error) {
	r := &wasmReader{b: body}
	n := r.count("local declarations", 2) // count, type
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	last := 0
	err := walkInstructions(r, func(in instr) error {
		switch in.op {
		case 0x03: // loop
			out = append(append(out, body[last:in.end]...), check...)
			last = in.end
		case 0xfd:
			return fmt.Errorf("offset %d: opcode 0xfd %d", in.start, in.sub)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.pos != len(body) {
		return nil, fmt.Errorf("offset %d: %d bytes after the function's end", r.pos, len(body)-r.pos)
	}
	return append(out, body[last:]...), nil
}

// appendULEB appends v as unsigned LEB128.
func appendULEB(dst []byte, v uint64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// appendSLEB appends v as signed LEB128.
func appendSLEB(dst []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// appendName appends a wasm name: its length, then its bytes.
func appendName(dst []byte, s string) []byte { return append(appendULEB(dst, uint64(len(s))), s...) }

// appendSection appends a section: id, size, contents.
func appendSection(dst []byte, id byte, contents []byte) []byte {
	return append(appendULEB(append(dst, id), uint64(len(contents))), contents...)
}
