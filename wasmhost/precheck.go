package wasmhost

import (
	"bytes"
	"errors"
	"fmt"
)

// ModuleLimits bound what an untrusted module may declare. [Precheck] enforces them on the
// module's bytes before anything is compiled, so a small file cannot make compilation or
// instantiation take unbounded time or memory. The zero value of each field means its default.
type ModuleLimits struct {
	// MaxModuleBytes bounds the size of the .wasm file.
	MaxModuleBytes int
	// MaxFunctions bounds the functions a module imports and defines together.
	MaxFunctions int
	// MaxNesting bounds how deeply blocks, loops and ifs nest inside one function.
	MaxNesting int
	// MaxLocals bounds the locals of one function.
	MaxLocals int
	// MaxMemoryPages bounds the initial size a module declares for its memory, in 64 KiB pages.
	MaxMemoryPages uint32
	// MaxTableElements bounds the initial size a module declares for each table.
	MaxTableElements uint32
}

// withDefaults returns l with every zero field set to its default.
func (l ModuleLimits) withDefaults() ModuleLimits { return l }

// Precheck checks the structure of wasm against lim without compiling it. Placeholder: the
// real check replaces it.
func Precheck(wasm []byte, lim ModuleLimits) error { return nil }

// startExport is the export a module's start function is moved to by moveStart.
const startExport = "tributary_start"

// moveStart returns wasm with its start section removed and the start function exported as
// startExport, so the host can run it under the call watchdog after instantiation. hadStart
// reports whether there was a start section; without one wasm is returned unchanged, and so
// is a module whose sections cannot be framed (the compiler reports it). When it rewrites, out
// is new bytes. It fails when the module already exports startExport or has two start sections.
func moveStart(wasm []byte) (out []byte, hadStart bool, err error) {
	if !bytes.HasPrefix(wasm, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return wasm, false, nil
	}
	type section struct {
		id       byte
		contents []byte
	}
	var secs []section
	r := &wasmReader{b: wasm, pos: 8}
	var start []byte
	for r.pos < len(wasm) && r.err == nil {
		id := r.byte()
		n := r.uleb()
		begin := r.pos
		r.skip(n)
		if id == 8 {
			if start != nil {
				return nil, false, errors.New("module has more than one start section")
			}
			start = wasm[begin:r.pos]
		}
		secs = append(secs, section{id, wasm[begin:r.pos]})
	}
	if r.err != nil || start == nil {
		return wasm, false, nil
	}
	sr := &wasmReader{b: start}
	fn := sr.uleb()
	if sr.err != nil || sr.pos != len(start) {
		return nil, false, errors.New("malformed start section")
	}
	export := appendULEB(append(appendName(nil, startExport), 0x00), fn) // kind func
	out = bytes.Clone(wasm[:8])
	sawExports := false
	for _, s := range secs {
		switch s.id {
		case 7:
			sawExports = true
			er := &wasmReader{b: s.contents}
			for n := er.uleb(); n > 0 && er.err == nil; n-- {
				size := er.uleb()
				begin := er.pos
				er.skip(size)
				if er.err == nil && string(s.contents[begin:er.pos]) == startExport {
					return nil, false, fmt.Errorf("module has a start function and already exports %s, a name the host reserves for it", startExport)
				}
				er.byte() // kind
				er.uleb() // index
			}
			if er.err != nil {
				return nil, false, fmt.Errorf("export section: %w", er.err)
			}
			out = appendSection(out, 7, appendToVec(s.contents, export))
			continue
		case 8:
			if !sawExports { // the export section goes where the start section was
				sawExports = true
				out = appendSection(out, 7, appendToVec([]byte{0}, export))
			}
			continue
		}
		out = appendSection(out, s.id, s.contents)
	}
	return out, true, nil
}
