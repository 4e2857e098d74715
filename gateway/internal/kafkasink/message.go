package kafkasink

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Message is the sink's view of one inbound MQTT PUBLISH: what its records are made of, and
// the delivery handle each record settles. The gateway fills it in at intake; from then on it
// is read-only and may be shared by every route the message matched. It implements
// mqtttopic.Fields for the topic and key templates.
type Message struct {
	// MQTTTopic is the topic the message arrived on.
	MQTTTopic string
	// TopicBytes is MQTTTopic as bytes, shared by every record's key and header (read-only).
	TopicBytes []byte
	// Payload is the MQTT payload.
	Payload []byte
	// QoS is the MQTT QoS the message arrived with.
	QoS byte
	// Retain is the MQTT retain flag.
	Retain bool
	// ContentType is the MQTT v5 content type, "" when absent.
	ContentType string
	// UserProperties are the MQTT v5 user properties, in order.
	UserProperties []Property
	// ArrivedAt is when the gateway received the message (the envelope's arrived_at_ms).
	ArrivedAt time.Time
	// Delivery counts the message's outstanding records: the sink adds one for each record
	// (or dead letter) it is handed and marks it done when Kafka acknowledges it.
	Delivery Delivery
}

// Property is one MQTT v5 user property.
type Property struct {
	Key, Value string
}

// Delivery is a message's delivery handle (a gateway/internal/delivery Delivery): Add counts
// n more records outstanding, Done settles one; the last Done acknowledges the message.
// Both must be safe for concurrent use and must not block: promises call Done.
type Delivery interface {
	Add(n int)
	Done()
}

// Topic returns the MQTT topic the message arrived on.
func (m *Message) Topic() string { return m.MQTTTopic }

// Property returns the first MQTT v5 user property named name, or "" when absent.
func (m *Message) Property(name string) string {
	for _, p := range m.UserProperties {
		if p.Key == name {
			return p.Value
		}
	}
	return ""
}

// Output is one record-to-be produced from a message on a route: the payload and any Kafka
// topic, key or headers a plugin chose. Zero values mean "the route's default".
type Output struct {
	// Payload is the record's value (or the envelope's payload).
	Payload []byte
	// KafkaTopic overrides the route's topic when not "".
	KafkaTopic string
	// Key overrides the route's key when KeySet is true (an empty key included).
	Key []byte
	// KeySet says Key was chosen by a plugin, even when it is empty.
	KeySet bool
	// Headers are added after the MQTT headers.
	Headers []kgo.RecordHeader
}

// OutputOf maps a plugin chain's output to a record-to-be.
func OutputOf(o *abi.Message) Output {
	out := Output{Payload: o.Payload, KafkaTopic: o.KafkaTopic, Key: o.Key, KeySet: o.KeySet}
	if len(o.Headers) > 0 {
		out.Headers = make([]kgo.RecordHeader, len(o.Headers))
		for i, h := range o.Headers {
			out.Headers[i] = kgo.RecordHeader{Key: h.Name, Value: []byte(h.Value)}
		}
	}
	return out
}

// Reason says why a message is dead-lettered. Plugin fields are empty for the gateway's own
// errors.
type Reason struct {
	// Kind is the tributary.error.kind header: a Kind constant or a plugin error kind.
	Kind string
	// Err is the error, the tributary.error header (bounded).
	Err string
	// Stage is the chain stage index, -1 when not a plugin error.
	Stage int
	// Plugin and Version name the failing plugin when Stage >= 0.
	Plugin, Version string
	// Topic is the Kafka topic the record was meant for, when known.
	Topic string
	// Path is the JSON Pointer of the field that did not fit the schema (kind
	// schema_invalid), the tributary.error.path header; "" for none.
	Path string

	limit   int // bytes the dead-letter record may take; 0 means kafka.max_record_bytes
	retries int // failed produces of the dead letter retried so far (Sink.backoff)
}
