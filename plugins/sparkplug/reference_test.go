// The sparkplug plugin's code before issue #4's allocation work, kept
// verbatim (sparkplug.go and pb.go, every top-level name prefixed with
// "ref", some comments dropped) as the reference for the differential tests in
// differential_test.go: the optimised handler must produce byte-identical
// outputs and identical errors.

package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

// Output modes.
const (
	refModePayload = "payload" // one JSON record per Sparkplug payload (the default)
	refModeMetric  = "metric"  // one JSON record per metric
)

// namespace is the Sparkplug B topic namespace.
const refNamespace = "spBv1.0"

// config is the stage configuration; see README.md.
type refConfig struct {
	// Mode is payload or metric.
	Mode string `json:"mode"`
}

var refPerMetric bool

func refConfigure([]byte) error {
	var c refConfig
	if err := sdk.Config(&c); err != nil {
		return err
	}
	switch c.Mode {
	case "", refModePayload:
		refPerMetric = false
	case refModeMetric:
		refPerMetric = true
	default:
		return fmt.Errorf("config: mode %q: want payload or metric", c.Mode)
	}
	return nil
}

// topic is a parsed Sparkplug topic.
type refTopic struct {
	msgType, group, node, device, host string
	legacyState                        bool // STATE/<host> (Sparkplug 2.x)
}

// nodeTypes and deviceTypes are the message types of the spBv1.0 namespace
// with a payload; the first need 4 topic levels, the second 5.
var (
	refNodeTypes   = map[string]bool{"NBIRTH": true, "NDEATH": true, "NDATA": true, "NCMD": true}
	refDeviceTypes = map[string]bool{"DBIRTH": true, "DDEATH": true, "DDATA": true, "DCMD": true}
)

// parseTopic splits a Sparkplug B topic:
// spBv1.0/GROUP/TYPE/NODE[/DEVICE], spBv1.0/STATE/HOST or STATE/HOST.
func refParseTopic(s string) (refTopic, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 2 && parts[0] == "STATE":
		return refTopic{msgType: "STATE", host: parts[1], legacyState: true}, nil
	case len(parts) == 3 && parts[0] == refNamespace && parts[1] == "STATE":
		return refTopic{msgType: "STATE", host: parts[2]}, nil
	case len(parts) == 4 && parts[0] == refNamespace && refNodeTypes[parts[2]]:
		return refTopic{group: parts[1], msgType: parts[2], node: parts[3]}, nil
	case len(parts) == 5 && parts[0] == refNamespace && refDeviceTypes[parts[2]]:
		return refTopic{group: parts[1], msgType: parts[2], node: parts[3], device: parts[4]}, nil
	}
	return refTopic{}, fmt.Errorf("sparkplug: topic %q is not spBv1.0/GROUP/TYPE/NODE[/DEVICE] with a known TYPE, spBv1.0/STATE/HOST or STATE/HOST", s)
}

// metric is one decoded Metric message.
type refMetric struct {
	name                  []byte
	alias, ts             uint64
	datatype              uint32
	hasName, hasAlias     bool
	hasTS                 bool
	historical, transient bool
	isNull                bool
	metadata, properties  []byte // raw messages, nil when absent
	hasMetadata, hasProps bool
	value                 refScalar
}

// payload is one decoded Payload message.
type refPayload struct {
	ts, seq                         uint64
	hasTS, hasSeq, hasUUID, hasBody bool
	uuid, body                      []byte
	metrics                         []refMetric
}

// metricValueKinds maps Metric's value field numbers (10..19) to kinds.
var refMetricValueKinds = [...]refScalarKind{10: refKInt, 11: refKLong, 12: refKFloat, 13: refKDouble, 14: refKBool, 15: refKString,
	16: refKBytes, 17: refKDataSet, 18: refKTemplate, 19: refKExtension}

func refDecodePayload(b []byte, p *refPayload) error {
	*p = refPayload{metrics: p.metrics[:0]}
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return err
		}
		switch num {
		case 1:
			if err = refWant(num, wt, refWireVarint); err == nil {
				p.ts, err = r.varint()
				p.hasTS = true
			}
		case 2:
			var raw []byte
			if err = refWant(num, wt, refWireBytes); err == nil {
				raw, err = r.bytes()
			}
			if err == nil {
				p.metrics = append(p.metrics, refMetric{})
				if err = refDecodeMetric(raw, &p.metrics[len(p.metrics)-1]); err != nil {
					err = fmt.Errorf("metric %d: %w", len(p.metrics)-1, err)
				}
			}
		case 3:
			if err = refWant(num, wt, refWireVarint); err == nil {
				p.seq, err = r.varint()
				p.hasSeq = true
			}
		case 4:
			if err = refWant(num, wt, refWireBytes); err == nil {
				p.uuid, err = r.bytes()
				p.hasUUID = true
			}
		case 5:
			if err = refWant(num, wt, refWireBytes); err == nil {
				p.body, err = r.bytes()
				p.hasBody = true
			}
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func refDecodeMetric(b []byte, m *refMetric) error {
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return err
		}
		var v uint64
		switch {
		case num == 1:
			if err = refWant(num, wt, refWireBytes); err == nil {
				m.name, err = r.bytes()
				m.hasName = true
			}
		case num >= 2 && num <= 7:
			if err = refWant(num, wt, refWireVarint); err == nil {
				v, err = r.varint()
			}
			switch num {
			case 2:
				m.alias, m.hasAlias = v, true
			case 3:
				m.ts, m.hasTS = v, true
			case 4:
				m.datatype = uint32(v)
			case 5:
				m.historical = v != 0
			case 6:
				m.transient = v != 0
			case 7:
				m.isNull = v != 0
			}
		case num == 8 || num == 9:
			var raw []byte
			if err = refWant(num, wt, refWireBytes); err == nil {
				raw, err = r.bytes()
			}
			if num == 8 {
				m.metadata, m.hasMetadata = raw, true
			} else {
				m.properties, m.hasProps = raw, true
			}
		case num >= 10 && num <= 19:
			m.value, err = r.readScalar(num, wt, refMetricValueKinds[num])
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// handle decodes one Sparkplug message into one or more JSON records.
func refHandle(m *sdk.Message) ([]*sdk.Message, error) {
	t, err := refParseTopic(m.Topic())
	if err != nil {
		return nil, err
	}
	if t.msgType == "STATE" {
		out, err := refAppendState(make([]byte, 0, 128+len(m.Payload())), t, m.Payload())
		if err != nil {
			return nil, err
		}
		m.SetPayload(out)
		return sdk.One(m), nil
	}
	if err := refDecodePayload(m.Payload(), &refScratch); err != nil {
		return nil, fmt.Errorf("sparkplug: %s payload: %w", t.msgType, err)
	}
	if !refPerMetric {
		out, err := refAppendPayload(make([]byte, 0, 256+4*len(m.Payload())), t, &refScratch)
		if err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		m.SetPayload(out)
		return sdk.One(m), nil
	}
	outs := make([]*sdk.Message, 0, len(refScratch.metrics))
	buf := make([]byte, 0, 256*len(refScratch.metrics)+4*len(m.Payload()))
	for i := range refScratch.metrics {
		start := len(buf)
		buf = refAppendHeader(buf, t)
		if buf, err = refAppendMetricRecord(buf, &refScratch, &refScratch.metrics[i]); err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		c := m.Clone()
		c.SetPayload(buf[start:len(buf):len(buf)])
		outs = append(outs, c)
	}
	return outs, nil
}

// scratch is reused between messages: an instance is single-threaded.
var refScratch refPayload

// appendState renders a STATE message: Sparkplug 3.0 sends a JSON object,
// 2.x the text ONLINE or OFFLINE.
func refAppendState(dst []byte, t refTopic, body []byte) ([]byte, error) {
	if !t.legacyState {
		dst = refAppendMember(dst, '{', "namespace")
		dst = refAppendString(dst, refNamespace)
	}
	dst = refAppendMember(dst, refSep(t.legacyState), "message_type")
	dst = refAppendString(dst, "STATE")
	dst = refAppendMember(dst, ',', "host_id")
	dst = refAppendString(dst, t.host)
	dst = refAppendMember(dst, ',', "state")
	if t.legacyState {
		dst = refAppendString(dst, string(body))
		return append(dst, '}'), nil
	}
	v, err := jsonfield.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("sparkplug: STATE payload is not JSON: %w", err)
	}
	return append(append(dst, v.Raw()...), '}'), nil
}

// sep returns '{' for the first member of an object, ',' after.
func refSep(first bool) byte {
	if first {
		return '{'
	}
	return ','
}

// appendHeader opens a record with the topic's fields.
func refAppendHeader(dst []byte, t refTopic) []byte {
	dst = refAppendMember(dst, '{', "namespace")
	dst = refAppendString(dst, refNamespace)
	dst = refAppendMember(dst, ',', "group_id")
	dst = refAppendString(dst, t.group)
	dst = refAppendMember(dst, ',', "message_type")
	dst = refAppendString(dst, t.msgType)
	dst = refAppendMember(dst, ',', "edge_node_id")
	dst = refAppendString(dst, t.node)
	if t.device != "" {
		dst = refAppendMember(dst, ',', "device_id")
		dst = refAppendString(dst, t.device)
	}
	return dst
}

func refAppendPayload(dst []byte, t refTopic, p *refPayload) ([]byte, error) {
	dst = refAppendHeader(dst, t)
	if p.hasTS {
		dst = strconv.AppendUint(refAppendMember(dst, ',', "timestamp"), p.ts, 10)
	}
	if p.hasSeq {
		dst = strconv.AppendUint(refAppendMember(dst, ',', "seq"), p.seq, 10)
	}
	if p.hasUUID {
		dst = refAppendString(refAppendMember(dst, ',', "uuid"), string(p.uuid))
	}
	if p.hasBody {
		dst = refAppendBase64(refAppendMember(dst, ',', "body"), p.body)
	}
	dst = append(refAppendMember(dst, ',', "metrics"), '[')
	var err error
	for i := range p.metrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if dst, err = refAppendMetric(dst, &p.metrics[i], 0, false); err != nil {
			return nil, err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']', '}'), nil
}

// appendMetricRecord completes a per-metric record opened by appendHeader.
func refAppendMetricRecord(dst []byte, p *refPayload, m *refMetric) ([]byte, error) {
	if p.hasSeq {
		dst = strconv.AppendUint(refAppendMember(dst, ',', "seq"), p.seq, 10)
	}
	if p.hasTS {
		dst = strconv.AppendUint(refAppendMember(dst, ',', "payload_timestamp"), p.ts, 10)
	}
	dst, err := refAppendMetric(dst, m, p.ts, p.hasTS)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// appendMetric appends a metric's members (no braces), each preceded by a
// comma unless dst ends with '{'. A metric without a timestamp gets ts
// when hasTS is set (per-metric records inherit the payload's).
func refAppendMetric(dst []byte, m *refMetric, ts uint64, hasTS bool) ([]byte, error) {
	first := len(dst) > 0 && dst[len(dst)-1] == '{'
	member := func(name string) {
		if first {
			dst = refAppendMember(dst, 0, name)
			first = false
			return
		}
		dst = refAppendMember(dst, ',', name)
	}
	if m.hasName {
		member("name")
		dst = refAppendString(dst, string(m.name))
	}
	if m.hasAlias {
		member("alias")
		dst = strconv.AppendUint(dst, m.alias, 10)
	}
	switch {
	case m.hasTS:
		member("timestamp")
		dst = strconv.AppendUint(dst, m.ts, 10)
	case hasTS:
		member("timestamp")
		dst = strconv.AppendUint(dst, ts, 10)
	}
	member("datatype")
	dst = refAppendString(dst, refDatatypeName(m.datatype))
	if m.historical {
		member("is_historical")
		dst = append(dst, "true"...)
	}
	if m.transient {
		member("is_transient")
		dst = append(dst, "true"...)
	}
	if m.isNull {
		member("is_null")
		dst = append(dst, "true"...)
	}
	member("value")
	var err error
	if m.isNull {
		dst = append(dst, "null"...)
	} else if dst, err = refAppendValue(dst, m.datatype, m.value); err != nil {
		return nil, fmt.Errorf("metric %s: %w", refMetricID(m), err)
	}
	if m.hasProps {
		member("properties")
		if dst, err = refAppendPropertySet(dst, m.properties, 0); err != nil {
			return nil, fmt.Errorf("metric %s: properties: %w", refMetricID(m), err)
		}
	}
	if m.hasMetadata {
		member("metadata")
		if dst, err = refAppendMetadata(dst, m.metadata); err != nil {
			return nil, fmt.Errorf("metric %s: metadata: %w", refMetricID(m), err)
		}
	}
	return dst, nil
}

func refMetricID(m *refMetric) string {
	if m.hasName {
		return strconv.Quote(string(m.name))
	}
	return "alias " + strconv.FormatUint(m.alias, 10)
}

var refDatatypeNames = [...]string{"Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
	"UInt64", "Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes", "File",
	"Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array", "Int32Array", "Int64Array",
	"UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array", "FloatArray", "DoubleArray", "BooleanArray",
	"StringArray", "DateTimeArray"}

// Sparkplug datatypes used by the decoder.
const (
	refDtInt8    = 1
	refDtInt16   = 2
	refDtInt32   = 3
	refDtInt64   = 4
	refDtInt8Arr = 22
	refDtDTArr   = 34
)

func refDatatypeName(dt uint32) string {
	if int(dt) < len(refDatatypeNames) {
		return refDatatypeNames[dt]
	}
	return "Unknown(" + strconv.FormatUint(uint64(dt), 10) + ")"
}

// appendValue renders s as JSON according to datatype dt: signed types are
// sign-converted from their unsigned wire fields, bytes become base64,
// array types are unpacked from their little-endian bytes. A value whose
// field does not fit dt is rendered by its field's own type.
func refAppendValue(dst []byte, dt uint32, s refScalar) ([]byte, error) {
	switch s.kind {
	case refKNone:
		return append(dst, "null"...), nil
	case refKInt, refKLong:
		switch dt {
		case refDtInt8:
			return strconv.AppendInt(dst, int64(int8(s.u)), 10), nil
		case refDtInt16:
			return strconv.AppendInt(dst, int64(int16(s.u)), 10), nil
		case refDtInt32:
			return strconv.AppendInt(dst, int64(int32(s.u)), 10), nil
		case refDtInt64:
			return strconv.AppendInt(dst, int64(s.u), 10), nil
		}
		return strconv.AppendUint(dst, s.u, 10), nil
	case refKFloat:
		return refAppendFloat(dst, s.f, 32), nil
	case refKDouble:
		return refAppendFloat(dst, s.f, 64), nil
	case refKBool:
		return strconv.AppendBool(dst, s.u != 0), nil
	case refKString:
		return refAppendString(dst, string(s.b)), nil
	case refKBytes:
		if dt >= refDtInt8Arr && dt <= refDtDTArr {
			return refAppendArray(dst, dt, s.b)
		}
		return refAppendBase64(dst, s.b), nil
	case refKDataSet:
		return refAppendDataSet(dst, s.b)
	case refKPropertySet:
		return refAppendPropertySet(dst, s.b, 1)
	case refKPropertySetList:
		return refAppendPropertySetList(dst, s.b, 1)
	case refKTemplate:
		return nil, errors.New("Template values are not supported (only their metrics' datatype is reported)")
	}
	return nil, errors.New("extension values are not supported")
}

// appendFloat renders f; NaN and infinities, which JSON cannot hold, become
// the strings "NaN", "+Inf" and "-Inf".
func refAppendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return refAppendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendArray unpacks a Sparkplug array value (datatypes 22..34).
func refAppendArray(dst []byte, dt uint32, b []byte) ([]byte, error) {
	size := map[uint32]int{22: 1, 23: 2, 24: 4, 25: 8, 26: 1, 27: 2, 28: 4, 29: 8, 30: 4, 31: 8, 34: 8}[dt]
	dst = append(dst, '[')
	switch {
	case dt == 32:
		if len(b) < 4 {
			return nil, errors.New("BooleanArray shorter than its count")
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4)*8 {
			return nil, fmt.Errorf("BooleanArray of %d values in %d bytes", n, len(b)-4)
		}
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendBool(dst, b[4+i/8]&(0x80>>(i%8)) != 0)
		}
	case dt == 33:
		for i := 0; len(b) > 0; i++ {
			end := 0
			for end < len(b) && b[end] != 0 {
				end++
			}
			if end == len(b) {
				return nil, errors.New("StringArray without a final NUL")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = refAppendString(dst, string(b[:end]))
			b = b[end+1:]
		}
	default:
		if len(b)%size != 0 {
			return nil, fmt.Errorf("%s of %d bytes is not a multiple of %d", refDatatypeName(dt), len(b), size)
		}
		for i := 0; i < len(b); i += size {
			if i > 0 {
				dst = append(dst, ',')
			}
			e := b[i : i+size]
			switch dt {
			case 22:
				dst = strconv.AppendInt(dst, int64(int8(e[0])), 10)
			case 23:
				dst = strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(e))), 10)
			case 24:
				dst = strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(e))), 10)
			case 25:
				dst = strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(e)), 10)
			case 26:
				dst = strconv.AppendUint(dst, uint64(e[0]), 10)
			case 27:
				dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(e)), 10)
			case 28:
				dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(e)), 10)
			case 29, 34:
				dst = strconv.AppendUint(dst, binary.LittleEndian.Uint64(e), 10)
			case 30:
				dst = refAppendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(e))), 32)
			case 31:
				dst = refAppendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(e)), 64)
			}
		}
	}
	return append(dst, ']'), nil
}

// maxNesting bounds property-set recursion so hostile input cannot exhaust
// the stack.
const refMaxNesting = 32

// propertyValueKinds maps PropertyValue's value fields (3..11) to kinds.
var refPropertyValueKinds = [...]refScalarKind{3: refKInt, 4: refKLong, 5: refKFloat, 6: refKDouble, 7: refKBool, 8: refKString,
	9: refKPropertySet, 10: refKPropertySetList, 11: refKExtension}

// appendPropertySet renders a PropertySet as {"key":{"type":T,"value":V},…}.
func refAppendPropertySet(dst []byte, b []byte, depth int) ([]byte, error) {
	if depth > refMaxNesting {
		return nil, errors.New("property sets nested too deeply")
	}
	var keys, values [][]byte
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		var v []byte
		switch num {
		case 1, 2:
			if err = refWant(num, wt, refWireBytes); err == nil {
				v, err = r.bytes()
			}
			if num == 1 {
				keys = append(keys, v)
			} else {
				values = append(values, v)
			}
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(keys) != len(values) {
		return nil, fmt.Errorf("%d keys for %d values", len(keys), len(values))
	}
	for i, k := range keys {
		dst = refAppendString(append(dst, refSep(i == 0)), string(k))
		dst = append(dst, ':')
		var err error
		if dst, err = refAppendPropertyValue(dst, values[i], depth); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
	}
	if len(keys) == 0 {
		dst = append(dst, '{')
	}
	return append(dst, '}'), nil
}

func refAppendPropertyValue(dst []byte, b []byte, depth int) ([]byte, error) {
	var (
		dt     uint32
		isNull bool
		val    refScalar
	)
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		var v uint64
		switch {
		case num == 1 || num == 2:
			if err = refWant(num, wt, refWireVarint); err == nil {
				v, err = r.varint()
			}
			if num == 1 {
				dt = uint32(v)
			} else {
				isNull = v != 0
			}
		case num >= 3 && num <= 11:
			val, err = r.readScalar(num, wt, refPropertyValueKinds[num])
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	dst = refAppendString(refAppendMember(dst, '{', "type"), refDatatypeName(dt))
	dst = refAppendMember(dst, ',', "value")
	if isNull {
		return append(dst, "null}"...), nil
	}
	var err error
	switch val.kind {
	case refKPropertySet:
		dst, err = refAppendPropertySet(dst, val.b, depth+1)
	case refKPropertySetList:
		dst, err = refAppendPropertySetList(dst, val.b, depth+1)
	default:
		dst, err = refAppendValue(dst, dt, val)
	}
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

func refAppendPropertySetList(dst []byte, b []byte, depth int) ([]byte, error) {
	dst = append(dst, '[')
	r := refPbReader{b}
	for i := 0; !r.done(); {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if num != 1 {
			if err = r.skip(wt); err != nil {
				return nil, err
			}
			continue
		}
		var set []byte
		if err = refWant(num, wt, refWireBytes); err == nil {
			set, err = r.bytes()
		}
		if err != nil {
			return nil, err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = refAppendPropertySet(dst, set, depth+1); err != nil {
			return nil, err
		}
		i++
	}
	return append(dst, ']'), nil
}

// appendMetadata renders a MetaData message's present fields.
func refAppendMetadata(dst []byte, b []byte) ([]byte, error) {
	names := [...]string{1: "is_multi_part", 2: "content_type", 3: "size", 4: "seq", 5: "file_name",
		6: "file_type", 7: "md5", 8: "description"}
	first := true
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if num == 0 || num >= uint64(len(names)) {
			if err = r.skip(wt); err != nil {
				return nil, err
			}
			continue
		}
		dst = refAppendMember(dst, refSep(first), names[num])
		first = false
		switch num {
		case 1, 3, 4:
			var v uint64
			if err = refWant(num, wt, refWireVarint); err == nil {
				v, err = r.varint()
			}
			if num == 1 {
				dst = strconv.AppendBool(dst, v != 0)
			} else {
				dst = strconv.AppendUint(dst, v, 10)
			}
		default:
			var s []byte
			if err = refWant(num, wt, refWireBytes); err == nil {
				s, err = r.bytes()
			}
			dst = refAppendString(dst, string(s))
		}
		if err != nil {
			return nil, err
		}
	}
	if first {
		dst = append(dst, '{')
	}
	return append(dst, '}'), nil
}

// dataSetValueKinds maps DataSetValue's fields (1..7) to kinds.
var refDataSetValueKinds = [...]refScalarKind{1: refKInt, 2: refKLong, 3: refKFloat, 4: refKDouble, 5: refKBool, 6: refKString, 7: refKExtension}

// appendDataSet renders a DataSet as {"columns":[…],"types":[…],"rows":[[…],…]};
// each cell is typed by its column's datatype.
func refAppendDataSet(dst []byte, b []byte) ([]byte, error) {
	var (
		columns [][]byte
		types   []uint32
		rows    [][]byte
	)
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		switch num {
		case 2, 4:
			var v []byte
			if err = refWant(num, wt, refWireBytes); err == nil {
				v, err = r.bytes()
			}
			if num == 2 {
				columns = append(columns, v)
			} else {
				rows = append(rows, v)
			}
		case 3:
			if wt == refWireBytes {
				var packed []byte
				if packed, err = r.bytes(); err == nil {
					pr := refPbReader{packed}
					for !pr.done() && err == nil {
						var v uint64
						v, err = pr.varint()
						types = append(types, uint32(v))
					}
				}
			} else if err = refWant(num, wt, refWireVarint); err == nil {
				var v uint64
				v, err = r.varint()
				types = append(types, uint32(v))
			}
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	dst = append(refAppendMember(dst, '{', "columns"), '[')
	for i, c := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = refAppendString(dst, string(c))
	}
	dst = append(append(dst, ']'), `,"types":[`...)
	for i, t := range types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = refAppendString(dst, refDatatypeName(t))
	}
	dst = append(append(dst, ']'), `,"rows":[`...)
	for i, row := range rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		rr := refPbReader{row}
		for col := 0; !rr.done(); {
			num, wt, err := rr.next()
			if err != nil {
				return nil, err
			}
			if num != 1 {
				if err = rr.skip(wt); err != nil {
					return nil, err
				}
				continue
			}
			var cell []byte
			if err = refWant(num, wt, refWireBytes); err == nil {
				cell, err = rr.bytes()
			}
			if err != nil {
				return nil, err
			}
			var dt uint32
			if col < len(types) {
				dt = types[col]
			}
			if col > 0 {
				dst = append(dst, ',')
			}
			if dst, err = refAppendCell(dst, dt, cell); err != nil {
				return nil, fmt.Errorf("dataset row %d column %d: %w", i, col, err)
			}
			col++
		}
		dst = append(dst, ']')
	}
	return append(dst, ']', '}'), nil
}

func refAppendCell(dst []byte, dt uint32, b []byte) ([]byte, error) {
	val := refScalar{}
	r := refPbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if num >= 1 && num <= 7 {
			val, err = r.readScalar(num, wt, refDataSetValueKinds[num])
		} else {
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	return refAppendValue(dst, dt, val)
}

// appendMember appends the separator c (none when 0) and "name":.
func refAppendMember(dst []byte, c byte, name string) []byte {
	if c != 0 {
		dst = append(dst, c)
	}
	return append(refAppendString(dst, name), ':')
}

func refAppendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const refHexDigits = "0123456789abcdef"

// refAppendString appends s as a JSON string the way encoding/json writes it (\b, \f, \n, \r,
// \t by name); invalid UTF-8 becomes U+FFFD.
func refAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', refHexDigits[c>>4], refHexDigits[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	refWireVarint = 0
	refWire64     = 1
	refWireBytes  = 2
	refWire32     = 5
)

var refErrTruncated = errors.New("truncated protobuf")

// pbReader reads protobuf wire format from b. It never panics on malformed
// input: every read is bounds-checked and reports an error.
type refPbReader struct {
	b []byte
}

func (r *refPbReader) done() bool { return len(r.b) == 0 }

// next reads a field's tag.
func (r *refPbReader) next() (num uint64, wt int, err error) {
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

func (r *refPbReader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, refErrTruncated
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *refPbReader) fixed32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, refErrTruncated
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, nil
}

func (r *refPbReader) fixed64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, refErrTruncated
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

func (r *refPbReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, refErrTruncated
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b, nil
}

// skip skips a field of wire type wt (unknown fields are ignored, as
// protobuf parsers do).
func (r *refPbReader) skip(wt int) error {
	var err error
	switch wt {
	case refWireVarint:
		_, err = r.varint()
	case refWire64:
		_, err = r.fixed64()
	case refWireBytes:
		_, err = r.bytes()
	case refWire32:
		_, err = r.fixed32()
	default:
		err = fmt.Errorf("unsupported protobuf wire type %d", wt)
	}
	return err
}

// want checks a known field's wire type.
func refWant(num uint64, wt, expected int) error {
	if wt != expected {
		return fmt.Errorf("protobuf field %d: wire type %d, want %d", num, wt, expected)
	}
	return nil
}

// scalarKind says which oneof member of a Sparkplug value was present.
type refScalarKind uint8

const (
	refKNone            refScalarKind = iota
	refKInt                           // uint32 int_value
	refKLong                          // uint64 long_value
	refKFloat                         // float float_value
	refKDouble                        // double double_value
	refKBool                          // bool boolean_value
	refKString                        // string string_value
	refKBytes                         // bytes bytes_value
	refKDataSet                       // DataSet dataset_value (raw message)
	refKTemplate                      // Template template_value
	refKPropertySet                   // PropertySet (property values only)
	refKPropertySetList               // PropertySetList (property values only)
	refKExtension                     // an extension value
)

// scalar is one decoded Sparkplug value before its datatype is applied.
type refScalar struct {
	kind refScalarKind
	u    uint64  // kInt, kLong, kBool
	f    float64 // kFloat, kDouble
	b    []byte  // kString, kBytes and the nested messages
}

// readScalar decodes the value field of wire type wt as kind k.
func (r *refPbReader) readScalar(num uint64, wt int, k refScalarKind) (refScalar, error) {
	s := refScalar{kind: k}
	var err error
	switch k {
	case refKInt, refKLong, refKBool:
		if err = refWant(num, wt, refWireVarint); err == nil {
			s.u, err = r.varint()
		}
		if k == refKInt {
			s.u = uint64(uint32(s.u))
		}
	case refKFloat:
		var v uint32
		if err = refWant(num, wt, refWire32); err == nil {
			v, err = r.fixed32()
		}
		s.f = float64(math.Float32frombits(v))
	case refKDouble:
		var v uint64
		if err = refWant(num, wt, refWire64); err == nil {
			v, err = r.fixed64()
		}
		s.f = math.Float64frombits(v)
	default:
		if err = refWant(num, wt, refWireBytes); err == nil {
			s.b, err = r.bytes()
		}
	}
	return s, err
}
