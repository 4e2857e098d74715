package jsonfield

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Edit is a list of changes to a JSON document, applied together by
// [Edit.Apply]: the result is the document that applying them one by one
// with [Set], [Delete] and [Get] would give, but the document is validated
// and copied once instead of once per change. In a wasm guest the whole
// list crosses to the host in one call (tributary.json_edit, sdk/ABI.md
// §2.1), so a plugin that changes several fields pays one host call per
// message.
//
// An Edit is built once and reused: [Edit.Reset] empties it while keeping
// its memory. The zero Edit is empty and ready to use. An Edit is not safe
// for concurrent use.
type Edit struct {
	prog    []byte // the encoded operations; the format of json_edit's program
	n       int    // number of operations
	scratch []byte // formatting space for SetString and SetInt
}

// Operation codes of an Edit's program (sdk/ABI.md §2.1, json_edit).
const (
	opSet        = 1 // path, value: Set
	opSetFloat   = 2 // path, 8 bytes little-endian float64 bits: SetFloat
	opSetDefault = 3 // path, value: Set when Get finds nothing
	opDelete     = 4 // path: Delete
	opMove       = 5 // path, to-path: Get, Delete, Set
	opSelect     = 6 // count, count paths: a new object of the paths present
)

// Reset empties e, keeping its memory for the next list.
func (e *Edit) Reset() { e.prog, e.n = e.prog[:0], 0 }

// Len returns the number of operations in e.
func (e *Edit) Len() int { return e.n }

// The builders run in the plugin, compiled to wasm where every loop and
// call is several times dearer than natively: they take the short path
// (one length byte, strings that need no escaping) when they can.

func (e *Edit) appendString(s string) {
	if len(s) < 0x80 {
		e.prog = append(append(e.prog, byte(len(s))), s...)
		return
	}
	e.prog = binary.AppendUvarint(e.prog, uint64(len(s)))
	e.prog = append(e.prog, s...)
}

func (e *Edit) appendBytes(b []byte) {
	if len(b) < 0x80 {
		e.prog = append(append(e.prog, byte(len(b))), b...)
		return
	}
	e.prog = binary.AppendUvarint(e.prog, uint64(len(b)))
	e.prog = append(e.prog, b...)
}

// plainASCII reports whether s is printable ASCII without quotes or
// backslashes: its JSON string is s between quotes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (e *Edit) op(code byte, path string) {
	e.prog = append(e.prog, code)
	e.appendString(path)
	e.n++
}

// Set adds "set the value at path to raw", as [Set]: raw must be one valid
// JSON value, which Apply checks.
func (e *Edit) Set(path string, raw []byte) {
	e.op(opSet, path)
	e.appendBytes(raw)
}

// SetString adds "set the value at path to the JSON string s".
func (e *Edit) SetString(path, s string) {
	e.op(opSet, path)
	if len(s) < 0x80-2 && plainASCII(s) {
		e.prog = append(append(e.prog, byte(len(s)+2), '"'), s...)
		e.prog = append(e.prog, '"')
		return
	}
	e.scratch = AppendString(e.scratch[:0], s)
	e.appendBytes(e.scratch)
}

// SetInt adds "set the value at path to the number n".
func (e *Edit) SetInt(path string, n int64) {
	e.op(opSet, path)
	e.scratch = strconv.AppendInt(e.scratch[:0], n, 10)
	e.appendBytes(e.scratch)
}

// SetBool adds "set the value at path to true or false".
func (e *Edit) SetBool(path string, b bool) {
	e.op(opSet, path)
	e.appendString(strconv.FormatBool(b))
}

// SetFloat adds "set the value at path to the number f", formatted as
// [SetFloat] formats it; NaN and infinities make Apply fail, as SetFloat
// does.
func (e *Edit) SetFloat(path string, f float64) {
	e.op(opSetFloat, path)
	e.prog = binary.LittleEndian.AppendUint64(e.prog, math.Float64bits(f))
}

// SetDefault adds "set the value at path to raw unless [Get] finds a value
// there": raw must be one valid JSON value, which Apply checks.
func (e *Edit) SetDefault(path string, raw []byte) {
	e.op(opSetDefault, path)
	e.appendBytes(raw)
}

// Delete adds "delete the value at path", as [Delete]: an absent path
// changes nothing.
func (e *Edit) Delete(path string) { e.op(opDelete, path) }

// Move adds "move the value at from to to": when [Get] finds a value at
// from, it is deleted there and set at to (replacing what is there, and
// creating objects on the way, as [Set]); an absent from changes nothing.
func (e *Edit) Move(from, to string) {
	e.op(opMove, from)
	e.appendString(to)
}

// Select adds "keep only these paths": the document becomes a new object
// holding, in the order listed, the value of every path that [Get] finds,
// each set at the same path (so nested paths keep their parents). An empty
// list gives {}.
func (e *Edit) Select(paths ...string) {
	e.prog = append(e.prog, opSelect)
	e.prog = binary.AppendUvarint(e.prog, uint64(len(paths)))
	for _, p := range paths {
		e.appendString(p)
	}
	e.n++
}

// EditError is the error of [Edit.Apply] when one of its operations fails:
// Index is the operation's position (from 0, in the order added), Err the
// error the one-by-one function ([Set], [Delete], ...) gives.
type EditError struct {
	Index int
	Err   error
}

// Error returns the operation's index and the error.
func (e *EditError) Error() string { return fmt.Sprintf("edit %d: %v", e.Index, e.Err) }

// Unwrap returns the operation's error.
func (e *EditError) Unwrap() error { return e.Err }

// Apply returns a copy of doc with every operation of e applied in order;
// doc is never modified. doc is validated in full first: a malformed doc
// is an error wrapping [ErrSyntax] (not an *EditError). An operation that
// fails ends Apply with an *[EditError] naming it. An empty Edit returns a
// copy of the valid doc.
func (e *Edit) Apply(doc []byte) ([]byte, error) {
	out, err := e.AppendApply(make([]byte, 0, len(doc)+2*len(e.prog)+16), doc)
	if err != nil {
		return nil, err
	}
	return out[:len(out):len(out)], nil
}

// AppendApply is [Edit.Apply] appending the new document to dst: it
// returns the extended slice, or dst and the error. A plugin that keeps
// one buffer and passes buf[:0] for each message allocates nothing once
// the buffer is large enough (the SDK keeps a payload only until the
// handler returns: see sdk.Message.SetPayload). dst's spare capacity must
// not overlap doc.
func (e *Edit) AppendApply(dst, doc []byte) ([]byte, error) {
	out, r := hostApply(dst, doc, e.prog)
	switch r {
	case hostOK:
		return out, nil
	case hostNone: // natively, or too large for the host
		if out, ok := applyFast(dst, doc, e.prog); ok {
			return out, nil
		}
	}
	out, err := applyEdit(doc, e.prog) // also explains a failure
	if err != nil {
		return dst, err
	}
	return append(dst, out...), nil
}

// errProgram reports a program that does not decode; Edit never builds
// one, so only a host given foreign bytes sees it.
var errProgram = errors.New("jsonfield: malformed edit program")

// progReader decodes an Edit's program.
type progReader struct {
	b   []byte
	err bool
}

func (r *progReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *progReader) uvarint() uint64 {
	if len(r.b) > 0 && r.b[0] < 0x80 { // the common one-byte form
		n := uint64(r.b[0])
		r.b = r.b[1:]
		return n
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *progReader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *progReader) string() string { return string(r.bytes()) }

func (r *progReader) float() float64 {
	if len(r.b) < 8 {
		r.err = true
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

// applyEdit is [Edit.Apply] in Go, on every target: the operations one by
// one with the Go implementations of Set, Delete and Get. It defines what
// Apply means.
func applyEdit(doc []byte, prog []byte) ([]byte, error) {
	if _, err := parse(doc); err != nil {
		return nil, err
	}
	out := append([]byte(nil), doc...)
	r := progReader{b: prog}
	for i := 0; len(r.b) > 0; i++ {
		next, err := applyOp(out, &r)
		if r.err {
			return nil, errProgram
		}
		if err != nil {
			return nil, &EditError{Index: i, Err: err}
		}
		out = next
	}
	return out, nil
}

// applyOp applies the next operation of r to doc, a valid document.
func applyOp(doc []byte, r *progReader) ([]byte, error) {
	code := r.byte()
	if code == opSelect {
		return selectPaths(doc, r)
	}
	path := r.string()
	switch code {
	case opSet, opSetDefault:
		raw := r.bytes()
		if r.err {
			return nil, nil
		}
		if code == opSetDefault {
			if _, err := lookup(doc, path); err == nil {
				return doc, nil
			}
		}
		val, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("value for %q: %w", path, err)
		}
		return setGo(doc, path, val.raw)
	case opSetFloat:
		f := r.float()
		if r.err {
			return nil, nil
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("value for %q: %v is not a JSON number", path, f)
		}
		return setGo(doc, path, appendFloat(nil, f))
	case opDelete:
		return deleteGo(doc, path)
	case opMove:
		to := r.string()
		if r.err {
			return nil, nil
		}
		v, err := lookup(doc, path)
		if err != nil {
			return doc, nil // doc is valid: the path is absent
		}
		raw := append([]byte(nil), v.raw...)
		next, err := deleteGo(doc, path)
		if err != nil {
			return nil, err
		}
		return setGo(next, to, raw)
	}
	r.err = true
	return nil, nil
}

// selectPaths applies a select operation (its count and paths next in r)
// to doc, a valid document.
func selectPaths(doc []byte, r *progReader) ([]byte, error) {
	n := r.uvarint()
	out := []byte("{}")
	for ; n > 0 && !r.err; n-- {
		p := r.string()
		v, err := lookup(doc, p)
		if err != nil {
			continue
		}
		if out, err = setGo(out, p, v.raw); err != nil {
			return nil, err
		}
	}
	return out, nil
}
