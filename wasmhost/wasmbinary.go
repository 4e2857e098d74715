package wasmhost

// Reading the WebAssembly binary format, shared by the structural pre-check
// (Precheck), the loop rewriter (instrumentLoops) and the start-function move
// (moveStart). Everything here reads untrusted bytes: no count read from the
// module is trusted beyond the bytes that remain, every loop stops at the
// first read error, and nothing allocates in proportion to a count.

import "fmt"

// Section ids (WebAssembly 2.0, §5.5.2).
const (
	secCustom    byte = 0
	secType      byte = 1
	secImport    byte = 2
	secFunction  byte = 3
	secTable     byte = 4
	secMemory    byte = 5
	secGlobal    byte = 6
	secExport    byte = 7
	secStart     byte = 8
	secElement   byte = 9
	secCode      byte = 10
	secData      byte = 11
	secDataCount byte = 12
)

// wasmHeader is the magic number and version of a WebAssembly 1.0 binary.
var wasmHeader = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

// wasmReader reads LEB128 and bytes from a module, remembering the first
// error (io.ErrUnexpectedEOF style) instead of panicking. After an error
// every read returns zero values and consumes nothing more.
type wasmReader struct {
	b   []byte
	pos int
	err error
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: %s", r.pos, fmt.Sprintf(format, args...))
	}
}

// remaining is the number of bytes not read yet.
func (r *wasmReader) remaining() int { return len(r.b) - r.pos }

func (r *wasmReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *wasmReader) uleb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 || r.err != nil {
			return v
		}
	}
	r.fail("LEB128 too long")
	return 0
}

// u32 reads an unsigned LEB128 that must fit in 32 bits (an index, a count
// or a limit).
func (r *wasmReader) u32() uint64 {
	v := r.uleb()
	if v > 1<<32-1 {
		r.fail("%d does not fit in 32 bits", v)
		return 0
	}
	return v
}

// count reads the length of a vector whose items take at least minItem
// bytes each, and fails unless that many items fit in the bytes that
// remain. Loops over the result therefore run at most remaining/minItem
// times.
func (r *wasmReader) count(what string, minItem int) uint64 {
	n := r.u32()
	if r.err == nil && n > uint64(r.remaining()/minItem) {
		r.fail("%s: %d items cannot fit in the %d bytes left", what, n, r.remaining())
		return 0
	}
	return n
}

func (r *wasmReader) skip(n uint64) {
	if r.err != nil {
		return
	}
	if n > uint64(r.remaining()) {
		r.fail("unexpected end")
		r.pos = len(r.b)
		return
	}
	r.pos += int(n)
}

// name reads a name (a byte vector) and returns it, aliasing r.b.
func (r *wasmReader) name() []byte {
	n := r.count("name", 1)
	start := r.pos
	r.skip(n)
	if r.err != nil {
		return nil
	}
	return r.b[start:r.pos]
}

// skipLEB skips a signed or unsigned LEB128 number of at most 10 bytes.
func (r *wasmReader) skipLEB() {
	for i := 0; r.byte()&0x80 != 0 && r.err == nil; i++ {
		if i == 9 {
			r.fail("LEB128 too long")
		}
	}
}

// limits reads table or memory limits: flags, min, and max when flag bit 0
// is set. hasMax reports whether a maximum was declared.
func (r *wasmReader) limits() (min, max uint64, hasMax bool) {
	flags := r.byte()
	if flags > 1 {
		r.fail("limits flags 0x%02x (shared or 64-bit memories are not supported)", flags)
		return 0, 0, false
	}
	min = r.u32()
	if flags&1 != 0 {
		max, hasMax = r.u32(), true
	}
	return min, max, hasMax
}

// instr is one instruction decoded by walkInstructions.
type instr struct {
	op    byte   // opcode; for prefixed instructions the prefix (0xfc, 0xfd)
	sub   uint64 // the sub-opcode of a prefixed instruction
	start int    // offset of the opcode
	end   int    // offset just after the instruction's immediates
	depth int    // blocks open after the instruction (a block, loop or if counts itself)
	// imm is the first immediate where a caller needs it: the number of
	// labels of a br_table (without the default one), the table of a
	// table.grow.
	imm uint64
}

// walkInstructions decodes instructions from r.pos until the end that closes
// the expression (a function body or a constant expression), calling visit
// after each one; it returns the first error of the reader or of visit.
// r.pos is then just after that end.
//
// It decodes the instruction set of wazero's default features (WebAssembly
// 2.0: MVP, sign extension, non-trapping conversions, bulk memory, reference
// types, SIMD), reading immediates exactly as wazero v1.12 does, so that its
// view of the block structure is wazero's (the sub-opcode after 0xfd is one
// byte there, not a LEB128). Other opcodes (threads, tail calls, exception
// handling) are errors.
func walkInstructions(r *wasmReader, visit func(instr) error) error {
	depth := 0
	for r.err == nil {
		in := instr{start: r.pos, op: r.byte()}
		if r.err != nil {
			break
		}
		switch op := in.op; {
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if: block type (s33)
			depth++
			if bt := r.byte(); bt&0x80 != 0 {
				r.pos--
				r.skipLEB()
			}
		case op == 0x0b: // end
			depth--
		case op <= 0x01, op == 0x05, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1,
			op >= 0x45 && op <= 0xc4:
		case op == 0x0c, op == 0x0d, op == 0x10, op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40, op == 0xd2:
			r.u32()
		case op == 0xd0: // ref.null t
			r.byte()
		case op == 0x0e: // br_table: labels, then the default label
			in.imm = r.count("br_table", 1)
			for i := uint64(0); i <= in.imm && r.err == nil; i++ {
				r.u32()
			}
		case op == 0x11: // call_indirect type table
			r.u32()
			r.u32()
		case op == 0x1c: // select t*
			r.skip(r.count("select types", 1))
		case op >= 0x28 && op <= 0x3e: // memarg
			r.u32()
			r.u32()
		case op == 0x41, op == 0x42:
			r.skipLEB()
		case op == 0x43:
			r.skip(4)
		case op == 0x44:
			r.skip(8)
		case op == 0xfc:
			in.sub = r.u32()
			switch sub := in.sub; {
			case sub <= 7: // saturating truncations
			case sub == 15: // table.grow
				in.imm = r.u32()
			case sub == 9, sub == 11, sub == 13, sub == 16, sub == 17:
				r.u32()
			case sub == 8, sub == 10, sub == 12, sub == 14:
				r.u32()
				r.u32()
			default:
				r.fail("opcode 0xfc %d", sub)
			}
		case op == 0xfd:
			in.sub = uint64(r.byte()) // one byte, as wazero reads it
			switch sub := in.sub; {
			case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads and stores: memarg
				r.u32()
				r.u32()
			case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
				r.skip(16)
			case sub >= 0x15 && sub <= 0x22: // extract and replace lane
				r.byte()
			case sub >= 0x54 && sub <= 0x5b: // load and store lane: memarg, lane
				r.u32()
				r.u32()
				r.byte()
			}
		default:
			r.fail("opcode 0x%02x", op)
		}
		if r.err != nil {
			break
		}
		in.end, in.depth = r.pos, depth
		if err := visit(in); err != nil {
			return err
		}
		if depth < 0 {
			return nil
		}
	}
	return r.err
}
