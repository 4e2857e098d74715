package kafkasink

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
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
	// HeaderLineage is on every record of a route with to.lineage: the plugins its message
	// passed through, in chain order, as NAME@VERSION (the sha256 hex of the module, as the
	// plugin store and the admin API name it) separated by commas; empty for a route without
	// plugins. See Route.SetLineage.
	HeaderLineage = "tributary.lineage"
	// HeaderDropped lists, comma-separated, what a dead letter too large for Kafka left out:
	// "user_properties", "payload", "headers" (see Route.deadLetterRecord).
	HeaderDropped = "tributary.dead_letter.dropped"
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

// maxErrorHeader bounds the tributary.error header: a guest's error may quote the payload.
const maxErrorHeader = 1024

// record maps an output of message m on route r to a Kafka record. When the output cannot be
// produced as mapped it returns the reason to dead-letter the message instead.
func (r *Route) record(m *Message, o *Output, maxBytes int) (*kgo.Record, *Reason) {
	rec := &kgo.Record{}
	switch {
	case o.KafkaTopic != "":
		rec.Topic = o.KafkaTopic
	case r.staticTopic != "":
		rec.Topic = r.staticTopic
	default:
		var why *Reason
		if rec.Topic, why = r.renderTopic(m, o); why != nil {
			return nil, why
		}
	}
	if config.KafkaTopicProblem(rec.Topic) != "" {
		return nil, &Reason{Kind: KindBadTopic, Stage: -1, Topic: rec.Topic,
			Err: "kafka topic " + strconv.Quote(rec.Topic) + " is not a legal topic name"}
	}
	if r.ns != nil && rec.Topic != r.staticTopic && !r.ns.KafkaAllowed(rec.Topic) {
		return nil, &Reason{Kind: KindNamespace, Stage: -1, Topic: rec.Topic,
			Err: "kafka topic " + strconv.Quote(rec.Topic) + " is outside tenant " + r.tenant + "'s kafka_prefixes"}
	}
	switch {
	case o.KeySet:
		rec.Key = o.Key
	case r.key != nil:
		var why *Reason
		if rec.Key, why = r.renderKey(m, o, rec.Topic); why != nil {
			return nil, why
		}
	default:
		rec.Key = m.TopicBytes
	}
	if r.envelope {
		// JSON payloads gain a backslash per quote: leave room so the buffer rarely grows.
		rec.Value = appendEnvelope(make([]byte, 0, len(o.Payload)+len(o.Payload)/4+len(m.MQTTTopic)+96), m, o.Payload)
	} else {
		rec.Value = o.Payload
	}
	rec.Headers = m.headers(len(o.Headers) + 1)
	rec.Headers = append(rec.Headers, o.Headers...)
	if r.lineage != nil {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderLineage, Value: r.lineage})
	}
	if n := recordSize(rec); n > maxBytes {
		return nil, &Reason{Kind: KindRecordTooLarge, Stage: -1, Topic: rec.Topic,
			Err: "record of " + strconv.Itoa(n) + " bytes exceeds kafka.max_record_bytes " + strconv.Itoa(maxBytes)}
	}
	return rec, nil
}

// headers returns the MQTT headers every record of m carries, with room for extra more.
func (m *Message) headers(extra int) []kgo.RecordHeader {
	h := make([]kgo.RecordHeader, 0, 4+len(m.UserProperties)+extra)
	h = append(h,
		kgo.RecordHeader{Key: HeaderMQTTTopic, Value: m.TopicBytes},
		kgo.RecordHeader{Key: HeaderMQTTQoS, Value: qosValues[m.QoS%3]},
		kgo.RecordHeader{Key: HeaderMQTTRetain, Value: boolValues[b2i(m.Retain)]},
	)
	if m.ContentType != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderContentType, Value: []byte(m.ContentType)})
	}
	for _, p := range m.UserProperties {
		h = append(h, kgo.RecordHeader{Key: p.Key, Value: []byte(p.Value)})
	}
	return h
}

// Values of HeaderDropped: what a dead letter too large for its limit left out.
const (
	droppedUserProperties = "user_properties"
	droppedPayload        = "payload"
	droppedHeaders        = "headers" // the minimal dead letter: every header it can spare
)

// Bounds of the minimal dead letter (the last step of the ladder in deadLetterRecord).
const (
	minimalTopicBytes = 256 // the key and the mqtt.topic header
	minimalErrorBytes = 256 // the tributary.error header
	// minPayloadCut is the least of a payload worth keeping: a dead letter with less room
	// drops the payload instead.
	minPayloadCut = 64
)

// deadLetterRecord builds the dead-letter record of m: the original payload unchanged, the
// MQTT topic as key, the MQTT headers, and headers naming the route and the error. A record
// over maxBytes goes down a ladder, taking the first step that fits:
//
//  1. everything, the payload cut to fit (HeaderTruncatedBytes gives its original size) if at
//     least minPayloadCut bytes of it do; with user properties, only if they leave the payload
//     all it needs or at least half of maxBytes;
//  2. without the MQTT user properties, the payload cut to fit if at least minPayloadCut bytes
//     of it do;
//  3. without the user properties and the payload;
//  4. the minimal record: key and mqtt.topic cut to minimalTopicBytes, the tenant, route, error
//     kind and error (cut to minimalErrorBytes) and the payload's original size only. It is
//     returned even when it does not fit: the ladder ends there.
//
// From step 2 on, HeaderDropped lists what was left out.
func (r *Route) deadLetterRecord(m *Message, why *Reason, maxBytes int) *kgo.Record {
	all := m.headers(0)
	fixed, propHeaders := all[:len(all)-len(m.UserProperties)], all[len(all)-len(m.UserProperties):]
	tail := r.deadLetterHeaders(why)
	props := len(m.UserProperties) > 0
	for _, keepProps := range []bool{true, false} {
		if !keepProps && !props {
			break // step 2 is step 1 without its threshold: taken below
		}
		var dropped []string
		h := make([]kgo.RecordHeader, 0, len(fixed)+len(m.UserProperties)+len(tail)+2)
		h = append(h, fixed...)
		if keepProps {
			h = append(h, propHeaders...)
		} else {
			dropped = append(dropped, droppedUserProperties)
		}
		h = append(h, tail...)
		rec := &kgo.Record{Topic: r.deadLetter, Key: m.TopicBytes, Value: m.Payload, Headers: h}
		rec.Headers = appendDropped(rec.Headers, dropped)
		if recordSize(rec) <= maxBytes {
			return rec
		}
		if len(m.Payload) == 0 {
			continue
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderTruncatedBytes, Value: []byte(strconv.Itoa(len(m.Payload)))})
		room := maxBytes - (recordSize(rec) - len(m.Payload))
		if keepProps && props && room < maxBytes/2 {
			continue // the user properties crowd the payload out: drop them first
		}
		if room >= minPayloadCut {
			rec.Value = m.Payload[:room]
			return rec
		}
	}
	if len(m.Payload) > 0 || props {
		// Step 3: the payload's size and the route's headers, no user properties, no payload.
		var dropped []string
		if props {
			dropped = append(dropped, droppedUserProperties)
		}
		h := append(append([]kgo.RecordHeader(nil), fixed...), tail...)
		if len(m.Payload) > 0 {
			dropped = append(dropped, droppedPayload)
			h = append(h, kgo.RecordHeader{Key: HeaderTruncatedBytes, Value: []byte(strconv.Itoa(len(m.Payload)))})
		}
		rec := &kgo.Record{Topic: r.deadLetter, Key: m.TopicBytes, Headers: appendDropped(h, dropped)}
		if recordSize(rec) <= maxBytes {
			return rec
		}
	}
	return r.minimalDeadLetter(m, why)
}

// deadLetterHeaders returns the headers naming the route and the error of a dead letter.
func (r *Route) deadLetterHeaders(why *Reason) []kgo.RecordHeader {
	h := make([]kgo.RecordHeader, 0, 8)
	if r.tenant != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderTenant, Value: []byte(r.tenant)})
	}
	h = append(h,
		kgo.RecordHeader{Key: HeaderRoute, Value: []byte(r.name)},
		kgo.RecordHeader{Key: HeaderErrorKind, Value: []byte(why.Kind)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(truncate(why.Err, maxErrorHeader))},
	)
	if why.Stage >= 0 {
		h = append(h,
			kgo.RecordHeader{Key: HeaderStage, Value: []byte(strconv.Itoa(why.Stage))},
			kgo.RecordHeader{Key: HeaderPlugin, Value: []byte(why.Plugin)},
			kgo.RecordHeader{Key: HeaderPluginVersion, Value: []byte(why.Version)},
		)
	}
	if why.Topic != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderOriginalTopic, Value: []byte(why.Topic)})
	}
	return h
}

// minimalDeadLetter is the last step of the dead-letter ladder: the route, the error and the
// MQTT topic, each bounded, and nothing else of the message but its payload's size.
func (r *Route) minimalDeadLetter(m *Message, why *Reason) *kgo.Record {
	topic := []byte(truncate(m.MQTTTopic, minimalTopicBytes))
	h := make([]kgo.RecordHeader, 0, 7)
	h = append(h, kgo.RecordHeader{Key: HeaderMQTTTopic, Value: topic})
	if r.tenant != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderTenant, Value: []byte(r.tenant)})
	}
	h = append(h,
		kgo.RecordHeader{Key: HeaderRoute, Value: []byte(r.name)},
		kgo.RecordHeader{Key: HeaderErrorKind, Value: []byte(why.Kind)},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(truncate(why.Err, minimalErrorBytes))},
	)
	dropped := make([]string, 0, 3)
	if len(m.UserProperties) > 0 {
		dropped = append(dropped, droppedUserProperties)
	}
	if len(m.Payload) > 0 {
		dropped = append(dropped, droppedPayload)
		h = append(h, kgo.RecordHeader{Key: HeaderTruncatedBytes, Value: []byte(strconv.Itoa(len(m.Payload)))})
	}
	dropped = append(dropped, droppedHeaders)
	return &kgo.Record{Topic: r.deadLetter, Key: topic, Headers: appendDropped(h, dropped)}
}

// appendDropped appends HeaderDropped listing dropped, if any.
func appendDropped(h []kgo.RecordHeader, dropped []string) []kgo.RecordHeader {
	if len(dropped) == 0 {
		return h
	}
	return append(h, kgo.RecordHeader{Key: HeaderDropped, Value: []byte(strings.Join(dropped, ","))})
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
func appendEnvelope(dst []byte, m *Message, payload []byte) []byte {
	dst = append(dst, `{"mqtt_topic":`...)
	dst = jsonfield.AppendString(dst, m.MQTTTopic)
	dst = append(dst, `,"arrived_at_ms":`...)
	dst = strconv.AppendInt(dst, m.ArrivedAt.UnixMilli(), 10)
	dst = append(dst, `,"payload":`...)
	binary := !utf8.Valid(payload)
	if binary {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, payload)
		dst = append(dst, '"')
	} else {
		dst = jsonfield.AppendString(dst, payload)
	}
	dst = append(dst, `,"qos":`...)
	dst = strconv.AppendInt(dst, int64(m.QoS), 10)
	if binary {
		dst = append(dst, `,"payload_encoding":"base64"`...)
	}
	return append(dst, '}')
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
