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
	modePayload = "payload" // one JSON record per Sparkplug payload (the default)
	modeMetric  = "metric"  // one JSON record per metric
)

// namespace is the Sparkplug B topic namespace.
const namespace = "spBv1.0"

// config is the stage configuration; see README.md.
type config struct {
	// Mode is payload or metric.
	Mode string `json:"mode"`
}

var perMetric bool

func configure([]byte) error {
	var c config
	if err := sdk.Config(&c); err != nil {
		return err
	}
	switch c.Mode {
	case "", modePayload:
		perMetric = false
	case modeMetric:
		perMetric = true
	default:
		return fmt.Errorf("config: mode %q: want payload or metric", c.Mode)
	}
	return nil
}

// topic is a parsed Sparkplug topic.
type topic struct {
	msgType, group, node, device, host string
	legacyState                        bool // STATE/<host> (Sparkplug 2.x)
}

// nodeTypes and deviceTypes are the message types of the spBv1.0 namespace
// with a payload; the first need 4 topic levels, the second 5.
var (
	nodeTypes   = map[string]bool{"NBIRTH": true, "NDEATH": true, "NDATA": true, "NCMD": true}
	deviceTypes = map[string]bool{"DBIRTH": true, "DDEATH": true, "DDATA": true, "DCMD": true}
)

// parseTopic splits a Sparkplug B topic:
// spBv1.0/GROUP/TYPE/NODE[/DEVICE], spBv1.0/STATE/HOST or STATE/HOST.
func parseTopic(s string) (topic, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 2 && parts[0] == "STATE":
		return topic{msgType: "STATE", host: parts[1], legacyState: true}, nil
	case len(parts) == 3 && parts[0] == namespace && parts[1] == "STATE":
		return topic{msgType: "STATE", host: parts[2]}, nil
	case len(parts) == 4 && parts[0] == namespace && nodeTypes[parts[2]]:
		return topic{group: parts[1], msgType: parts[2], node: parts[3]}, nil
	case len(parts) == 5 && parts[0] == namespace && deviceTypes[parts[2]]:
		return topic{group: parts[1], msgType: parts[2], node: parts[3], device: parts[4]}, nil
	}
	return topic{}, fmt.Errorf("sparkplug: topic %q is not spBv1.0/GROUP/TYPE/NODE[/DEVICE] with a known TYPE, spBv1.0/STATE/HOST or STATE/HOST", s)
}

// metric is one decoded Metric message.
type metric struct {
	name                  []byte
	alias, ts             uint64
	datatype              uint32
	hasName, hasAlias     bool
	hasTS                 bool
	historical, transient bool
	isNull                bool
	metadata, properties  []byte // raw messages, nil when absent
	hasMetadata, hasProps bool
	value                 scalar
}

// payload is one decoded Payload message.
type payload struct {
	ts, seq                         uint64
	hasTS, hasSeq, hasUUID, hasBody bool
	uuid, body                      []byte
	metrics                         []metric
}

// metricValueKinds maps Metric's value field numbers (10..19) to kinds.
var metricValueKinds = [...]scalarKind{10: kInt, 11: kLong, 12: kFloat, 13: kDouble, 14: kBool, 15: kString,
	16: kBytes, 17: kDataSet, 18: kTemplate, 19: kExtension}

func decodePayload(b []byte, p *payload) error {
	*p = payload{metrics: p.metrics[:0]}
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return err
		}
		switch num {
		case 1:
			if err = want(num, wt, wireVarint); err == nil {
				p.ts, err = r.varint()
				p.hasTS = true
			}
		case 2:
			var raw []byte
			if err = want(num, wt, wireBytes); err == nil {
				raw, err = r.bytes()
			}
			if err == nil {
				p.metrics = append(p.metrics, metric{})
				if err = decodeMetric(raw, &p.metrics[len(p.metrics)-1]); err != nil {
					err = fmt.Errorf("metric %d: %w", len(p.metrics)-1, err)
				}
			}
		case 3:
			if err = want(num, wt, wireVarint); err == nil {
				p.seq, err = r.varint()
				p.hasSeq = true
			}
		case 4:
			if err = want(num, wt, wireBytes); err == nil {
				p.uuid, err = r.bytes()
				p.hasUUID = true
			}
		case 5:
			if err = want(num, wt, wireBytes); err == nil {
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

func decodeMetric(b []byte, m *metric) error {
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return err
		}
		var v uint64
		switch {
		case num == 1:
			if err = want(num, wt, wireBytes); err == nil {
				m.name, err = r.bytes()
				m.hasName = true
			}
		case num >= 2 && num <= 7:
			if err = want(num, wt, wireVarint); err == nil {
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
			if err = want(num, wt, wireBytes); err == nil {
				raw, err = r.bytes()
			}
			if num == 8 {
				m.metadata, m.hasMetadata = raw, true
			} else {
				m.properties, m.hasProps = raw, true
			}
		case num >= 10 && num <= 19:
			m.value, err = r.readScalar(num, wt, metricValueKinds[num])
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
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	t, err := parseTopic(m.Topic())
	if err != nil {
		return nil, err
	}
	if t.msgType == "STATE" {
		out, err := appendState(make([]byte, 0, 128+len(m.Payload())), t, m.Payload())
		if err != nil {
			return nil, err
		}
		m.SetPayload(out)
		return sdk.One(m), nil
	}
	if err := decodePayload(m.Payload(), &scratch); err != nil {
		return nil, fmt.Errorf("sparkplug: %s payload: %w", t.msgType, err)
	}
	if !perMetric {
		out, err := appendPayload(make([]byte, 0, 256+4*len(m.Payload())), t, &scratch)
		if err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		m.SetPayload(out)
		return sdk.One(m), nil
	}
	outs := make([]*sdk.Message, 0, len(scratch.metrics))
	buf := make([]byte, 0, 256*len(scratch.metrics)+4*len(m.Payload()))
	for i := range scratch.metrics {
		start := len(buf)
		buf = appendHeader(buf, t)
		if buf, err = appendMetricRecord(buf, &scratch, &scratch.metrics[i]); err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		c := m.Clone()
		c.SetPayload(buf[start:len(buf):len(buf)])
		outs = append(outs, c)
	}
	return outs, nil
}

// scratch is reused between messages: an instance is single-threaded.
var scratch payload

// appendState renders a STATE message: Sparkplug 3.0 sends a JSON object,
// 2.x the text ONLINE or OFFLINE.
func appendState(dst []byte, t topic, body []byte) ([]byte, error) {
	if !t.legacyState {
		dst = appendMember(dst, '{', "namespace")
		dst = appendString(dst, namespace)
	}
	dst = appendMember(dst, sep(t.legacyState), "message_type")
	dst = appendString(dst, "STATE")
	dst = appendMember(dst, ',', "host_id")
	dst = appendString(dst, t.host)
	dst = appendMember(dst, ',', "state")
	if t.legacyState {
		dst = appendString(dst, string(body))
		return append(dst, '}'), nil
	}
	v, err := jsonfield.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("sparkplug: STATE payload is not JSON: %w", err)
	}
	return append(append(dst, v.Raw()...), '}'), nil
}

// sep returns '{' for the first member of an object, ',' after.
func sep(first bool) byte {
	if first {
		return '{'
	}
	return ','
}

// appendHeader opens a record with the topic's fields.
func appendHeader(dst []byte, t topic) []byte {
	dst = appendMember(dst, '{', "namespace")
	dst = appendString(dst, namespace)
	dst = appendMember(dst, ',', "group_id")
	dst = appendString(dst, t.group)
	dst = appendMember(dst, ',', "message_type")
	dst = appendString(dst, t.msgType)
	dst = appendMember(dst, ',', "edge_node_id")
	dst = appendString(dst, t.node)
	if t.device != "" {
		dst = appendMember(dst, ',', "device_id")
		dst = appendString(dst, t.device)
	}
	return dst
}

func appendPayload(dst []byte, t topic, p *payload) ([]byte, error) {
	dst = appendHeader(dst, t)
	if p.hasTS {
		dst = strconv.AppendUint(appendMember(dst, ',', "timestamp"), p.ts, 10)
	}
	if p.hasSeq {
		dst = strconv.AppendUint(appendMember(dst, ',', "seq"), p.seq, 10)
	}
	if p.hasUUID {
		dst = appendString(appendMember(dst, ',', "uuid"), string(p.uuid))
	}
	if p.hasBody {
		dst = appendBase64(appendMember(dst, ',', "body"), p.body)
	}
	dst = append(appendMember(dst, ',', "metrics"), '[')
	var err error
	for i := range p.metrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if dst, err = appendMetric(dst, &p.metrics[i], 0, false); err != nil {
			return nil, err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']', '}'), nil
}

// appendMetricRecord completes a per-metric record opened by appendHeader.
func appendMetricRecord(dst []byte, p *payload, m *metric) ([]byte, error) {
	if p.hasSeq {
		dst = strconv.AppendUint(appendMember(dst, ',', "seq"), p.seq, 10)
	}
	if p.hasTS {
		dst = strconv.AppendUint(appendMember(dst, ',', "payload_timestamp"), p.ts, 10)
	}
	dst, err := appendMetric(dst, m, p.ts, p.hasTS)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// appendMetric appends a metric's members (no braces), each preceded by a
// comma unless dst ends with '{'. A metric without a timestamp gets ts
// when hasTS is set (per-metric records inherit the payload's).
func appendMetric(dst []byte, m *metric, ts uint64, hasTS bool) ([]byte, error) {
	first := len(dst) > 0 && dst[len(dst)-1] == '{'
	member := func(name string) {
		if first {
			dst = appendMember(dst, 0, name)
			first = false
			return
		}
		dst = appendMember(dst, ',', name)
	}
	if m.hasName {
		member("name")
		dst = appendString(dst, string(m.name))
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
	dst = appendString(dst, datatypeName(m.datatype))
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
	} else if dst, err = appendValue(dst, m.datatype, m.value); err != nil {
		return nil, fmt.Errorf("metric %s: %w", metricID(m), err)
	}
	if m.hasProps {
		member("properties")
		if dst, err = appendPropertySet(dst, m.properties, 0); err != nil {
			return nil, fmt.Errorf("metric %s: properties: %w", metricID(m), err)
		}
	}
	if m.hasMetadata {
		member("metadata")
		if dst, err = appendMetadata(dst, m.metadata); err != nil {
			return nil, fmt.Errorf("metric %s: metadata: %w", metricID(m), err)
		}
	}
	return dst, nil
}

func metricID(m *metric) string {
	if m.hasName {
		return strconv.Quote(string(m.name))
	}
	return "alias " + strconv.FormatUint(m.alias, 10)
}

var datatypeNames = [...]string{"Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
	"UInt64", "Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes", "File",
	"Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array", "Int32Array", "Int64Array",
	"UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array", "FloatArray", "DoubleArray", "BooleanArray",
	"StringArray", "DateTimeArray"}

// Sparkplug datatypes used by the decoder.
const (
	dtInt8    = 1
	dtInt16   = 2
	dtInt32   = 3
	dtInt64   = 4
	dtInt8Arr = 22
	dtDTArr   = 34
)

func datatypeName(dt uint32) string {
	if int(dt) < len(datatypeNames) {
		return datatypeNames[dt]
	}
	return "Unknown(" + strconv.FormatUint(uint64(dt), 10) + ")"
}

// appendValue renders s as JSON according to datatype dt: signed types are
// sign-converted from their unsigned wire fields, bytes become base64,
// array types are unpacked from their little-endian bytes. A value whose
// field does not fit dt is rendered by its field's own type.
func appendValue(dst []byte, dt uint32, s scalar) ([]byte, error) {
	switch s.kind {
	case kNone:
		return append(dst, "null"...), nil
	case kInt, kLong:
		switch dt {
		case dtInt8:
			return strconv.AppendInt(dst, int64(int8(s.u)), 10), nil
		case dtInt16:
			return strconv.AppendInt(dst, int64(int16(s.u)), 10), nil
		case dtInt32:
			return strconv.AppendInt(dst, int64(int32(s.u)), 10), nil
		case dtInt64:
			return strconv.AppendInt(dst, int64(s.u), 10), nil
		}
		return strconv.AppendUint(dst, s.u, 10), nil
	case kFloat:
		return appendFloat(dst, s.f, 32), nil
	case kDouble:
		return appendFloat(dst, s.f, 64), nil
	case kBool:
		return strconv.AppendBool(dst, s.u != 0), nil
	case kString:
		return appendString(dst, string(s.b)), nil
	case kBytes:
		if dt >= dtInt8Arr && dt <= dtDTArr {
			return appendArray(dst, dt, s.b)
		}
		return appendBase64(dst, s.b), nil
	case kDataSet:
		return appendDataSet(dst, s.b)
	case kPropertySet:
		return appendPropertySet(dst, s.b, 1)
	case kPropertySetList:
		return appendPropertySetList(dst, s.b, 1)
	case kTemplate:
		return nil, errors.New("Template values are not supported (only their metrics' datatype is reported)")
	}
	return nil, errors.New("extension values are not supported")
}

// appendFloat renders f; NaN and infinities, which JSON cannot hold, become
// the strings "NaN", "+Inf" and "-Inf".
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendArray unpacks a Sparkplug array value (datatypes 22..34).
func appendArray(dst []byte, dt uint32, b []byte) ([]byte, error) {
	size := map[uint32]int{22: 1, 23: 2, 24: 4, 25: 8, 26: 1, 27: 2, 28: 4, 29: 8, 30: 4, 31: 8, 34: 8}[dt]
	dst = append(dst, '[')
	switch {
	case dt == 32: // BooleanArray: u32 count, then bits, most significant first
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
	case dt == 33: // StringArray: NUL-terminated strings
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
			dst = appendString(dst, string(b[:end]))
			b = b[end+1:]
		}
	default:
		if len(b)%size != 0 {
			return nil, fmt.Errorf("%s of %d bytes is not a multiple of %d", datatypeName(dt), len(b), size)
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
				dst = appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(e))), 32)
			case 31:
				dst = appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(e)), 64)
			}
		}
	}
	return append(dst, ']'), nil
}

// maxNesting bounds property-set recursion so hostile input cannot exhaust
// the stack.
const maxNesting = 32

// propertyValueKinds maps PropertyValue's value fields (3..11) to kinds.
var propertyValueKinds = [...]scalarKind{3: kInt, 4: kLong, 5: kFloat, 6: kDouble, 7: kBool, 8: kString,
	9: kPropertySet, 10: kPropertySetList, 11: kExtension}

// appendPropertySet renders a PropertySet as {"key":{"type":T,"value":V},…}.
func appendPropertySet(dst []byte, b []byte, depth int) ([]byte, error) {
	if depth > maxNesting {
		return nil, errors.New("property sets nested too deeply")
	}
	var keys, values [][]byte
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		var v []byte
		switch num {
		case 1, 2:
			if err = want(num, wt, wireBytes); err == nil {
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
		dst = appendString(append(dst, sep(i == 0)), string(k))
		dst = append(dst, ':')
		var err error
		if dst, err = appendPropertyValue(dst, values[i], depth); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
	}
	if len(keys) == 0 {
		dst = append(dst, '{')
	}
	return append(dst, '}'), nil
}

func appendPropertyValue(dst []byte, b []byte, depth int) ([]byte, error) {
	var (
		dt     uint32
		isNull bool
		val    scalar
	)
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		var v uint64
		switch {
		case num == 1 || num == 2:
			if err = want(num, wt, wireVarint); err == nil {
				v, err = r.varint()
			}
			if num == 1 {
				dt = uint32(v)
			} else {
				isNull = v != 0
			}
		case num >= 3 && num <= 11:
			val, err = r.readScalar(num, wt, propertyValueKinds[num])
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	dst = appendString(appendMember(dst, '{', "type"), datatypeName(dt))
	dst = appendMember(dst, ',', "value")
	if isNull {
		return append(dst, "null}"...), nil
	}
	var err error
	switch val.kind {
	case kPropertySet:
		dst, err = appendPropertySet(dst, val.b, depth+1)
	case kPropertySetList:
		dst, err = appendPropertySetList(dst, val.b, depth+1)
	default:
		dst, err = appendValue(dst, dt, val)
	}
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

func appendPropertySetList(dst []byte, b []byte, depth int) ([]byte, error) {
	dst = append(dst, '[')
	r := pbReader{b}
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
		if err = want(num, wt, wireBytes); err == nil {
			set, err = r.bytes()
		}
		if err != nil {
			return nil, err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendPropertySet(dst, set, depth+1); err != nil {
			return nil, err
		}
		i++
	}
	return append(dst, ']'), nil
}

// appendMetadata renders a MetaData message's present fields.
func appendMetadata(dst []byte, b []byte) ([]byte, error) {
	names := [...]string{1: "is_multi_part", 2: "content_type", 3: "size", 4: "seq", 5: "file_name",
		6: "file_type", 7: "md5", 8: "description"}
	first := true
	r := pbReader{b}
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
		dst = appendMember(dst, sep(first), names[num])
		first = false
		switch num {
		case 1, 3, 4:
			var v uint64
			if err = want(num, wt, wireVarint); err == nil {
				v, err = r.varint()
			}
			if num == 1 {
				dst = strconv.AppendBool(dst, v != 0)
			} else {
				dst = strconv.AppendUint(dst, v, 10)
			}
		default:
			var s []byte
			if err = want(num, wt, wireBytes); err == nil {
				s, err = r.bytes()
			}
			dst = appendString(dst, string(s))
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
var dataSetValueKinds = [...]scalarKind{1: kInt, 2: kLong, 3: kFloat, 4: kDouble, 5: kBool, 6: kString, 7: kExtension}

// appendDataSet renders a DataSet as {"columns":[…],"types":[…],"rows":[[…],…]};
// each cell is typed by its column's datatype.
func appendDataSet(dst []byte, b []byte) ([]byte, error) {
	var (
		columns [][]byte
		types   []uint32
		rows    [][]byte
	)
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		switch num {
		case 2, 4:
			var v []byte
			if err = want(num, wt, wireBytes); err == nil {
				v, err = r.bytes()
			}
			if num == 2 {
				columns = append(columns, v)
			} else {
				rows = append(rows, v)
			}
		case 3: // repeated uint32, packed or not
			if wt == wireBytes {
				var packed []byte
				if packed, err = r.bytes(); err == nil {
					pr := pbReader{packed}
					for !pr.done() && err == nil {
						var v uint64
						v, err = pr.varint()
						types = append(types, uint32(v))
					}
				}
			} else if err = want(num, wt, wireVarint); err == nil {
				var v uint64
				v, err = r.varint()
				types = append(types, uint32(v))
			}
		default: // num_of_columns is implied by columns
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	dst = append(appendMember(dst, '{', "columns"), '[')
	for i, c := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, string(c))
	}
	dst = append(append(dst, ']'), `,"types":[`...)
	for i, t := range types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, datatypeName(t))
	}
	dst = append(append(dst, ']'), `,"rows":[`...)
	for i, row := range rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		rr := pbReader{row}
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
			if err = want(num, wt, wireBytes); err == nil {
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
			if dst, err = appendCell(dst, dt, cell); err != nil {
				return nil, fmt.Errorf("dataset row %d column %d: %w", i, col, err)
			}
			col++
		}
		dst = append(dst, ']')
	}
	return append(dst, ']', '}'), nil
}

func appendCell(dst []byte, dt uint32, b []byte) ([]byte, error) {
	val := scalar{}
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if num >= 1 && num <= 7 {
			val, err = r.readScalar(num, wt, dataSetValueKinds[num])
		} else {
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	return appendValue(dst, dt, val)
}

// appendMember appends the separator c (none when 0) and "name":.
func appendMember(dst []byte, c byte, name string) []byte {
	if c != 0 {
		dst = append(dst, c)
	}
	return append(appendString(dst, name), ':')
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
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
