package schemaenc

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/iskorotkov/avro/v2"
)

// avroCodec encodes JSON documents as Avro binary against one schema: the JSON is read into
// Go values shaped by the schema (checking each against it, so a mismatch names its path),
// which iskorotkov/avro then writes.
type avroCodec struct {
	schema avro.Schema
	fast   *avroNode // the fast path (avrofast.go); nil when the schema uses what it does not cover
}

// newAvroCodec parses text, an Avro schema, with refs (the texts of the schemas it
// references, in dependency order) parsed first into the same cache.
func newAvroCodec(text string, refs []string) (*avroCodec, error) {
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if _, err := avro.ParseWithCache(r, "", cache); err != nil {
			return nil, fmt.Errorf("avro schema reference: %w", err)
		}
	}
	s, err := avro.ParseWithCache(text, "", cache)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	return &avroCodec{schema: s, fast: compileFast(s, 0)}, nil
}

func (c *avroCodec) wantsString() bool { return c.schema.Type() == avro.String }

func (c *avroCodec) index() []int { return nil }

func (c *avroCodec) encode(dst, doc []byte) ([]byte, error) {
	if c.fast != nil {
		w := writerPool.Get().(*avro.Writer)
		w.Reset(nil)
		ok := c.fast.encodeFast(w, doc) && w.Error == nil
		if ok {
			dst = append(dst, w.Buffer()...)
		}
		w.Error = nil
		writerPool.Put(w)
		if ok {
			return dst, nil
		}
	}
	return c.encodeGeneral(dst, doc)
}

// encodeGeneral is encode without the fast path: the JSON read into Go values, checked and
// converted by avroNative, written by iskorotkov/avro.
func (c *avroCodec) encodeGeneral(dst, doc []byte) ([]byte, error) {
	v, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	native, err := avroNative(c.schema, v, "")
	if err != nil {
		return nil, err
	}
	w := writerPool.Get().(*avro.Writer)
	defer writerPool.Put(w)
	w.Reset(nil)
	w.WriteVal(c.schema, native)
	if w.Error != nil {
		// avroNative checked every value against the schema: this is a value iskorotkov/avro refuses
		// for a reason it did not foresee. Still the payload's, not the registry's.
		err := w.Error
		w.Error = nil
		return nil, &InvalidError{Reason: err.Error()}
	}
	return append(dst, w.Buffer()...), nil
}

// writerPool holds iskorotkov/avro writers, so that encoding a record allocates no buffer.
var writerPool = sync.Pool{New: func() any { return avro.NewWriter(nil, 512) }}

// avroNative converts v, a JSON value decoded with numbers as json.Number, at path (a JSON
// Pointer) into the Go value iskorotkov/avro encodes as s, or returns an *InvalidError naming the
// path. Unions take the Avro JSON form {"branch": value} or a bare value, matched against
// the branches in order.
func avroNative(s avro.Schema, v any, path string) (any, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	bad := func(format string, args ...any) (any, error) {
		return nil, &InvalidError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return bad("want null, got %s", jsonKind(v))
		}
		return nil, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return bad("want a boolean, got %s", jsonKind(v))
		}
		return b, nil
	case avro.Int, avro.Long:
		if lt := logicalOf(s); lt == avro.TimestampMillis || lt == avro.TimestampMicros || lt == avro.Date || lt == avro.TimeMillis || lt == avro.TimeMicros {
			if str, ok := v.(string); ok {
				return avroTime(lt, str, path)
			}
		}
		n, ok := v.(json.Number)
		if !ok {
			return bad("want an integer, got %s", jsonKind(v))
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return bad("want an integer, got %s", n)
		}
		if s.Type() == avro.Int {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return bad("%d is out of range for int", i)
			}
			return int32(i), nil
		}
		if logicalOf(s) == avro.TimeMicros {
			return time.Duration(i) * time.Microsecond, nil // iskorotkov/avro reads an int64 here as a Duration
		}
		return i, nil
	case avro.Float, avro.Double:
		n, ok := v.(json.Number)
		if !ok {
			return bad("want a number, got %s", jsonKind(v))
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return bad("want a number, got %s", n)
		}
		if s.Type() == avro.Float {
			return float32(f), nil
		}
		return f, nil
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return bad("want a string, got %s", jsonKind(v))
		}
		return str, nil
	case avro.Bytes:
		if logicalOf(s) == avro.Decimal {
			return avroDecimal(v, path)
		}
		str, ok := v.(string)
		if !ok {
			return bad("want a string of bytes, got %s", jsonKind(v))
		}
		return avroBytes(str, path)
	case avro.Fixed:
		fs := s.(*avro.FixedSchema)
		str, ok := v.(string)
		if !ok {
			return bad("want a string of %d bytes, got %s", fs.Size(), jsonKind(v))
		}
		b, err := avroBytes(str, path)
		if err != nil {
			return nil, err
		}
		if len(b) != fs.Size() {
			return bad("want %d bytes, got %d", fs.Size(), len(b))
		}
		arr := reflect.New(reflect.ArrayOf(fs.Size(), reflect.TypeFor[byte]())).Elem()
		reflect.Copy(arr, reflect.ValueOf(b))
		return arr.Interface(), nil
	case avro.Enum:
		es := s.(*avro.EnumSchema)
		str, ok := v.(string)
		if !ok {
			return bad("want one of the symbols of enum %s, got %s", es.FullName(), jsonKind(v))
		}
		for _, sym := range es.Symbols() {
			if sym == str {
				return str, nil
			}
		}
		return bad("%q is not a symbol of enum %s %q", str, es.FullName(), es.Symbols())
	case avro.Array:
		items, ok := v.([]any)
		if !ok {
			return bad("want an array, got %s", jsonKind(v))
		}
		elem := s.(*avro.ArraySchema).Items()
		for i, item := range items { // converted in place: the decoded document is ours
			var err error
			if items[i], err = avroNative(elem, item, path+"/"+strconv.Itoa(i)); err != nil {
				return nil, err
			}
		}
		return items, nil
	case avro.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want an object, got %s", jsonKind(v))
		}
		elem := s.(*avro.MapSchema).Values()
		for k, item := range obj {
			nv, err := avroNative(elem, item, path+"/"+pointerToken(k))
			if err != nil {
				return nil, err
			}
			obj[k] = nv
		}
		return obj, nil
	case avro.Record:
		return avroRecord(s.(*avro.RecordSchema), v, path)
	case avro.Union:
		return avroUnion(s.(*avro.UnionSchema), v, path)
	}
	return bad("avro type %s is not supported", s.Type())
}

// avroRecord converts a JSON object to a record's map: every field of the schema from the
// member of its name; an absent field takes its default (iskorotkov/avro writes it), or null when its
// type is a nullable union; a member the schema has no field for does not fit.
func avroRecord(rs *avro.RecordSchema, v any, path string) (any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &InvalidError{Path: path, Reason: fmt.Sprintf("want an object (record %s), got %s", rs.FullName(), jsonKind(v))}
	}
	seen := 0
	for _, f := range rs.Fields() {
		fv, present := obj[f.Name()]
		if !present {
			if f.HasDefault() {
				continue
			}
			if u, ok := f.Type().(*avro.UnionSchema); ok && u.Nullable() {
				obj[f.Name()] = map[string]any{"null": nil}
				continue
			}
			return nil, &InvalidError{Path: path + "/" + pointerToken(f.Name()), Reason: "required field is missing"}
		}
		seen++
		nv, err := avroNative(f.Type(), fv, path+"/"+pointerToken(f.Name()))
		if err != nil {
			return nil, err
		}
		obj[f.Name()] = nv // converted in place: the decoded document is ours
	}
	if seen < len(obj) {
		for k := range obj {
			if !hasField(rs, k) {
				return nil, &InvalidError{Path: path + "/" + pointerToken(k), Reason: "field is not in record " + rs.FullName()}
			}
		}
	}
	return obj, nil
}

func hasField(rs *avro.RecordSchema, name string) bool {
	for _, f := range rs.Fields() {
		if f.Name() == name {
			return true
		}
	}
	return false
}

// avroUnion picks the branch of u that v is: the Avro JSON form {"branch": value} names it,
// a bare value takes the first branch it fits. iskorotkov/avro encodes a union from a map of the
// branch's name to the value.
func avroUnion(u *avro.UnionSchema, v any, path string) (any, error) {
	if obj, ok := v.(map[string]any); ok && len(obj) == 1 {
		for name, inner := range obj {
			if b, _ := u.Types().Get(name); b != nil {
				if nv, err := avroNative(b, inner, path+"/"+pointerToken(name)); err == nil {
					return map[string]any{name: nv}, nil
				}
			}
		}
	}
	var nonNull error
	for _, b := range u.Types() {
		nv, err := avroNative(b, v, path)
		if err == nil {
			return map[string]any{branchName(b): nv}, nil
		}
		if b.Type() != avro.Null && nonNull == nil {
			nonNull = err
		}
	}
	if len(u.Types()) == 2 && u.Nullable() && nonNull != nil {
		return nil, nonNull // a nullable field: the other branch's reason says more
	}
	names := make([]string, len(u.Types()))
	for i, b := range u.Types() {
		names[i] = branchName(b)
	}
	return nil, &InvalidError{Path: path, Reason: fmt.Sprintf("fits no branch of union %q", names)}
}

// branchName is the name iskorotkov/avro gives a union branch: a named type's full name, otherwise
// the type, with ".logicalType" when it has one.
func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if lt := logicalOf(s); lt != "" {
		name += "." + string(lt)
	}
	return name
}

func logicalOf(s avro.Schema) avro.LogicalType {
	ls, ok := s.(avro.LogicalTypeSchema)
	if !ok || ls.Logical() == nil {
		return ""
	}
	return ls.Logical().Type()
}

// avroTime converts an RFC 3339 timestamp (or date, or time of day) to the integer the
// logical type lt counts.
func avroTime(lt avro.LogicalType, s, path string) (any, error) {
	bad := func() (any, error) {
		return nil, &InvalidError{Path: path, Reason: fmt.Sprintf("want a number or an RFC 3339 %s, got %q", lt, s)}
	}
	switch lt {
	case avro.Date:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad()
		}
		return int32(t.Unix() / 86400), nil
	case avro.TimeMillis, avro.TimeMicros:
		t, err := time.Parse("15:04:05.999999999", s)
		if err != nil {
			return bad()
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
			time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
		if lt == avro.TimeMillis {
			return int32(d.Milliseconds()), nil
		}
		return d.Truncate(time.Microsecond), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return bad()
	}
	if lt == avro.TimestampMillis {
		return t.UnixMilli(), nil
	}
	return t.UnixMicro(), nil
}

// avroDecimal reads a decimal from a JSON number or string.
func avroDecimal(v any, path string) (any, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	default:
		return nil, &InvalidError{Path: path, Reason: "want a decimal number, got " + jsonKind(v)}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, &InvalidError{Path: path, Reason: fmt.Sprintf("want a decimal number, got %q", s)}
	}
	return r, nil
}

// avroBytes reads bytes as Avro's JSON encoding writes them: one code point 0-255 per byte.
func avroBytes(s, path string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, &InvalidError{Path: path, Reason: fmt.Sprintf("bytes are written one code point 0-255 per byte; %q is not", r)}
		}
		b = append(b, byte(r))
	}
	return b, nil
}
