package flow

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
)

// fakeSink records what the shards hand it and holds each record's delivery count until the
// test settles it, as Kafka's acknowledgement would.
type fakeSink struct {
	mu      sync.Mutex
	byRoute map[*kafkasink.Route][]string // "topic payload", in the order handed over
	dead    []string
	pending []kafkasink.Delivery
}

func (s *fakeSink) take(r *kafkasink.Route, m *kafkasink.Message, what string) {
	m.Delivery.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r == nil {
		s.dead = append(s.dead, what)
	} else {
		s.byRoute[r] = append(s.byRoute[r], what)
	}
	s.pending = append(s.pending, m.Delivery)
}

func (s *fakeSink) Produce(_ context.Context, r *kafkasink.Route, m *kafkasink.Message, o *kafkasink.Output) {
	s.take(r, m, m.MQTTTopic+" "+string(o.Payload))
}

func (s *fakeSink) DeadLetter(_ context.Context, _ *kafkasink.Route, m *kafkasink.Message, why *kafkasink.Reason) {
	s.take(nil, m, m.MQTTTopic+" "+why.Kind)
}

func (s *fakeSink) DeadLetterOversized(_ context.Context, _ *kafkasink.Route, m *kafkasink.Message) bool {
	if string(m.Payload) != "oversized" {
		return false
	}
	s.take(nil, m, m.MQTTTopic+" "+kafkasink.KindMessageTooLarge)
	return true
}

// settle acknowledges every record handed over so far.
func (s *fakeSink) settle() {
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, d := range p {
		d.Done()
	}
}

func (s *fakeSink) records(r *Route) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.byRoute[r.Sink]...)
}

// testRoute is a route without plugins on from.
func testRoute(t testing.TB, name string, from ...string) *Route {
	t.Helper()
	rc := config.Route{Name: name, From: from, QoS: 1, To: config.Destination{Topic: name}, DeadLetter: "dlq"}
	r, err := NewRoute("", name, from, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.In, r.Filtered = new(atomic.Uint64), new(atomic.Uint64)
	if r.Sink, err = kafkasink.NewRoute(rc, nil, testCounters{}, new(kafkasink.Progress)); err != nil {
		t.Fatal(err)
	}
	return r
}

type testCounters struct{}

func (testCounters) Produced()           {}
func (testCounters) DeadLettered(string) {}

// testFlow is a flow over routes whose shards run; its MQTT session is never started, so the
// test calls onPublish itself, as the source would.
func testFlow(t testing.TB, sink Sink, maxInFlight int, routes ...*Route) (*Flow, *atomic.Uint64) {
	t.Helper()
	unrouted := new(atomic.Uint64)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "received"})
	f := New(Config{
		Flow:   config.Flow{Shards: 4, MaxInFlight: maxInFlight, MaxInFlightBytes: 1 << 20, MaxBatch: 8},
		Source: mqttsource.Config{MQTT: config.MQTT{ClientID: "flow-test"}},
		Sink:   sink,
		Metrics: Metrics{
			InFlight:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight"}),
			InFlightBytes:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight_bytes"}),
			ReceivedByQoS:   [3]prometheus.Counter{c, c, c},
			Unrouted:        unrouted,
			DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "latency"}),
		},
	}, NewTable(routes))
	for _, s := range f.shards {
		f.shardsWG.Go(s.run)
	}
	t.Cleanup(func() { f.CloseIntake(); f.WaitShards() })
	return f, unrouted
}

func publish(f *Flow, topic, payload string) {
	f.onPublish(mqttsource.Message{Topic: topic, QoS: 1, Payload: []byte(payload)})
}

func TestFlow_OrderPerTopicAndEveryMessageAcknowledged(t *testing.T) {
	sink := &fakeSink{byRoute: map[*kafkasink.Route][]string{}}
	all, deep := testRoute(t, "all", "a/#"), testRoute(t, "deep", "a/+/deep")
	f, unrouted := testFlow(t, sink, 1000, all, deep)
	topics := []string{"a/1", "a/2/deep", "a/3", "a/4/deep", "z/unrouted"}
	const per = 50
	for i := range per {
		for _, topic := range topics {
			publish(f, topic, fmt.Sprint(i))
		}
	}
	publish(f, "a/5", "oversized")
	f.CloseIntake()
	f.WaitShards()

	for _, r := range []*Route{all, deep} {
		next := map[string]int{}
		for _, rec := range sink.records(r) {
			var topic string
			var seq int
			if _, err := fmt.Sscanf(rec, "%s %d", &topic, &seq); err != nil {
				t.Fatalf("route %s: record %q: %v", r.Name, rec, err)
			}
			if seq != next[topic] {
				t.Fatalf("route %s, topic %s: record %d where %d was next", r.Name, topic, seq, next[topic])
			}
			next[topic]++
		}
		want := map[string]int{"a/1": per, "a/2/deep": per, "a/3": per, "a/4/deep": per}
		if r == deep {
			want = map[string]int{"a/2/deep": per, "a/4/deep": per}
		}
		if fmt.Sprint(next) != fmt.Sprint(want) {
			t.Errorf("route %s: records by topic %v, want %v", r.Name, next, want)
		}
	}
	if got, want := all.In.Load(), uint64(4*per+1); got != want {
		t.Errorf("route all: In = %d, want %d", got, want)
	}
	if got, want := deep.In.Load(), uint64(2*per); got != want {
		t.Errorf("route deep: In = %d, want %d", got, want)
	}
	if got := unrouted.Load(); got != per {
		t.Errorf("unrouted = %d, want %d", got, per)
	}
	if len(sink.dead) != 1 || sink.dead[0] != "a/5 "+kafkasink.KindMessageTooLarge {
		t.Errorf("dead letters %q", sink.dead)
	}
	if n := f.Unacked(); n != 4*per+1 {
		t.Errorf("%d unacknowledged before Kafka acknowledged, want %d", n, 4*per+1)
	}
	sink.settle()
	if err := f.WaitAcked(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, b := f.InFlight(); n != 0 || b != 0 {
		t.Errorf("in flight after every acknowledgement: %d messages, %d bytes", n, b)
	}
	<-all.Retire() // every message left the route: closed at once
	<-deep.Retire()
}

func TestFlow_SwapSplitsMessagesBetweenTables(t *testing.T) {
	sink := &fakeSink{byRoute: map[*kafkasink.Route][]string{}}
	before, after := testRoute(t, "before", "t/#"), testRoute(t, "after", "t/#")
	f, _ := testFlow(t, sink, 1000, before)
	for i := range 10 {
		publish(f, "t/x", fmt.Sprint(i))
	}
	if old := f.Swap(NewTable([]*Route{after})); len(old.Routes()) != 1 || old.Routes()[0] != before {
		t.Fatalf("Swap returned %v, want the table of route before", old.Routes())
	}
	retired := before.Retire()
	for i := 10; i < 20; i++ {
		publish(f, "t/x", fmt.Sprint(i))
	}
	f.CloseIntake()
	f.WaitShards()
	<-retired // the old route's last message is through its work
	b, a := sink.records(before), sink.records(after)
	if len(b) != 10 || b[0] != "t/x 0" || b[9] != "t/x 9" || len(a) != 10 || a[0] != "t/x 10" || a[9] != "t/x 19" {
		t.Errorf("before the swap %q, after it %q", b, a)
	}
	if subs := f.Table().Subscriptions(); len(subs) != 1 || subs[0].Filter != "t/#" || subs[0].QoS != 1 {
		t.Errorf("subscriptions %+v", subs)
	}
	sink.settle()
	if err := f.WaitAcked(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFlow_CloseIntakeEndsASlotWait(t *testing.T) {
	sink := &fakeSink{byRoute: map[*kafkasink.Route][]string{}}
	r := testRoute(t, "r", "t/#")
	f, _ := testFlow(t, sink, 1, r)
	publish(f, "t/1", "1") // takes the only slot until Kafka acknowledges its record
	waiting := make(chan struct{})
	go func() { publish(f, "t/2", "2"); close(waiting) }()
	f.CloseIntake()
	<-waiting // the second message gave up its wait: not taken, so the broker redelivers it
	f.WaitShards()
	publish(f, "t/3", "3") // after CloseIntake: not taken
	if n := f.Unacked(); n != 1 {
		t.Errorf("%d unacknowledged, want the first message alone", n)
	}
	if got := sink.records(r); len(got) != 1 || got[0] != "t/1 1" {
		t.Errorf("records %q, want the first message's alone", got)
	}
	sink.settle()
	if err := f.WaitAcked(context.Background()); err != nil {
		t.Fatal(err)
	}
}
