package gateway

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record header names. They are part of the documented contract (README, "Kafka records"):
// never change them silently.
const (
	HeaderMQTTTopic   = "mqtt.topic"
	HeaderMQTTQoS     = "mqtt.qos"
	HeaderMQTTRetain  = "mqtt.retain"
	HeaderContentType = "content-type"

	HeaderRoute          = "tributary.route"
	HeaderErrorKind      = "tributary.error.kind"
	HeaderError          = "tributary.error"
	HeaderStage          = "tributary.stage"
	HeaderPlugin         = "tributary.plugin"
	HeaderPluginVersion  = "tributary.plugin.version"
	HeaderOriginalTopic  = "tributary.kafka.topic"
	HeaderTruncatedBytes = "tributary.payload.original_bytes"
	HeaderTenant         = "tributary.tenant"
)

// Dead-letter error kinds raised by the gateway itself; plugin kinds come from wasmhost.
const (
	KindRecordTooLarge = "record_too_large"
	KindBadTopic       = "bad_topic"
	KindProduceFailed  = "produce_failed"
	// KindNamespace: a plugin chose a Kafka topic outside its tenant's kafka_prefixes.
	KindNamespace = "namespace_violation"
	// KindMessageTooLarge: the MQTT payload exceeds the tenant's limits.max_message_bytes.
	KindMessageTooLarge = "message_too_large"
)

var (
	qosValues   = [3][]byte{[]byte("0"), []byte("1"), []byte("2")}
	boolValues  = [2][]byte{[]byte("false"), []byte("true")}
	recordExtra = 64 // bytes of record overhead counted against max_record_bytes
)

// output is one record-to-be produced from a message on a route: the payload and any Kafka
// topic, key or headers a plugin chose. Zero values mean "the route's default".
type output struct {
	payload    []byte
	kafkaTopic string
	key        []byte
	keySet     bool
	headers    []kgo.RecordHeader
}

// deadReason says why a message is dead-lettered. Plugin fields are empty for gateway errors.
type deadReason struct {
	kind    string
	err     string
	stage   int // chain stage index, -1 when not a plugin error
	plugin  string
	version string
	topic   string // the Kafka topic the record was meant for, when known
	limit   int    // bytes the dead-letter record may take; 0 means kafka.max_record_bytes
}

// maxErrorHeader bounds the tributary.error header: a guest's error may quote the payload.
const maxErrorHeader = 1024

// record maps an output of message m on route r to a Kafka record. When the output cannot be
// produced as mapped it returns the reason to dead-letter the message instead.
func (r *route) record(m *message, o *output, maxBytes int) (*kgo.Record, *deadReason) {
	rec := &kgo.Record{}
	switch {
	case o.kafkaTopic != "":
		rec.Topic = o.kafkaTopic
	case r.staticTopic != "":
		rec.Topic = r.staticTopic
	default:
		rec.Topic = string(r.topic.Append(nil, m))
	}
	if !validKafkaTopic(rec.Topic) {
		return nil, &deadReason{kind: KindBadTopic, stage: -1, topic: rec.Topic,
			err: "kafka topic " + strconv.Quote(rec.Topic) + " is not a legal topic name"}
	}
	if r.ns != nil && rec.Topic != r.staticTopic && !r.ns.KafkaAllowed(rec.Topic) {
		return nil, &deadReason{kind: KindNamespace, stage: -1, topic: rec.Topic,
			err: "kafka topic " + strconv.Quote(rec.Topic) + " is outside tenant " + r.tenant + "'s kafka_prefixes"}
	}
	switch {
	case o.keySet:
		rec.Key = o.key
	case r.key != nil:
		rec.Key = r.key.Append(nil, m)
	default:
		rec.Key = m.topicBytes
	}
	if r.envelope {
		// JSON payloads gain a backslash per quote: leave room so the buffer rarely grows.
		rec.Value = appendEnvelope(make([]byte, 0, len(o.payload)+len(o.payload)/4+len(m.topic)+96), m, o.payload)
	} else {
		rec.Value = o.payload
	}
	rec.Headers = m.headers(len(o.headers))
	rec.Headers = append(rec.Headers, o.headers...)
	if n := recordSize(rec); n > maxBytes {
		return nil, &deadReason{kind: KindRecordTooLarge, stage: -1, topic: rec.Topic,
			err: "record of " + strconv.Itoa(n) + " bytes exceeds kafka.max_record_bytes " + strconv.Itoa(maxBytes)}
	}
	return rec, nil
}

// headers returns the MQTT headers every record of m carries, with room for extra more.
func (m *message) headers(extra int) []kgo.RecordHeader {
	h := make([]kgo.RecordHeader, 0, 4+len(m.userProperties)+extra)
	h = append(h,
		kgo.RecordHeader{Key: HeaderMQTTTopic, Value: m.topicBytes},
		kgo.RecordHeader{Key: HeaderMQTTQoS, Value: qosValues[m.qos%3]},
		kgo.RecordHeader{Key: HeaderMQTTRetain, Value: boolValues[b2i(m.retain)]},
	)
	if m.contentType != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderContentType, Value: []byte(m.contentType)})
	}
	for _, p := range m.userProperties {
		h = append(h, kgo.RecordHeader{Key: p.Key, Value: []byte(p.Value)})
	}
	return h
}

// deadLetterRecord builds the dead-letter record of m: the original payload unchanged (cut to
// fit max_record_bytes, with the original size in a header), the MQTT topic as key, the MQTT
// headers, and headers naming the route and the error.
func (r *route) deadLetterRecord(m *message, why *deadReason, maxBytes int) *kgo.Record {
	rec := &kgo.Record{Topic: r.deadLetter, Key: m.topicBytes, Value: m.payload}
	h := m.headers(9)
	if r.tenant != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderTenant, Value: []byte(r.tenant)})
	}
	h = append(h,
		kgo.RecordHeader{Key: HeaderRoute, Value: []byte(r.name)},
		kgo.RecordHeader{Key: HeaderErrorKind, Value: []byte(why.kind)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(truncate(why.err, maxErrorHeader))},
	)
	if why.stage >= 0 {
		h = append(h,
			kgo.RecordHeader{Key: HeaderStage, Value: []byte(strconv.Itoa(why.stage))},
			kgo.RecordHeader{Key: HeaderPlugin, Value: []byte(why.plugin)},
			kgo.RecordHeader{Key: HeaderPluginVersion, Value: []byte(why.version)},
		)
	}
	if why.topic != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderOriginalTopic, Value: []byte(why.topic)})
	}
	rec.Headers = h
	if recordSize(rec) > maxBytes {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderTruncatedBytes, Value: []byte(strconv.Itoa(len(m.payload)))})
		over := recordSize(rec) - maxBytes
		rec.Value = rec.Value[:max(len(rec.Value)-over, 0)]
	}
	return rec
}

// recordSize approximates a record's size on the wire, as Kafka counts it against
// max.message.bytes.
func recordSize(r *kgo.Record) int {
	n := recordExtra + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}

// appendEnvelope appends the JSON envelope of the seed's Python bridge:
// {"mqtt_topic":…,"arrived_at_ms":…,"payload":…,"qos":…}. The payload is a JSON string of the
// UTF-8 payload; a payload that is not valid UTF-8 is base64-encoded instead and the envelope
// gains "payload_encoding":"base64".
func appendEnvelope(dst []byte, m *message, payload []byte) []byte {
	dst = append(dst, `{"mqtt_topic":`...)
	dst = appendJSONString(dst, m.topic)
	dst = append(dst, `,"arrived_at_ms":`...)
	dst = strconv.AppendInt(dst, m.arrivedAt.UnixMilli(), 10)
	dst = append(dst, `,"payload":`...)
	binary := !utf8.Valid(payload)
	if binary {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, payload)
		dst = append(dst, '"')
	} else {
		dst = appendJSONString(dst, payload)
	}
	dst = append(dst, `,"qos":`...)
	dst = strconv.AppendInt(dst, int64(m.qos), 10)
	if binary {
		dst = append(dst, `,"payload_encoding":"base64"`...)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validKafkaTopic reports whether name is a legal Kafka topic name.
func validKafkaTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// truncate cuts s to at most n bytes on a rune boundary, saying how long it was.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 32
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
