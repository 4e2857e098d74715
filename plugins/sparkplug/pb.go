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

// next reads a field's tag.
func (r *pbReader) next() (num uint64, wt int, err error) {
	tag, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num, wt = tag>>3, int(tag&7)
	if num == 0 {
		return 0, 0, errors.New("protobuf field number 0")
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
		return fmt.Errorf("protobuf field %d: wire type %d, want %d", num, wt, expected)
	}
	return nil
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
			s.u, err = r.varint()
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
