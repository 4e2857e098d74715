package flow

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// Per-message micro-benchmarks of the flow's hot path. No thresholds: run them with
//
//	go test -run '^$' -bench . -benchmem ./gateway/internal/flow/
//
// and report ns/op and allocs/op with the command.

// benchRoute builds a route on from with destination to, as the gateway would.
func benchRoute(b *testing.B, name, from string, to config.Destination) *Route {
	b.Helper()
	rc := config.Route{Name: name, From: []string{from}, QoS: 1, To: to, DeadLetter: "dlq"}
	r, err := NewRoute("", rc.Name, rc.From, byte(rc.QoS))
	if err != nil {
		b.Fatal(err)
	}
	r.In, r.Filtered = new(atomic.Uint64), new(atomic.Uint64)
	if r.Sink, err = kafkasink.NewRoute(rc, nil, benchCounters{}, new(kafkasink.Progress)); err != nil {
		b.Fatal(err)
	}
	return r
}

// benchCounters discards a route's Kafka counts.
type benchCounters struct{}

func (benchCounters) Produced()           {}
func (benchCounters) DeadLettered(string) {}

// benchMessage is a typical sensor reading: a 5-level topic and a ~180-byte JSON payload.
func benchMessage() *message {
	return &message{
		Message: kafkasink.Message{
			MQTTTopic: "building/floor3/room301/sensor/s042/temperature",
			Payload: []byte(`{"device":"s042","floor":3,"room":"301","kind":"temperature","value":21.53,` +
				`"unit":"C","battery":0.93,"rssi":-61,"seq":123456,"ts":1764045000123,"fw":"2.4.1","ok":true}`),
			QoS:       1,
			ArrivedAt: time.UnixMilli(1764045000123),
		},
	}
}

// BenchmarkTableMatch measures matching a topic against route tables of different sizes,
// only one route matching: route i takes building/floor<i>/+/sensor/# and
// building/floor<i>/+/meter/+, and the message is on the last route's floor.
//
//	go test -run '^$' -bench TableMatch -benchmem ./gateway/internal/flow/
func BenchmarkTableMatch(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			routes := make([]*Route, n)
			for i := range routes {
				routes[i] = benchRoute(b, fmt.Sprintf("r%d", i), fmt.Sprintf("building/floor%d/+/sensor/#", i), config.Destination{Topic: "t"})
				f, err := mqtttopic.ParseFilter(fmt.Sprintf("building/floor%d/+/meter/+", i))
				if err != nil {
					b.Fatal(err)
				}
				routes[i].Filters = append(routes[i].Filters, f)
			}
			table := NewTable(routes)
			topic := fmt.Sprintf("building/floor%d/room301/sensor/s042/temperature", n-1)
			var buf [2]*Route
			b.ReportAllocs()
			for b.Loop() {
				if got := table.match(topic, buf[:0]); len(got) != 1 {
					b.Fatalf("matched %d routes, want 1", len(got))
				}
			}
		})
	}
}

// BenchmarkDelivery measures the ack bookkeeping of one message with one record.
func BenchmarkDelivery(b *testing.B) {
	acks := 0
	m := benchMessage()
	tr := delivery.NewTracker(1, 1<<20, func(*message) { acks++ })
	b.ReportAllocs()
	for b.Loop() {
		tr.TryAcquire(1) // the MQTT callback's slot
		tr.Track(&m.delivery, m, 1)
		m.delivery.Add(1) // the route token
		m.delivery.Add(1) // the record
		m.delivery.Done() // route done
		m.delivery.Done() // record acknowledged by Kafka: acks, frees the slot
	}
	if acks != b.N {
		b.Fatalf("%d acks for %d messages", acks, b.N)
	}
}

// ackingSink acknowledges each record as Kafka would, at once.
type ackingSink struct{}

func (ackingSink) Produce(_ context.Context, _ *kafkasink.Route, m *kafkasink.Message, _ *kafkasink.Output) {
	m.Delivery.Add(1)
	m.Delivery.Done()
}

func (ackingSink) DeadLetter(_ context.Context, _ *kafkasink.Route, m *kafkasink.Message, _ *kafkasink.Reason) {
	m.Delivery.Add(1)
	m.Delivery.Done()
}

func (ackingSink) DeadLetterOversized(context.Context, *kafkasink.Route, *kafkasink.Message) bool {
	return false
}

// BenchmarkOnPublish measures a message from the source's callback through intake, its shard and
// a route without plugins to the sink (which acknowledges at once), over 100 topics. It ends
// when every message is acknowledged.
func BenchmarkOnPublish(b *testing.B) {
	r := benchRoute(b, "r", "building/#", config.Destination{Topic: "t"})
	f, _ := testFlow(b, ackingSink{}, 1000, r)
	m := benchMessage()
	pubs := make([]mqttsource.Message, 100)
	for i := range pubs {
		pubs[i] = mqttsource.Message{Topic: fmt.Sprintf("%s/%d", m.MQTTTopic, i), QoS: 1, Payload: m.Payload}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.onPublish(pubs[i%len(pubs)])
		i++
	}
	if err := f.WaitAcked(context.Background()); err != nil {
		b.Fatal(err)
	}
}
