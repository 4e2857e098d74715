package schemaenc

import (
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The fast path of Protobuf encoding: a proto3 message descriptor compiled into a tree of
// pbMessages writes the wire format straight from the JSON bytes, with no dynamic message in
// between. It follows protojson's mapping for what sensor payloads use (members by JSON or
// proto name in any order, null as absent; bool, the integer kinds as a JSON integer or a
// string of one, float and double as a JSON number, strings, enums by name or number, nested
// messages, repeated fields) and writes the fields as the general path's deterministic
// proto.Marshal does: by field number, implicit-presence zeros left out, packed scalars
// packed. It gives up on anything else (bytes, maps, oneofs, the well-known types, proto2,
// an escaped string, an unknown or repeated member, a value that does not fit, malformed
// JSON, …): the general path (protojson into a dynamic message, proto.Marshal) then encodes
// the document or says why it does not fit. A differential test and a fuzz test hold both to
// the same bytes.

// pbKind is how a pbField's values are read and written.
type pbKind uint8

const (
	pbGiveUp pbKind = iota // a field the fast path does not cover: present, it gives up
	pbBool
	pbInt32
	pbSint32
	pbSfixed32
	pbUint32
	pbFixed32
	pbInt64
	pbSint64
	pbSfixed64
	pbUint64
	pbFixed64
	pbFloat
	pbDouble
	pbString
	pbEnum
	pbNested
)

// pbMessage is one compiled message of the fast path; fields are in field-number order.
type pbMessage struct {
	fields []pbField
}

// pbField is one field of a pbMessage.
type pbField struct {
	jsonName, name []byte
	num            protowire.Number
	kind           pbKind
	repeated       bool
	packed         bool
	presence       bool     // explicit presence: written even when zero
	enumNames      [][]byte // pbEnum: the value names, for enumNums
	enumNums       []int32
	msg            *pbMessage
}

// maxPbFields bounds the fields of a message the fast path takes (its member positions are
// kept on the stack).
const maxPbFields = 32

// compilePbFast compiles md for the fast path; nil when md itself is not covered.
func compilePbFast(md protoreflect.MessageDescriptor) *pbMessage {
	return compilePbMessage(md, map[protoreflect.FullName]*pbMessage{})
}

func compilePbMessage(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*pbMessage) *pbMessage {
	if m, ok := seen[md.FullName()]; ok {
		return m
	}
	if md.ParentFile().Syntax() != protoreflect.Proto3 || md.Fields().Len() > maxPbFields ||
		md.ExtensionRanges().Len() > 0 || md.FullName().Parent() == "google.protobuf" {
		return nil
	}
	m := &pbMessage{}
	seen[md.FullName()] = m
	fds := md.Fields()
	for k := range fds.Len() {
		fd := fds.Get(k)
		f := pbField{jsonName: []byte(fd.JSONName()), name: []byte(fd.Name()), num: fd.Number(),
			repeated: fd.IsList(), packed: fd.IsPacked(), presence: fd.HasPresence()}
		f.kind = pbKindOf(fd)
		if od := fd.ContainingOneof(); (od != nil && !od.IsSynthetic()) || fd.IsMap() {
			f.kind = pbGiveUp
		}
		switch f.kind {
		case pbEnum:
			if fd.Enum().FullName() == "google.protobuf.NullValue" {
				f.kind = pbGiveUp
			}
			for vs, k := fd.Enum().Values(), 0; k < vs.Len(); k++ {
				f.enumNames = append(f.enumNames, []byte(vs.Get(k).Name()))
				f.enumNums = append(f.enumNums, int32(vs.Get(k).Number()))
			}
		case pbNested:
			if f.msg = compilePbMessage(fd.Message(), seen); f.msg == nil {
				f.kind = pbGiveUp
			}
		}
		m.fields = append(m.fields, f)
	}
	// field-number order, as deterministic proto.Marshal writes fields outside oneofs
	for i := 1; i < len(m.fields); i++ {
		for j := i; j > 0 && m.fields[j].num < m.fields[j-1].num; j-- {
			m.fields[j], m.fields[j-1] = m.fields[j-1], m.fields[j]
		}
	}
	return m
}

func pbKindOf(fd protoreflect.FieldDescriptor) pbKind {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return pbBool
	case protoreflect.Int32Kind:
		return pbInt32
	case protoreflect.Sint32Kind:
		return pbSint32
	case protoreflect.Sfixed32Kind:
		return pbSfixed32
	case protoreflect.Uint32Kind:
		return pbUint32
	case protoreflect.Fixed32Kind:
		return pbFixed32
	case protoreflect.Int64Kind:
		return pbInt64
	case protoreflect.Sint64Kind:
		return pbSint64
	case protoreflect.Sfixed64Kind:
		return pbSfixed64
	case protoreflect.Uint64Kind:
		return pbUint64
	case protoreflect.Fixed64Kind:
		return pbFixed64
	case protoreflect.FloatKind:
		return pbFloat
	case protoreflect.DoubleKind:
		return pbDouble
	case protoreflect.StringKind:
		return pbString
	case protoreflect.EnumKind:
		return pbEnum
	case protoreflect.MessageKind:
		return pbNested
	}
	return pbGiveUp
}

// encodeFast appends the wire format of doc to dst, reporting false when the fast path does
// not take doc (dst's bytes past its length are then garbage).
func (m *pbMessage) encodeFast(dst, doc []byte) ([]byte, bool) {
	dst, i, ok := m.encode(dst, doc, ws(doc, 0), 0)
	return dst, ok && ws(doc, i) == len(doc)
}

// encode appends the fields of the JSON object at b[i:] and returns the index after it.
func (m *pbMessage) encode(dst, b []byte, i, depth int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '{' || depth > 32 {
		return dst, 0, false
	}
	var at [maxPbFields]int // 1 + the offset of each field's value; 0: not seen
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, i + 1, true
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return dst, 0, false
		}
		j = ws(b, j)
		if j >= len(b) || b[j] != ':' {
			return dst, 0, false
		}
		j = ws(b, j+1)
		f := -1
		for k := range m.fields {
			if string(m.fields[k].jsonName) == string(key) || string(m.fields[k].name) == string(key) {
				f = k
				break
			}
		}
		if f < 0 || at[f] != 0 {
			return dst, 0, false
		}
		at[f] = j + 1
		if j, ok = skipValue(b, j, 0); !ok {
			return dst, 0, false
		}
		i = ws(b, j)
		if i < len(b) && b[i] == ',' {
			i = ws(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			i++
			break
		}
		return dst, 0, false
	}
	for k := range m.fields {
		if at[k] == 0 {
			continue
		}
		var ok bool
		if dst, ok = m.fields[k].encode(dst, b, at[k]-1, depth); !ok {
			return dst, 0, false
		}
	}
	return dst, i, true
}

// encode appends field f with the JSON value at b[i:] (already known to be well formed).
func (f *pbField) encode(dst, b []byte, i, depth int) ([]byte, bool) {
	if _, null := literal(b, i, "null"); null {
		return dst, f.kind != pbGiveUp
	}
	if f.kind == pbGiveUp {
		return dst, false
	}
	if !f.repeated {
		return f.encodeOne(dst, b, i, depth, !f.presence)
	}
	if b[i] != '[' {
		return dst, false
	}
	i = ws(b, i+1)
	if b[i] == ']' {
		return dst, true
	}
	var start, body int
	if f.packed {
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		start = len(dst)
		dst = append(dst, 0)
		body = len(dst)
	}
	for {
		var ok bool
		if dst, ok = f.encodeOne(dst, b, i, depth, false); !ok {
			return dst, false
		}
		j, _ := skipValue(b, i, 0)
		i = ws(b, j)
		if b[i] == ']' {
			break
		}
		i = ws(b, i+1) // a ','
	}
	if f.packed {
		dst = fixLength(dst, start, body)
	}
	return dst, true
}

// fixLength writes the length of dst[body:] as the varint at dst[start], where one byte was
// reserved for it, moving the body when the varint is longer.
func fixLength(dst []byte, start, body int) []byte {
	n := len(dst) - body
	if n < 0x80 {
		dst[start] = byte(n)
		return dst
	}
	sz := protowire.SizeVarint(uint64(n))
	for range sz - 1 {
		dst = append(dst, 0)
	}
	copy(dst[body+sz-1:], dst[body:body+n])
	protowire.AppendVarint(dst[:start], uint64(n))
	return dst
}

// encodeOne appends one value of f (with its tag unless f is packed); omitZero leaves out a
// zero value, as for fields of implicit presence.
func (f *pbField) encodeOne(dst, b []byte, i, depth int, omitZero bool) ([]byte, bool) {
	switch f.kind {
	case pbBool:
		v := false
		if _, ok := literal(b, i, "true"); ok {
			v = true
		} else if _, ok := literal(b, i, "false"); !ok {
			return dst, false
		}
		if !v && omitZero {
			return dst, true
		}
		dst = f.appendTag(dst, protowire.VarintType)
		return protowire.AppendVarint(dst, protowire.EncodeBool(v)), true
	case pbInt32, pbSint32, pbSfixed32, pbInt64, pbSint64, pbSfixed64:
		bits := 64
		if f.kind <= pbSfixed32 {
			bits = 32
		}
		s, ok := integerText(b, i)
		if !ok {
			return dst, false
		}
		v, err := strconv.ParseInt(bytesString(s), 10, bits)
		if err != nil {
			return dst, false
		}
		if v == 0 && omitZero {
			return dst, true
		}
		switch f.kind {
		case pbInt32, pbInt64:
			dst = f.appendTag(dst, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(v))
		case pbSint32:
			dst = f.appendTag(dst, protowire.VarintType)
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(int64(int32(v))))
		case pbSint64:
			dst = f.appendTag(dst, protowire.VarintType)
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(v))
		case pbSfixed32:
			dst = f.appendTag(dst, protowire.Fixed32Type)
			dst = protowire.AppendFixed32(dst, uint32(v))
		case pbSfixed64:
			dst = f.appendTag(dst, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, uint64(v))
		}
		return dst, true
	case pbUint32, pbFixed32, pbUint64, pbFixed64:
		bits := 64
		if f.kind <= pbFixed32 {
			bits = 32
		}
		s, ok := integerText(b, i)
		if !ok {
			return dst, false
		}
		v, err := strconv.ParseUint(bytesString(s), 10, bits)
		if err != nil {
			return dst, false
		}
		if v == 0 && omitZero {
			return dst, true
		}
		switch f.kind {
		case pbUint32, pbUint64:
			dst = f.appendTag(dst, protowire.VarintType)
			dst = protowire.AppendVarint(dst, v)
		case pbFixed32:
			dst = f.appendTag(dst, protowire.Fixed32Type)
			dst = protowire.AppendFixed32(dst, uint32(v))
		case pbFixed64:
			dst = f.appendTag(dst, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, v)
		}
		return dst, true
	case pbFloat, pbDouble:
		j, ok := number(b, i)
		if !ok {
			return dst, false
		}
		if f.kind == pbFloat {
			v, err := strconv.ParseFloat(bytesString(b[i:j]), 32)
			if err != nil {
				return dst, false
			}
			bits := math.Float32bits(float32(v))
			if bits == 0 && omitZero {
				return dst, true
			}
			dst = f.appendTag(dst, protowire.Fixed32Type)
			return protowire.AppendFixed32(dst, bits), true
		}
		v, err := strconv.ParseFloat(bytesString(b[i:j]), 64)
		if err != nil {
			return dst, false
		}
		bits := math.Float64bits(v)
		if bits == 0 && omitZero {
			return dst, true
		}
		dst = f.appendTag(dst, protowire.Fixed64Type)
		return protowire.AppendFixed64(dst, bits), true
	case pbString:
		s, _, ok := plainString(b, i)
		if !ok {
			return dst, false
		}
		if len(s) == 0 && omitZero {
			return dst, true
		}
		dst = f.appendTag(dst, protowire.BytesType)
		return protowire.AppendBytes(dst, s), true
	case pbEnum:
		var v int64
		if s, _, ok := plainString(b, i); ok {
			k := 0
			for k < len(f.enumNames) && string(f.enumNames[k]) != string(s) {
				k++
			}
			if k == len(f.enumNames) {
				return dst, false
			}
			v = int64(f.enumNums[k])
		} else {
			j, ok := number(b, i)
			if !ok {
				return dst, false
			}
			var err error
			if v, err = strconv.ParseInt(bytesString(b[i:j]), 10, 32); err != nil {
				return dst, false
			}
		}
		if v == 0 && omitZero {
			return dst, true
		}
		dst = f.appendTag(dst, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(v)), true
	case pbNested:
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		start := len(dst)
		dst = append(dst, 0)
		var ok bool
		if dst, _, ok = f.msg.encode(dst, b, i, depth+1); !ok {
			return dst, false
		}
		return fixLength(dst, start, start+1), true
	}
	return dst, false
}

// appendTag appends f's tag with wire type t, unless f is packed (its values then go
// without).
func (f *pbField) appendTag(dst []byte, t protowire.Type) []byte {
	if f.packed {
		return dst
	}
	return protowire.AppendTag(dst, f.num, t)
}

// integerText returns the digits of the JSON integer at b[i:], a number or a string holding
// one: -?(0|[1-9][0-9]*), no fraction nor exponent.
func integerText(b []byte, i int) ([]byte, bool) {
	if s, _, ok := plainString(b, i); ok {
		b, i = s, 0
		if j, ok := number(b, 0); !ok || j != len(b) {
			return nil, false
		}
	}
	j, ok := number(b, i)
	if !ok {
		return nil, false
	}
	for _, c := range b[i:j] {
		if c == '.' || c == 'e' || c == 'E' {
			return nil, false
		}
	}
	return b[i:j], true
}
