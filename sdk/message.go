package sdk

import (
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Property is a name/value pair: an MQTT v5 user property or a Kafka header.
type Property = abi.Property

// Message is the message a handler sees and edits. Topic, QoS, Retain,
// ContentType, Route, Tenant, ArrivedAt and the properties belong to the
// original MQTT message and are read-only; payload, Kafka topic, key and
// headers are what the previous stage produced and may be changed.
//
// # Notes
//
//   - A Message and every byte slice it returns are valid only during the
//     handler call that received it; copy what must outlive the call.
//   - Never modify the slice returned by Payload or Key in place: it may
//     share memory with the input. Build a new slice and call SetPayload.
//   - An output whose payload was never set is sent to the host as
//     "unchanged", so the payload is not copied back.
type Message struct {
	in *abi.Message

	payload    []byte
	kafkaTopic string
	key        []byte
	headers    []Property

	payloadSet, topicSet, keySet, headersSet bool

	// headerBuf is memory for the headers once changed, kept by the SDK's
	// message slot from batch to batch (the headers are copied into the
	// result when the handler returns); nil in a clone.
	headerBuf []Property
}

func (m *Message) reset(in *abi.Message) {
	buf := m.headerBuf
	if m.headersSet && cap(m.headers) > cap(buf) {
		buf = m.headers // the last message's own headers: this slot's memory from now on
	}
	*m = Message{in: in, payload: in.Payload, kafkaTopic: in.KafkaTopic, headers: in.Headers, headerBuf: buf[:0]}
	if in.KeySet {
		m.key = in.Key
	}
}

// Topic returns the MQTT topic the message arrived on.
func (m *Message) Topic() string { return m.in.Topic }

// ContentType returns the MQTT v5 content type, "" when absent.
func (m *Message) ContentType() string { return m.in.ContentType }

// Route returns the name of the route running this plugin.
func (m *Message) Route() string { return m.in.Route }

// Tenant returns the tenant of the route, "" for the default tenant.
func (m *Message) Tenant() string { return m.in.Tenant }

// QoS returns the MQTT QoS the message arrived with: 0, 1 or 2.
func (m *Message) QoS() byte { return m.in.QoS }

// Retain reports whether the MQTT message had the retain flag.
func (m *Message) Retain() bool { return m.in.Retain }

// ArrivedAt returns when the gateway received the message, to the millisecond.
func (m *Message) ArrivedAt() time.Time { return time.UnixMilli(m.in.ArrivedAtMs) }

// Property returns the value of the first MQTT v5 user property called name.
func (m *Message) Property(name string) (string, bool) { return lookup(m.in.Properties, name) }

// Properties returns all MQTT v5 user properties in arrival order. The
// slice must not be modified.
func (m *Message) Properties() []Property { return m.in.Properties }

// Payload returns the current payload. Do not modify it in place; see
// [Message] and [Message.SetPayload].
func (m *Message) Payload() []byte { return m.payload }

// SetPayload replaces the payload. The message keeps p (it is not copied)
// until the handler returns, when the SDK copies it into the result frame:
// p must not change before then, and may be reused afterwards. So a
// handler can build every message's payload in one buffer it keeps
// between calls (only the outputs of one call need separate buffers),
// which avoids an allocation per message: allocating in a Go wasm guest
// costs several hundred nanoseconds.
func (m *Message) SetPayload(p []byte) {
	m.payload = p
	m.payloadSet = true
}

// KafkaTopic returns the Kafka topic chosen so far; "" means the route's
// configured topic.
func (m *Message) KafkaTopic() string { return m.kafkaTopic }

// SetKafkaTopic sends the message to Kafka topic t; "" resets it to the
// route's configured topic.
func (m *Message) SetKafkaTopic(t string) {
	m.kafkaTopic = t
	m.topicSet = true
}

// Key returns the Kafka key chosen so far and whether one was set; when none
// was, the route's key mapping applies (by default the MQTT topic).
func (m *Message) Key() ([]byte, bool) { return m.key, m.keySet || m.in.KeySet }

// SetKey sets the Kafka key, possibly to an empty one. k is kept, not
// copied, until the handler returns, as in [Message.SetPayload].
func (m *Message) SetKey(k []byte) {
	m.key = k
	m.keySet = true
}

// Header returns the value of the first Kafka header called name set by
// this or an earlier stage.
func (m *Message) Header(name string) (string, bool) { return lookup(m.headers, name) }

// Headers returns the Kafka headers set so far, in order. The slice must not
// be modified; use SetHeader, AddHeader and DeleteHeader.
func (m *Message) Headers() []Property { return m.headers }

// AddHeader appends a Kafka header, keeping any others of the same name.
func (m *Message) AddHeader(name, value string) {
	m.ownHeaders()
	m.headers = append(m.headers, Property{Name: name, Value: value})
}

// SetHeader sets Kafka header name to value, replacing every header of
// that name.
func (m *Message) SetHeader(name, value string) {
	m.DeleteHeader(name)
	m.headers = append(m.headers, Property{Name: name, Value: value})
}

// DeleteHeader removes every Kafka header called name.
func (m *Message) DeleteHeader(name string) {
	m.ownHeaders()
	kept := m.headers[:0]
	for _, h := range m.headers {
		if h.Name != name {
			kept = append(kept, h)
		}
	}
	clear(m.headers[len(kept):])
	m.headers = kept
}

// ownHeaders gives m its own copy of the headers before the first change,
// so the input and clones are never written through.
func (m *Message) ownHeaders() {
	if m.headersSet {
		return
	}
	m.headersSet = true
	if m.headerBuf != nil {
		clear(m.headerBuf[:cap(m.headerBuf)]) // drop the last message's strings
		m.headers = append(m.headerBuf[:0], m.headers...)
		return
	}
	m.headers = append(make([]Property, 0, len(m.headers)+1), m.headers...)
}

// Clone returns a copy of m that can be changed independently, for
// splitting one message into several. Payload and key bytes are shared
// (they are never modified in place); headers are copied on change.
func (m *Message) Clone() *Message {
	c := *m
	c.headerBuf = nil // the slot's memory stays m's
	if c.headersSet {
		c.headers = append([]Property(nil), m.headers...)
	}
	return &c
}

// output describes m to the host, setting only what changed.
func (m *Message) output() abi.Output {
	var o abi.Output
	if m.payloadSet {
		o.Payload = m.payload
	} else {
		o.Flags |= abi.PayloadUnchanged
	}
	if m.topicSet {
		o.Flags |= abi.SetKafkaTopic
		o.KafkaTopic = m.kafkaTopic
	}
	if m.keySet {
		o.Flags |= abi.SetKey
		o.Key = m.key
	}
	if m.headersSet {
		o.Flags |= abi.SetHeaders
		o.Headers = m.headers
	}
	return o
}

func lookup(ps []Property, name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}
