package kafkasink

import (
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// Per-message micro-benchmarks of the record mapping. No thresholds: run them with
//
//	go test -run '^$' -bench . -benchmem ./gateway/internal/kafkasink/
//
// and report ns/op and allocs/op with the command.

// benchRoute builds a route with destination to.
func benchRoute(b *testing.B, name string, to config.Destination) *Route {
	b.Helper()
	r, err := NewRoute(config.Route{Name: name, From: []string{"building/#"}, QoS: 1, To: to, DeadLetter: "dlq"},
		nil, &testCounters{}, &Progress{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// benchMessage is a typical sensor reading: a 5-level topic and a ~180-byte JSON payload.
func benchMessage() *Message {
	return &Message{
		MQTTTopic: "building/floor3/room301/sensor/s042/temperature",
		Payload: []byte(`{"device":"s042","floor":3,"room":"301","kind":"temperature","value":21.53,` +
			`"unit":"C","battery":0.93,"rssi":-61,"seq":123456,"ts":1764045000123,"fw":"2.4.1","ok":true}`),
		QoS:       1,
		ArrivedAt: time.UnixMilli(1764045000123),
	}
}

// BenchmarkRecord measures mapping one message to a Kafka record, per destination style.
func BenchmarkRecord(b *testing.B) {
	tests := []struct {
		name string
		to   config.Destination
	}{
		{"raw", config.Destination{Topic: "sensors", Envelope: config.EnvelopeNone}},
		{"envelope", config.Destination{Topic: "sensors", Envelope: config.EnvelopeJSON}},
		{"template_key", config.Destination{Topic: "sensors", Key: "{{.Segment 1}}-{{.Segment 4}}"}},
		{"template_topic", config.Destination{Topic: "sensors.{{.Segment 1}}"}},
		{"payload_key", config.Destination{Topic: "sensors", Key: `{{.Payload "device"}}`}},
		{"payload_key_late_field", config.Destination{Topic: "sensors", Key: `{{.Payload "fw"}}`}},
		{"payload_topic_and_key", config.Destination{Topic: `sensors.{{.Payload "kind"}}`, Key: `{{.Payload "device"}}`}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			r := benchRoute(b, tc.name, tc.to)
			m := benchMessage()
			o := &Output{Payload: m.Payload}
			b.ReportAllocs()
			b.SetBytes(int64(len(m.Payload)))
			for b.Loop() {
				rec, why := r.record(m, o, 1<<20)
				if why != nil || rec == nil {
					b.Fatalf("record: %+v", why)
				}
			}
		})
	}
}

// BenchmarkAppendEnvelope measures the JSON envelope alone, with a reused buffer.
func BenchmarkAppendEnvelope(b *testing.B) {
	m := benchMessage()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Payload)))
	for b.Loop() {
		buf = appendEnvelope(buf[:0], m, m.Payload)
	}
}
