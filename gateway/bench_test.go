package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
)

// Per-message micro-benchmarks of the gateway's hot path. No thresholds: run them with
//
//	go test -run '^$' -bench . -benchmem ./gateway/
//
// and report ns/op and allocs/op with the command.

// benchRoute builds a route on building/# with destination to.
func benchRoute(b *testing.B, name string, to config.Destination) *route {
	b.Helper()
	r, err := buildRoute(config.Route{Name: name, From: []string{"building/#"}, QoS: 1, To: to, DeadLetter: "dlq"},
		nil, newMetrics(prometheus.NewRegistry()))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

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

// BenchmarkRouteMatch measures matching a topic against route tables of different sizes,
// only one route matching.
func BenchmarkRouteMatch(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			table := &routeTable{}
			reg := newMetrics(prometheus.NewRegistry())
			for i := range n {
				from := fmt.Sprintf("site%d/+/sensor/#", i)
				if i == n-1 {
					from = "building/+/+/sensor/#"
				}
				r, err := buildRoute(config.Route{Name: fmt.Sprintf("r%d", i), From: []string{from}, QoS: 1,
					To: config.Destination{Topic: "t"}, DeadLetter: "dlq"}, nil, reg)
				if err != nil {
					b.Fatal(err)
				}
				table.routes = append(table.routes, r)
			}
			m := benchMessage()
			b.ReportAllocs()
			for b.Loop() {
				if got := table.match(m.MQTTTopic, m.routeBuf[:0]); len(got) != 1 {
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
