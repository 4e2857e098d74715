package kafkasink

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
)

// testCounters counts a route's acknowledged records, as the gateway's route counters do.
type testCounters struct {
	out          atomic.Uint64
	deadLettered atomic.Uint64
}

func (c *testCounters) Produced()           { c.out.Add(1) }
func (c *testCounters) DeadLettered(string) { c.deadLettered.Add(1) }

// testMetrics returns a sink's instruments, registered nowhere.
func testMetrics() Metrics {
	return Metrics{
		KafkaErrors:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_errors_total", Help: "test"}, []string{"kind"}),
		ProduceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "produce_latency_seconds", Help: "test"}),
	}
}

func testRoute(t testing.TB, to config.Destination, deadLetter string) *Route {
	t.Helper()
	r, err := NewRoute(config.Route{Name: "r1", From: []string{"building/#"}, QoS: 1, To: to, DeadLetter: deadLetter},
		nil, &testCounters{}, &Progress{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testMessage() *Message {
	return &Message{
		MQTTTopic:      "building/floor1/sensor/7/temp",
		TopicBytes:     []byte("building/floor1/sensor/7/temp"),
		Payload:        []byte(`{"t":21.5}`),
		QoS:            1,
		Retain:         true,
		ContentType:    "application/json",
		UserProperties: []Property{{Key: "site", Value: "north"}},
		ArrivedAt:      time.UnixMilli(1732500000123),
	}
}

func header(rec *kgo.Record, key string) (string, bool) {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestRecordMapping(t *testing.T) {
	tests := []struct {
		name      string
		to        config.Destination
		out       Output
		wantTopic string
		wantKey   string
		wantValue string
	}{
		{
			name:      "defaults: fixed topic, MQTT topic as key, payload unchanged",
			to:        config.Destination{Topic: "mqtt_building_sensors_raw", Key: config.DefaultKeyTemplate, Envelope: "none"},
			wantTopic: "mqtt_building_sensors_raw", wantKey: "building/floor1/sensor/7/temp", wantValue: `{"t":21.5}`,
		},
		{
			name:      "topic and key templates over segments and properties",
			to:        config.Destination{Topic: "sensors.{{.Segment 1}}", Key: `{{.Property "site"}}-{{.Segment 3}}`},
			wantTopic: "sensors.floor1", wantKey: "north-7", wantValue: `{"t":21.5}`,
		},
		{
			name:      "plugin output overrides topic, key and payload",
			to:        config.Destination{Topic: "raw"},
			out:       Output{Payload: []byte("x"), KafkaTopic: "other", Key: []byte("k"), KeySet: true},
			wantTopic: "other", wantKey: "k", wantValue: "x",
		},
		{
			name:      "plugin output sets an empty key",
			to:        config.Destination{Topic: "raw"},
			out:       Output{Payload: []byte("x"), KeySet: true},
			wantTopic: "raw", wantKey: "", wantValue: "x",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoute(t, tc.to, "dlq")
			m := testMessage()
			o := tc.out
			if o.Payload == nil {
				o.Payload = m.Payload
			}
			rec, why := r.record(m, &o, 1<<20)
			if why != nil {
				t.Fatalf("dead-lettered: %+v", why)
			}
			if rec.Topic != tc.wantTopic || string(rec.Key) != tc.wantKey || string(rec.Value) != tc.wantValue {
				t.Fatalf("record = (%q, %q, %q), want (%q, %q, %q)", rec.Topic, rec.Key, rec.Value, tc.wantTopic, tc.wantKey, tc.wantValue)
			}
			for k, want := range map[string]string{
				HeaderMQTTTopic: m.MQTTTopic, HeaderMQTTQoS: "1", HeaderMQTTRetain: "true",
				HeaderContentType: "application/json", "site": "north",
			} {
				if got, ok := header(rec, k); !ok || got != want {
					t.Errorf("header %s = %q (present %v), want %q", k, got, ok, want)
				}
			}
		})
	}
}

func TestRecordDeadReasons(t *testing.T) {
	r := testRoute(t, config.Destination{Topic: "s.{{.Segment 5}}"}, "dlq")
	m := testMessage()
	m.MQTTTopic = "a/b" // segment 5 is out of range and renders empty: "s." is still legal
	_, why := r.record(m, &Output{Payload: m.Payload}, 1<<20)
	if why != nil {
		t.Fatalf("s. is a legal topic name, got %+v", why)
	}
	r = testRoute(t, config.Destination{Topic: "{{.Segment 1}}"}, "dlq")
	m.MQTTTopic = "a/b c"
	_, why = r.record(m, &Output{Payload: m.Payload}, 1<<20)
	if why == nil || why.Kind != KindBadTopic || !strings.Contains(why.Err, `"b c"`) {
		t.Fatalf("want bad_topic naming the topic, got %+v", why)
	}
	r = testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	big := testMessage()
	big.Payload = make([]byte, 2000)
	_, why = r.record(big, &Output{Payload: big.Payload}, 1000)
	if why == nil || why.Kind != KindRecordTooLarge {
		t.Fatalf("want record_too_large, got %+v", why)
	}
	dl := r.deadLetterRecord(big, why, 1000)
	if recordSize(dl) > 1000 {
		t.Fatalf("dead letter of %d bytes exceeds the limit", recordSize(dl))
	}
	if got, _ := header(dl, HeaderTruncatedBytes); got != "2000" {
		t.Fatalf("truncation header = %q, want 2000", got)
	}
	for k, want := range map[string]string{HeaderRoute: "r1", HeaderErrorKind: KindRecordTooLarge, HeaderMQTTTopic: big.MQTTTopic} {
		if got, _ := header(dl, k); got != want {
			t.Errorf("dead-letter header %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := header(dl, HeaderPlugin); ok {
		t.Error("a gateway error must not carry plugin headers")
	}
}

func TestEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    map[string]any
	}{
		{"json text", []byte(`{"t":21.5}`), map[string]any{"payload": `{"t":21.5}`}},
		{"escapes", []byte("a\"b\\c\n\x01é"), map[string]any{"payload": "a\"b\\c\n\x01é"}},
		{"empty", []byte{}, map[string]any{"payload": ""}},
		{"binary is base64", []byte{0xff, 0x00, 0x10}, map[string]any{
			"payload": base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x10}), "payload_encoding": "base64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			out := appendEnvelope(nil, m, tc.payload)
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", out, err)
			}
			want := map[string]any{"mqtt_topic": m.MQTTTopic, "arrived_at_ms": float64(1732500000123), "qos": float64(1)}
			for k, v := range tc.want {
				want[k] = v
			}
			if len(got) != len(want) {
				t.Fatalf("envelope %s has keys %v, want %v", out, got, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			if !strings.HasPrefix(string(out), `{"mqtt_topic":`) {
				t.Errorf("field order differs from the Python bridge: %s", out)
			}
		})
	}
}

// TestRecord_Lineage checks the lineage header: absent unless set, then last, after the
// plugins' headers, naming each stage as NAME@VERSION in order; empty for no stages.
func TestRecord_Lineage(t *testing.T) {
	m := testMessage()
	o := Output{Payload: m.Payload, Headers: []kgo.RecordHeader{{Key: "unit", Value: []byte("F")}}}
	r := testRoute(t, config.Destination{Topic: "t"}, "t_dlq")
	rec, why := r.record(m, &o, 1<<20)
	if why != nil {
		t.Fatal(why.Err)
	}
	if v, ok := header(rec, HeaderLineage); ok {
		t.Fatalf("lineage header %q on a route without SetLineage", v)
	}
	r.SetLineage([]LineageStage{{Plugin: "topic-fields", Version: strings.Repeat("a", 64)}, {Plugin: "units", Version: strings.Repeat("b", 64)}})
	if rec, why = r.record(m, &o, 1<<20); why != nil {
		t.Fatal(why.Err)
	}
	last := rec.Headers[len(rec.Headers)-1]
	want := "topic-fields@" + strings.Repeat("a", 64) + ",units@" + strings.Repeat("b", 64)
	if last.Key != HeaderLineage || string(last.Value) != want {
		t.Fatalf("last header %s=%q, want %s=%q", last.Key, last.Value, HeaderLineage, want)
	}
	if v, _ := header(rec, "unit"); v != "F" {
		t.Fatalf("plugin header unit=%q, want F", v)
	}
	r.SetLineage(nil)
	if rec, why = r.record(m, &o, 1<<20); why != nil {
		t.Fatal(why.Err)
	}
	if v, ok := header(rec, HeaderLineage); !ok || v != "" {
		t.Fatalf("lineage of a route without plugins = %q (present %v), want an empty header", v, ok)
	}
}
