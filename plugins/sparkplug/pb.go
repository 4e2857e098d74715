package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5
)

var errTruncated = errors.New("truncated protobuf")

// pbReader reads protobuf wire format from b. It never panics on malformed
// input: every read is bounds-checked and reports an error.
type pbReader struct {
	b []byte
}

func (r *pbReader) done() bool { return len(r.b) == 0 }

// The hot decoding loops try tag1 and varint1 before next and varint:
// they are inlined, and a call costs tens of nanoseconds in a Go wasm
// guest.

// tag1 reads a one-byte tag (a field numbered 1 to 15); ok is false, and
// nothing is read, for any other tag.
func (r *pbReader) tag1() (num uint64, wt int, ok bool) {
	if len(r.b) == 0 || r.b[0] < 8 || r.b[0] >= 0x80 {
		return 0, 0, false
	}
	t := r.b[0]
	r.b = r.b[1:]
	return uint64(t >> 3), int(t & 7), true
}

// varint1 reads a one-byte varint; ok is false, and nothing is read, for
// any other.
func (r *pbReader) varint1() (v uint64, ok bool) {
	if len(r.b) == 0 || r.b[0] >= 0x80 {
		return 0, false
	}
	v = uint64(r.b[0])
	r.b = r.b[1:]
	return v, true
}

var errFieldZero = errors.New("protobuf field number 0")

// next reads a field's tag.
func (r *pbReader) next() (num uint64, wt int, err error) {
	tag, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num, wt = tag>>3, int(tag&7)
	if num == 0 {
		return 0, 0, errFieldZero
	}
	return num, wt, nil
}

func (r *pbReader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errTruncated
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *pbReader) fixed32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, errTruncated
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, nil
}

func (r *pbReader) fixed64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, errTruncated
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

func (r *pbReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, errTruncated
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b, nil
}

// skip skips a field of wire type wt (unknown fields are ignored, as
// protobuf parsers do).
func (r *pbReader) skip(wt int) error {
	var err error
	switch wt {
	case wireVarint:
		_, err = r.varint()
	case wire64:
		_, err = r.fixed64()
	case wireBytes:
		_, err = r.bytes()
	case wire32:
		_, err = r.fixed32()
	default:
		err = fmt.Errorf("unsupported protobuf wire type %d", wt)
	}
	return err
}

// want checks a known field's wire type.
func want(num uint64, wt, expected int) error {
	if wt != expected {
		return wireTypeError(num, wt, expected)
	}
	return nil
}

func wireTypeError(num uint64, wt, expected int) error {
	return fmt.Errorf("protobuf field %d: wire type %d, want %d", num, wt, expected)
}

// scalarKind says which oneof member of a Sparkplug value was present.
type scalarKind uint8

const (
	kNone            scalarKind = iota
	kInt                        // uint32 int_value
	kLong                       // uint64 long_value
	kFloat                      // float float_value
	kDouble                     // double double_value
	kBool                       // bool boolean_value
	kString                     // string string_value
	kBytes                      // bytes bytes_value
	kDataSet                    // DataSet dataset_value (raw message)
	kTemplate                   // Template template_value
	kPropertySet                // PropertySet (property values only)
	kPropertySetList            // PropertySetList (property values only)
	kExtension                  // an extension value
)

// scalar is one decoded Sparkplug value before its datatype is applied.
type scalar struct {
	kind scalarKind
	u    uint64  // kInt, kLong, kBool
	f    float64 // kFloat, kDouble
	b    []byte  // kString, kBytes and the nested messages
}

// readScalar decodes the value field of wire type wt as kind k.
func (r *pbReader) readScalar(num uint64, wt int, k scalarKind) (scalar, error) {
	s := scalar{kind: k}
	var err error
	switch k {
	case kInt, kLong, kBool:
		if err = want(num, wt, wireVarint); err == nil {
			var ok bool
			if s.u, ok = r.varint1(); !ok {
				s.u, err = r.varint()
			}
		}
		if k == kInt {
			s.u = uint64(uint32(s.u))
		}
	case kFloat:
		var v uint32
		if err = want(num, wt, wire32); err == nil {
			v, err = r.fixed32()
		}
		s.f = float64(math.Float32frombits(v))
	case kDouble:
		var v uint64
		if err = want(num, wt, wire64); err == nil {
			v, err = r.fixed64()
		}
		s.f = math.Float64frombits(v)
	default:
		if err = want(num, wt, wireBytes); err == nil {
			s.b, err = r.bytes()
		}
	}
	return s, err
}

// nextBytes returns the next field numbered num, which must be of wire
// type bytes, skipping the fields before it.
func (r *pbReader) nextBytes(num uint64) ([]byte, error) {
	for !r.done() {
		n, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if n == num {
			if err := want(n, wt, wireBytes); err != nil {
				return nil, err
			}
			return r.bytes()
		}
		if err := r.skip(wt); err != nil {
			return nil, err
		}
	}
	return nil, errTruncated
}

// bytes1 reads a length-delimited value whose length is one byte; ok is
// false, and nothing is read, for any other (or a truncated one: bytes
// then reports it).
func (r *pbReader) bytes1() (b []byte, ok bool) {
	if len(r.b) == 0 || r.b[0] >= 0x80 || int(r.b[0]) >= len(r.b) {
		return nil, false
	}
	n := int(r.b[0]) + 1
	b, r.b = r.b[1:n:n], r.b[n:]
	return b, true
}
