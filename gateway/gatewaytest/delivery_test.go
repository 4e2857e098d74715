package gatewaytest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rec builds the record a gateway with default mapping makes from m.
func rec(m PublishMsg) *kgo.Record {
	return &kgo.Record{Key: []byte(m.Topic), Value: m.Payload}
}

func TestCheckDelivery(t *testing.T) {
	pub := Messages([]string{"a", "b"}, 6) // a:0,2,4  b:1,3,5
	recs := func(idx ...int) []*kgo.Record {
		out := make([]*kgo.Record, len(idx))
		for i, j := range idx {
			out[i] = rec(pub[j])
		}
		return out
	}
	stranger := &kgo.Record{Key: []byte("c"), Value: Payload("c", 99)}
	notJSON := &kgo.Record{Key: []byte("a"), Value: []byte("hello")}
	tests := []struct {
		name      string
		got       []*kgo.Record
		want      DeliveryReport // Examples not compared
		exactly   bool
		atLeast   bool
		wantInMsg string
	}{
		{"all in order", recs(0, 1, 2, 3, 4, 5),
			DeliveryReport{Published: 6, Received: 6, Delivered: 6}, true, true, ""},
		{"topics interleaved differently", recs(1, 3, 5, 0, 2, 4),
			DeliveryReport{Published: 6, Received: 6, Delivered: 6}, true, true, ""},
		{"one missing", recs(0, 1, 2, 3, 5),
			DeliveryReport{Published: 6, Received: 5, Delivered: 5, Missing: 1}, false, false, `missing "a" seq 4`},
		{"nothing received", nil,
			DeliveryReport{Published: 6, Missing: 6}, false, false, "6 missing"},
		{"redelivered after later ones", recs(0, 1, 2, 3, 4, 5, 2, 4),
			DeliveryReport{Published: 6, Received: 8, Delivered: 6, Duplicates: 2}, false, true, `duplicate "a" seq 2`},
		{"swapped within a topic", recs(0, 1, 4, 3, 2, 5),
			DeliveryReport{Published: 6, Received: 6, Delivered: 6, OutOfOrder: 1}, false, false, `out of order "a" seq 2`},
		{"unpublished and unreadable", append(recs(0, 1, 2, 3, 4, 5), stranger, notJSON),
			DeliveryReport{Published: 6, Received: 8, Delivered: 6, Unexpected: 2}, false, false, `unexpected "c" seq 99`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckDelivery(pub, tc.got)
			ex := r.Examples
			r.Examples = nil
			if !equalReports(r, tc.want) {
				t.Fatalf("report = %+v, want %+v", r, tc.want)
			}
			if got := r.ExactlyOnce() == nil; got != tc.exactly {
				t.Errorf("ExactlyOnce() == nil is %v, want %v", got, tc.exactly)
			}
			if got := r.AtLeastOnce() == nil; got != tc.atLeast {
				t.Errorf("AtLeastOnce() == nil is %v, want %v", got, tc.atLeast)
			}
			r.Examples = ex
			if s := r.String(); tc.wantInMsg != "" && !strings.Contains(s, tc.wantInMsg) {
				t.Errorf("String() = %q, want it to contain %q", s, tc.wantInMsg)
			}
		})
	}
}

func equalReports(a, b DeliveryReport) bool {
	return a.Published == b.Published && a.Received == b.Received && a.Delivered == b.Delivered &&
		a.Missing == b.Missing && a.Duplicates == b.Duplicates && a.OutOfOrder == b.OutOfOrder &&
		a.Unexpected == b.Unexpected
}

func TestCheckDelivery_ExamplesCapped(t *testing.T) {
	r := CheckDelivery(Messages([]string{"a"}, 100), nil)
	if r.Missing != 100 || len(r.Examples) != maxExamples {
		t.Fatalf("Missing=%d examples=%d, want 100 and %d", r.Missing, len(r.Examples), maxExamples)
	}
}

func TestRecordIdentity(t *testing.T) {
	p := Payload("building/1/temp", 42)
	envelope := func(payload any) []byte {
		b, err := json.Marshal(map[string]any{"mqtt_topic": "building/1/temp", "arrived_at_ms": 1, "qos": 1, "payload": payload})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		r         *kgo.Record
		wantTopic string
		wantSeq   int64
		wantErr   string
	}{
		{"payload as value", &kgo.Record{Value: p}, "building/1/temp", 42, ""},
		{"plugin kept seq only, topic from header",
			&kgo.Record{Value: []byte(`{"seq":3,"t":1}`), Headers: []kgo.RecordHeader{{Key: "mqtt.topic", Value: []byte("x/y")}}, Key: []byte("k")},
			"x/y", 3, ""},
		{"topic from key", &kgo.Record{Value: []byte(`{"seq":3}`), Key: []byte("k/1")}, "k/1", 3, ""},
		{"envelope with object", &kgo.Record{Value: envelope(json.RawMessage(p))}, "building/1/temp", 42, ""},
		{"envelope with string", &kgo.Record{Value: envelope(string(p))}, "building/1/temp", 42, ""},
		{"envelope with base64", &kgo.Record{Value: envelope(base64.StdEncoding.EncodeToString(p))}, "building/1/temp", 42, ""},
		{"envelope topic when payload lacks one",
			&kgo.Record{Value: []byte(`{"mqtt_topic":"m/t","payload":{"seq":5}}`)}, "m/t", 5, ""},
		{"not json", &kgo.Record{Value: []byte("21.5")}, "", 0, "not a JSON object"},
		{"binary", &kgo.Record{Value: []byte{0xff, 0x00}}, "", 0, "not a JSON object"},
		{"broken object", &kgo.Record{Value: []byte(`{"seq":`)}, "", 0, "not a JSON object"},
		{"no seq", &kgo.Record{Value: []byte(`{"topic":"a"}`)}, "", 0, `no "seq"`},
		{"no topic anywhere", &kgo.Record{Value: []byte(`{"seq":1}`)}, "", 0, "no topic"},
		{"envelope payload garbage", &kgo.Record{Value: []byte(`{"payload":"%%%"}`)}, "", 0, "neither JSON nor base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic, seq, err := RecordIdentity(tc.r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || topic != tc.wantTopic || seq != tc.wantSeq {
				t.Fatalf("= %q, %d, %v; want %q, %d, nil", topic, seq, err, tc.wantTopic, tc.wantSeq)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	tests := []struct {
		pattern string
		counts  []int
		want    []string
	}{
		{"a", nil, []string{"a"}},
		{"s/%d", []int{3}, []string{"s/0", "s/1", "s/2"}},
		{"f%d/s%02d", []int{2, 2}, []string{"f0/s00", "f0/s01", "f1/s00", "f1/s01"}},
		{"s/%d", []int{0}, []string{}},
	}
	for _, tc := range tests {
		got := Topics(tc.pattern, tc.counts...)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || len(got) != len(tc.want) {
			t.Errorf("Topics(%q, %v) = %q, want %q", tc.pattern, tc.counts, got, tc.want)
		}
	}
	if n := len(Topics("building/floor%d/sensor/%03d/temp", 5, 200)); n != 1000 {
		t.Errorf("5x200 topics: got %d", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("Topics with a missing verb did not panic")
		}
	}()
	Topics("no-verb", 2)
}

func TestPayloadAndMessages(t *testing.T) {
	msgs := Messages([]string{"building/floor1/sensor/007/temp", `odd "topic"`}, 1000)
	last := map[string]int64{}
	for _, m := range msgs {
		if len(m.Payload) < PayloadSize {
			t.Fatalf("seq %d: payload %d bytes, want at least %d", m.Seq, len(m.Payload), PayloadSize)
		}
		var v struct {
			Seq   int64  `json:"seq"`
			Topic string `json:"topic"`
		}
		if err := json.Unmarshal(m.Payload, &v); err != nil {
			t.Fatalf("seq %d: payload not JSON: %v: %s", m.Seq, err, m.Payload)
		}
		if v.Seq != m.Seq || v.Topic != m.Topic {
			t.Fatalf("payload says %q seq %d, message is %q seq %d", v.Topic, v.Seq, m.Topic, m.Seq)
		}
		if l, ok := last[m.Topic]; ok && m.Seq <= l {
			t.Fatalf("topic %q: seq %d after %d", m.Topic, m.Seq, l)
		}
		last[m.Topic] = m.Seq
	}
	if string(Payload("t", 5)) != string(Payload("t", 5)) {
		t.Fatal("Payload is not deterministic")
	}
	if Messages(nil, 5) != nil || Messages([]string{"a"}, 0) != nil {
		t.Fatal("Messages with no topics or n=0 should be nil")
	}
}
