package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

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

// nodeType and deviceType report the message types of the spBv1.0
// namespace with a payload; the first need 4 topic levels, the second 5.
func nodeType(s string) bool {
	switch s {
	case "NBIRTH", "NDEATH", "NDATA", "NCMD":
		return true
	}
	return false
}

func deviceType(s string) bool {
	switch s {
	case "DBIRTH", "DDEATH", "DDATA", "DCMD":
		return true
	}
	return false
}

// parseTopic splits a Sparkplug B topic:
// spBv1.0/GROUP/TYPE/NODE[/DEVICE], spBv1.0/STATE/HOST or STATE/HOST.
// It splits into an array rather than with strings.Split, which allocates.
func parseTopic(s string) (topic, error) {
	var parts [5]string
	n := strings.Count(s, "/") + 1
	if n <= len(parts) {
		rest := s
		for i := range n - 1 {
			j := strings.IndexByte(rest, '/')
			parts[i], rest = rest[:j], rest[j+1:]
		}
		parts[n-1] = rest
	}
	switch {
	case n == 2 && parts[0] == "STATE":
		return topic{msgType: "STATE", host: parts[1], legacyState: true}, nil
	case n == 3 && parts[0] == namespace && parts[1] == "STATE":
		return topic{msgType: "STATE", host: parts[2]}, nil
	case n == 4 && parts[0] == namespace && nodeType(parts[2]):
		return topic{group: parts[1], msgType: parts[2], node: parts[3]}, nil
	case n == 5 && parts[0] == namespace && deviceType(parts[2]):
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
		var err error
		num, wt, ok := r.tag1()
		if !ok {
			if num, wt, err = r.next(); err != nil {
				return err
			}
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
				if raw, ok = r.bytes1(); !ok {
					raw, err = r.bytes()
				}
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
		var err error
		num, wt, ok := r.tag1()
		if !ok {
			if num, wt, err = r.next(); err != nil {
				return err
			}
		}
		var v uint64
		switch {
		case num == 1:
			if err = want(num, wt, wireBytes); err == nil {
				if m.name, ok = r.bytes1(); !ok {
					m.name, err = r.bytes()
				}
				m.hasName = true
			}
		case num >= 2 && num <= 7:
			if err = want(num, wt, wireVarint); err == nil {
				if v, ok = r.varint1(); !ok {
					v, err = r.varint()
				}
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
		case num == 13 && wt == wire64 && len(r.b) >= 8:
			// The usual values, inline (readScalar's fast paths).
			m.value = scalar{kind: kDouble, f: math.Float64frombits(binary.LittleEndian.Uint64(r.b))}
			r.b = r.b[8:]
		case num == 12 && wt == wire32 && len(r.b) >= 4:
			m.value = scalar{kind: kFloat, f: float64(math.Float32frombits(binary.LittleEndian.Uint32(r.b)))}
			r.b = r.b[4:]
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

// Reused between calls, so that a message allocates nothing: a wasm
// instance is single-threaded, and the SDK copies every output payload
// into its result frame when the handler returns (see
// sdk.Message.SetPayload).
var (
	// scratch holds the decoded payload.
	scratch payload
	// prefix holds the start of every per-metric record of a message,
	// tsDigits the payload's timestamp.
	prefix   []byte
	tsDigits [20]byte
	// out holds every output payload of one call.
	out []byte
	// clones and outs hold the per-metric outputs of one call.
	clones []sdk.Message
	outs   []*sdk.Message
	// last caches the last Sparkplug topic seen (not STATE) and its
	// rendered record header: consecutive messages share topics.
	last struct {
		topic  string
		t      topic
		header []byte
	}
)

// parsed returns the parsed topic of s and, for a topic with a payload,
// its record header (see appendHeader); the header is valid until the next
// call.
func parsed(s string) (topic, []byte, error) {
	if s == last.topic && last.header != nil {
		return last.t, last.header, nil
	}
	t, err := parseTopic(s)
	if err != nil || t.msgType == "STATE" {
		return t, nil, err
	}
	last.topic, last.t = s, t
	last.header = appendHeader(last.header[:0], t)
	return t, last.header, nil
}

// handle decodes one Sparkplug message into one or more JSON records.
func handle(m *sdk.Message) ([]*sdk.Message, error) {
	t, header, err := parsed(m.Topic())
	if err != nil {
		return nil, err
	}
	if t.msgType == "STATE" {
		b, err := appendState(out[:0], t, m.Payload())
		if err != nil {
			return nil, err
		}
		out = b
		m.SetPayload(b)
		return sdk.One(m), nil
	}
	if err := decodePayload(m.Payload(), &scratch); err != nil {
		return nil, fmt.Errorf("sparkplug: %s payload: %w", t.msgType, err)
	}
	if !perMetric {
		b, err := appendPayload(append(out[:0], header...), &scratch)
		if err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		out = b
		m.SetPayload(b)
		return sdk.One(m), nil
	}
	n := len(scratch.metrics)
	if cap(clones) < n {
		clones = make([]sdk.Message, n)
		outs = make([]*sdk.Message, n)
	}
	clones, outs = clones[:n], outs[:n]
	// Every record starts with the same members: render them once.
	prefix = appendRecordPrefix(append(prefix[:0], header...), &scratch)
	var ts []byte // the payload's timestamp, inherited by metrics without one
	if scratch.hasTS {
		ts = strconv.AppendUint(tsDigits[:0], scratch.ts, 10)
	}
	buf := out[:0]
	for i := range scratch.metrics {
		start := len(buf)
		buf = append(buf, prefix...)
		if buf, err = appendMetric(buf, &scratch.metrics[i], i, ts); err != nil {
			return nil, fmt.Errorf("sparkplug: %s: %w", t.msgType, err)
		}
		buf = append(buf, '}')
		clones[i] = *m.Clone()
		clones[i].SetPayload(buf[start:len(buf):len(buf)])
		outs[i] = &clones[i]
	}
	if buf != nil {
		out = buf
	}
	return outs, nil
}

// appendState renders a STATE message: Sparkplug 3.0 sends a JSON object,
// 2.x the text ONLINE or OFFLINE.
func appendState(dst []byte, t topic, body []byte) ([]byte, error) {
	if !t.legacyState {
		dst = append(dst, `{"namespace":"`+namespace+`","message_type":"STATE","host_id":`...)
	} else {
		dst = append(dst, `{"message_type":"STATE","host_id":`...)
	}
	dst = jsonfield.AppendString(dst, t.host)
	dst = append(dst, `,"state":`...)
	if t.legacyState {
		dst = jsonfield.AppendString(dst, body)
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
	dst = append(dst, `{"namespace":"`+namespace+`","group_id":`...)
	dst = jsonfield.AppendString(dst, t.group)
	dst = append(dst, `,"message_type":`...)
	dst = jsonfield.AppendString(dst, t.msgType)
	dst = append(dst, `,"edge_node_id":`...)
	dst = jsonfield.AppendString(dst, t.node)
	if t.device != "" {
		dst = append(dst, `,"device_id":`...)
		dst = jsonfield.AppendString(dst, t.device)
	}
	return dst
}

// appendPayload completes a payload record opened by appendHeader.
func appendPayload(dst []byte, p *payload) ([]byte, error) {
	if p.hasTS {
		dst = strconv.AppendUint(append(dst, `,"timestamp":`...), p.ts, 10)
	}
	if p.hasSeq {
		dst = strconv.AppendUint(append(dst, `,"seq":`...), p.seq, 10)
	}
	if p.hasUUID {
		dst = jsonfield.AppendString(append(dst, `,"uuid":`...), p.uuid)
	}
	if p.hasBody {
		dst = appendBase64(append(dst, `,"body":`...), p.body)
	}
	dst = append(dst, `,"metrics":[`...)
	var err error
	for i := range p.metrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if dst, err = appendMetric(dst, &p.metrics[i], i, nil); err != nil {
			return nil, err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']', '}'), nil
}

// appendRecordPrefix appends the payload's members that open every
// per-metric record, after appendHeader's.
func appendRecordPrefix(dst []byte, p *payload) []byte {
	if p.hasSeq {
		dst = strconv.AppendUint(append(dst, `,"seq":`...), p.seq, 10)
	}
	if p.hasTS {
		dst = strconv.AppendUint(append(dst, `,"payload_timestamp":`...), p.ts, 10)
	}
	return dst
}

// appendKey appends key, a member name rendered as `,"name":`, without its
// leading comma when *first is set, and clears *first.
func appendKey(dst []byte, key string, first *bool) []byte {
	if *first {
		*first = false
		return append(dst, key[1:]...)
	}
	return append(dst, key...)
}

// appendMetric appends a metric's members (no braces), each preceded by a
// comma unless dst ends with '{'; the metric is the i-th of its payload. A
// metric without a timestamp gets ts, rendered, when it is not nil
// (per-metric records inherit the payload's).
func appendMetric(dst []byte, m *metric, i int, ts []byte) ([]byte, error) {
	first := len(dst) > 0 && dst[len(dst)-1] == '{'
	if m.hasName || m.hasAlias {
		ids := renderedIDs(m, i)
		if first {
			ids = ids[1:]
			first = false
		}
		dst = append(dst, ids...)
	}
	switch {
	case m.hasTS:
		dst = strconv.AppendUint(appendKey(dst, `,"timestamp":`, &first), m.ts, 10)
	case ts != nil:
		dst = append(appendKey(dst, `,"timestamp":`, &first), ts...)
	}
	// datatype is always present: no member after it can be the first.
	if !m.historical && !m.transient && !m.isNull && int(m.datatype) < len(datatypeValueKeys) {
		// The usual case, in one append.
		dst = appendKey(dst, datatypeValueKeys[m.datatype], &first)
	} else {
		dst = appendDatatype(appendKey(dst, `,"datatype":`, &first), m.datatype)
		if m.historical {
			dst = append(dst, `,"is_historical":true`...)
		}
		if m.transient {
			dst = append(dst, `,"is_transient":true`...)
		}
		if m.isNull {
			dst = append(dst, `,"is_null":true`...)
		}
		dst = append(dst, `,"value":`...)
	}
	var err error
	if m.isNull {
		dst = append(dst, "null"...)
	} else if dst, err = appendValue(dst, m.datatype, m.value); err != nil {
		return nil, fmt.Errorf("metric %s: %w", metricID(m), err)
	}
	if m.hasProps {
		dst = append(dst, `,"properties":`...)
		if dst, err = appendPropertySet(dst, m.properties, 0); err != nil {
			return nil, fmt.Errorf("metric %s: properties: %w", metricID(m), err)
		}
	}
	if m.hasMetadata {
		dst = append(dst, `,"metadata":`...)
		if dst, err = appendMetadata(dst, m.metadata); err != nil {
			return nil, fmt.Errorf("metric %s: metadata: %w", metricID(m), err)
		}
	}
	return dst, nil
}

// idCache holds the rendered name and alias members of the metrics of
// the last payloads, by position: a device reports the same metrics in
// the same order, so they are rendered once.
var idCache [32]struct {
	name              []byte // a copy of the metric's
	alias             uint64
	hasName, hasAlias bool
	rendered          []byte // `,"name":"…","alias":N`; nil before the first use
}

// renderedIDs returns the name and alias members of m, the i-th metric of
// its payload, as `,"name":"…","alias":N` (each when present), valid until
// the next call.
func renderedIDs(m *metric, i int) []byte {
	c := &idCache[i%len(idCache)]
	if c.rendered != nil && c.hasName == m.hasName && c.hasAlias == m.hasAlias && c.alias == m.alias &&
		string(c.name) == string(m.name) {
		return c.rendered
	}
	c.name, c.alias, c.hasName, c.hasAlias = append(c.name[:0], m.name...), m.alias, m.hasName, m.hasAlias
	c.rendered = c.rendered[:0]
	if m.hasName {
		c.rendered = jsonfield.AppendString(append(c.rendered, `,"name":`...), m.name)
	}
	if m.hasAlias {
		c.rendered = strconv.AppendUint(append(c.rendered, `,"alias":`...), m.alias, 10)
	}
	return c.rendered
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

// quotedDatatypes holds datatypeNames rendered as JSON strings.
var quotedDatatypes = func() (q [len(datatypeNames)]string) {
	for i, n := range datatypeNames {
		q[i] = `"` + n + `"`
	}
	return q
}()

// datatypeValueKeys holds, by datatype, the members datatype and the key
// of value: `,"datatype":"Int8","value":`.
var datatypeValueKeys = func() (q [len(datatypeNames)]string) {
	for i, n := range datatypeNames {
		q[i] = `,"datatype":"` + n + `","value":`
	}
	return q
}()

// appendDatatype appends datatypeName(dt) as a JSON string.
func appendDatatype(dst []byte, dt uint32) []byte {
	if int(dt) < len(quotedDatatypes) {
		return append(dst, quotedDatatypes[dt]...)
	}
	return jsonfield.AppendString(dst, datatypeName(dt))
}

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
		return jsonfield.AppendString(dst, s.b), nil
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
		return jsonfield.AppendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
	}
	if out, ok := appendShortDecimal(dst, f, bits); ok {
		return out
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// arrayElemSizes holds the element size of the fixed-size array datatypes.
var arrayElemSizes = [...]int{22: 1, 23: 2, 24: 4, 25: 8, 26: 1, 27: 2, 28: 4, 29: 8, 30: 4, 31: 8, 34: 8}

// appendArray unpacks a Sparkplug array value (datatypes 22..34).
func appendArray(dst []byte, dt uint32, b []byte) ([]byte, error) {
	size := arrayElemSizes[dt]
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
			dst = jsonfield.AppendString(dst, b[:end])
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
// It reads b twice, first to check it and count keys and values, then to
// render the pairs, so that it needs no slices (it is reentrant: property
// values nest).
func appendPropertySet(dst []byte, b []byte, depth int) ([]byte, error) {
	if depth > maxNesting {
		return nil, errors.New("property sets nested too deeply")
	}
	var nKeys, nValues int
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		switch num {
		case 1, 2:
			if err = want(num, wt, wireBytes); err == nil {
				_, err = r.bytes()
			}
			if num == 1 {
				nKeys++
			} else {
				nValues++
			}
		default:
			err = r.skip(wt)
		}
		if err != nil {
			return nil, err
		}
	}
	if nKeys != nValues {
		return nil, fmt.Errorf("%d keys for %d values", nKeys, nValues)
	}
	keys, values := pbReader{b}, pbReader{b}
	for i := range nKeys {
		// b was checked above: nextBytes cannot fail here.
		k, _ := keys.nextBytes(1)
		v, _ := values.nextBytes(2)
		dst = jsonfield.AppendString(append(dst, sep(i == 0)), k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendPropertyValue(dst, v, depth); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
	}
	if nKeys == 0 {
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
	dst = appendDatatype(append(dst, `{"type":`...), dt)
	dst = append(dst, `,"value":`...)
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

// metadataKeys holds the MetaData fields' member names by field number,
// rendered for appendKey.
var metadataKeys = [...]string{1: `,"is_multi_part":`, 2: `,"content_type":`, 3: `,"size":`, 4: `,"seq":`,
	5: `,"file_name":`, 6: `,"file_type":`, 7: `,"md5":`, 8: `,"description":`}

// appendMetadata renders a MetaData message's present fields.
func appendMetadata(dst []byte, b []byte) ([]byte, error) {
	first := true
	r := pbReader{b}
	for !r.done() {
		num, wt, err := r.next()
		if err != nil {
			return nil, err
		}
		if num == 0 || num >= uint64(len(metadataKeys)) {
			if err = r.skip(wt); err != nil {
				return nil, err
			}
			continue
		}
		if first {
			dst = append(dst, '{')
		}
		dst = appendKey(dst, metadataKeys[num], &first)
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
			dst = jsonfield.AppendString(dst, s)
		}
		if err != nil {
			return nil, err
		}
	}
	if first {
		return append(dst, '{', '}'), nil
	}
	return append(dst, '}'), nil
}

// dataSetValueKinds maps DataSetValue's fields (1..7) to kinds.
var dataSetValueKinds = [...]scalarKind{1: kInt, 2: kLong, 3: kFloat, 4: kDouble, 5: kBool, 6: kString, 7: kExtension}

// dataSet is appendDataSet's scratch, reused between calls: appendDataSet
// is not reentrant (a DataSet's cells cannot hold a DataSet).
var dataSet struct {
	columns, rows [][]byte
	types         []uint32
}

// appendDataSet renders a DataSet as {"columns":[…],"types":[…],"rows":[[…],…]};
// each cell is typed by its column's datatype.
func appendDataSet(dst []byte, b []byte) ([]byte, error) {
	columns, types, rows := dataSet.columns[:0], dataSet.types[:0], dataSet.rows[:0]
	defer func() {
		// Keep the grown slices, without the references into b.
		clear(columns)
		clear(rows)
		dataSet.columns, dataSet.types, dataSet.rows = columns[:0], types[:0], rows[:0]
	}()
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
	dst = append(dst, `{"columns":[`...)
	for i, c := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonfield.AppendString(dst, c)
	}
	dst = append(append(dst, ']'), `,"types":[`...)
	for i, t := range types {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonfield.AppendString(dst, datatypeName(t))
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

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}
