package gateway_test

// Fault tests (issue #7): network cuts between the gateway and MQTT or Kafka, a half-open MQTT
// network, and a slow Kafka, each under a steady publishing load against real Mosquitto and
// kfake on loopback. Every test reads Kafka back and checks the same invariants:
//
//   - no QoS 1/2 message is missing and nothing unexpected arrives;
//   - duplicates are counted (logged) and bounded: by the messages the broker redelivered
//     after an MQTT reconnection (the gateway never duplicates by itself), by max_in_flight
//     for a Kafka cut, and none for latency alone;
//   - each MQTT topic's order holds within every delivery run: seqs only rewind where a
//     redelivery starts (gatewaytest.Rewinds), and the first copies are in publish order, or
//     exactly in the order the broker sent them where Mosquitto itself reorders a backlog
//     (TestFault_SlowKafka);
//   - nothing is dead-lettered, and the gateway ends with nothing in flight;
//   - while a fault lasts, messages in flight never exceed flow.max_in_flight.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

const (
	faultMaxInFlight = 200 // flow.max_in_flight and mqtt.receive_maximum in these tests
	faultTick        = 10 * time.Millisecond
	faultPerTick     = 10 // messages per tick and per QoS: 1000 msg/s per QoS level
)

// faultLoad publishes messages at a steady pace from its own goroutine: perTick messages of
// msgs every tick, each chunk acknowledged by the broker before the next one starts, so every
// topic's messages are published in order.
type faultLoad struct {
	name string
	msgs []gatewaytest.PublishMsg
	sent atomic.Int64 // messages the broker acknowledged
	done chan struct{}
	err  error // set before done is closed
}

// startFaultLoad connects a publisher directly to the broker (never through a fault proxy) and
// starts publishing msgs at qos. Cleanup stops it.
func startFaultLoad(t *testing.T, brokerURL string, qos byte, msgs []gatewaytest.PublishMsg) *faultLoad {
	t.Helper()
	l := &faultLoad{name: fmt.Sprintf("qos %d load", qos), msgs: msgs, done: make(chan struct{})}
	pub := gatewaytest.NewPublisher(t, brokerURL, gatewaytest.WithWorkers(8))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(l.done)
		tick := time.NewTicker(faultTick)
		defer tick.Stop()
		for i := 0; i < len(msgs); i += faultPerTick {
			select {
			case <-tick.C:
			case <-ctx.Done():
				l.err = ctx.Err()
				return
			}
			chunk := msgs[i:min(i+faultPerTick, len(msgs))]
			if err := pub.Publish(ctx, qos, chunk); err != nil {
				l.err = err
				return
			}
			l.sent.Add(int64(len(chunk)))
		}
	}()
	t.Cleanup(func() { cancel(); <-l.done })
	return l
}

// wait blocks until the load has published everything, failing the test on a publish error
// or after timeout.
func (l *faultLoad) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-l.done:
		if l.err != nil {
			t.Fatalf("%s: %v", l.name, l.err)
		}
	case <-timer.C:
		t.Fatalf("%s: %d of %d messages published after %v", l.name, l.sent.Load(), len(l.msgs), timeout)
	}
}

// inFlightSampler records the largest Stats().InFlight seen while it runs.
type inFlightSampler struct {
	max  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

// sampleInFlight starts sampling gw's in-flight count every 2ms until done is called or the
// test ends.
func sampleInFlight(t *testing.T, gw *running) *inFlightSampler {
	s := &inFlightSampler{stop: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := int64(gw.Stats().InFlight); n > s.max.Load() {
				s.max.Store(n)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { s.done() })
	return s
}

// done stops sampling and returns the largest value seen. It may be called again (as the
// cleanup does), but only from one goroutine at a time.
func (s *inFlightSampler) done() int {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	return int(s.max.Load())
}

// metricValue returns the value of the unlabelled metric name from the gateway's /metrics.
func metricValue(t *testing.T, gw *running, name string) float64 {
	t.Helper()
	v, n := metricSum(t, gw, name)
	if n != 1 {
		t.Fatalf("metric %s: %d series in /metrics, want 1", name, n)
	}
	return v
}

// metricSum returns the sum of every series of the metric name in the gateway's /metrics,
// whatever its labels, and how many series there were.
func metricSum(t *testing.T, gw *running, name string) (sum float64, series int) {
	t.Helper()
	body := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			_, rest, _ = strings.Cut(rest, "}")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("metric %s: %q: %v", name, line, err)
		}
		sum += v
		series++
	}
	return sum, series
}

// faultConfig is testConfig with the flow bounds these tests check (max_in_flight and
// receive_maximum of faultMaxInFlight) and fast reconnects. The keep-alive stays at its
// default unless a test needs it short: while max_in_flight is reached, paho's reader waits
// for the gateway and reads no PINGRESP either, so a Kafka stall longer than about 1.5
// keep-alives drops the MQTT connection.
func faultConfig(t *testing.T, mqURL string, kf *gatewaytest.KafkaCluster, routes ...config.Route) *config.Config {
	cfg := testConfig(t, mqURL, kf, routes...)
	cfg.Flow.MaxInFlight = faultMaxInFlight
	cfg.MQTT.ReceiveMaximum = faultMaxInFlight
	cfg.MQTT.ConnectTimeout = 2 * time.Second
	cfg.MQTT.ReconnectMin = 50 * time.Millisecond
	cfg.MQTT.ReconnectMax = 250 * time.Millisecond
	return cfg
}

// faultTraffic returns the messages of one test: n at QoS 1 and n at QoS 2, each on its own
// topics under prefix.
func faultTraffic(prefix string, n int) (q1, q2 []gatewaytest.PublishMsg) {
	q1 = gatewaytest.Messages(gatewaytest.Topics(prefix+"/q1/dev%02d", 20), n)
	q2 = gatewaytest.Messages(gatewaytest.Topics(prefix+"/q2/dev%02d", 20), n)
	return q1, q2
}

// faultWant bounds what a fault may cause.
type faultWant struct {
	maxDuplicates int // extra copies in Kafka
	maxRewinds    int // redelivery runs per MQTT topic (gatewaytest.Rewinds); checked when order is nil
	// order, when set, returns per MQTT topic the seqs in the order the broker sent them to
	// the gateway, and first copies must follow it instead of the publish order: Mosquitto
	// reorders a backlogged session's messages itself (see gatewaytest.MosquittoSendOrder).
	order func() map[string][]int64
}

// checkFaultDelivery waits until every message of msgs is in topic and checks the invariants
// listed at the top of this file against want.
func checkFaultDelivery(t *testing.T, gw *running, kf *gatewaytest.KafkaCluster, topic string,
	msgs []gatewaytest.PublishMsg, want faultWant) {
	t.Helper()
	rep := kf.WaitDelivered(t, topic, msgs, 30*time.Second)
	t.Logf("%d published, %d records: %d duplicates, %d out of publish order", rep.Published, rep.Received, rep.Duplicates, rep.OutOfOrder)
	if rep.Missing != 0 || rep.Unexpected != 0 {
		t.Fatal(rep.String())
	}
	if rep.Duplicates > want.maxDuplicates {
		t.Errorf("%d duplicates, want at most %d", rep.Duplicates, want.maxDuplicates)
	}
	recs := kf.Records(t, topic)
	if want.order == nil {
		if rep.OutOfOrder != 0 {
			logTopicOrder(t, recs)
			t.Error(rep.String())
		}
		if worst, n := gatewaytest.MaxRewinds(recs); n > want.maxRewinds {
			t.Errorf("topic %q restarted its order %d times, want at most %d (one per redelivery)", worst, n, want.maxRewinds)
		}
	} else if err := followsOrder(recs, want.order()); err != nil {
		t.Error(err)
	}
	if dl := kf.Records(t, topic+"_dlq"); len(dl) != 0 {
		t.Errorf("%d dead letters, want none; first: %s", len(dl), dl[0].Value)
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if s := gw.Stats(); s.InFlight != 0 || !s.MQTTConnected {
			return fmt.Errorf("in flight %d, mqtt connected %v; want 0 and true", s.InFlight, s.MQTTConnected)
		}
		return nil
	})
}

// brokerOrder returns, per MQTT topic, the seqs of msgs in the order mq first sent them to
// clientID. mq must log with gatewaytest.MosquittoLogAll, and each topic's messages must have
// reached the broker in slice order (as a faultLoad publishes them).
func brokerOrder(t *testing.T, mq *gatewaytest.Broker, clientID string, msgs []gatewaytest.PublishMsg) map[string][]int64 {
	t.Helper()
	ranks, err := gatewaytest.MosquittoSendOrder(mq.LogFile(), clientID)
	if err != nil {
		t.Fatal(err)
	}
	published := make(map[string][]int64)
	for _, m := range msgs {
		published[m.Topic] = append(published[m.Topic], m.Seq)
	}
	out := make(map[string][]int64, len(ranks))
	for topic, rs := range ranks {
		for _, r := range rs {
			if r >= len(published[topic]) {
				t.Fatalf("broker sent %d messages of %q, %d were published", len(rs), topic, len(published[topic]))
			}
			out[topic] = append(out[topic], published[topic][r])
		}
	}
	return out
}

// followsOrder reports the first MQTT topic whose first copies in recs are not exactly the
// seqs of order[topic], in that order.
func followsOrder(recs []*kgo.Record, order map[string][]int64) error {
	first := make(map[string][]int64)
	seen := make(map[string]map[int64]bool)
	for _, r := range recs {
		topic, seq, err := gatewaytest.RecordIdentity(r)
		if err != nil || seen[topic][seq] {
			continue
		}
		if seen[topic] == nil {
			seen[topic] = make(map[int64]bool)
		}
		seen[topic][seq] = true
		first[topic] = append(first[topic], seq)
	}
	for topic, want := range order {
		got := first[topic]
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || got[i] != want[i] {
				return fmt.Errorf("topic %q: Kafka's first copies leave the broker's order at position %d:\n  kafka  %v\n  broker %v",
					topic, i, got[max(i-3, 0):min(i+4, len(got))], want[max(i-3, 0):min(i+4, len(want))])
			}
		}
	}
	if len(first) != len(order) {
		return fmt.Errorf("%d MQTT topics in Kafka, the broker sent %d", len(first), len(order))
	}
	return nil
}

// waitOut waits until the gateway has produced at least n records on its first route.
func waitOut(t *testing.T, gw *running, n uint64) {
	t.Helper()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if out := gw.Stats().Routes[0].Out; out < n {
			return fmt.Errorf("%d records produced, want at least %d", out, n)
		}
		return nil
	})
}

// waitBacklog waits until the broker holds at least n messages of the loads that the gateway
// has not taken: published minus received by the first route.
func waitBacklog(t *testing.T, gw *running, n int64, loads ...*faultLoad) {
	t.Helper()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		var published int64
		for _, l := range loads {
			published += l.sent.Load()
		}
		if held := published - int64(gw.Stats().Routes[0].In); held < n {
			return fmt.Errorf("the broker holds %d messages for the gateway, want at least %d", held, n)
		}
		return nil
	})
}

// TestFault_MQTTNetwork cuts, or silently pauses, the network between the gateway and
// Mosquitto under load. The gateway notices by itself (a closed connection, or keep-alive on a
// half-open one), reconnects to its persistent session when the network is back, and nothing
// is lost.
func TestFault_MQTTNetwork(t *testing.T) {
	tests := []struct {
		name        string
		fault, heal func(*gatewaytest.FaultProxy)
		keepAlive   time.Duration // 0: the default
	}{
		{"cut", (*gatewaytest.FaultProxy).Cut, (*gatewaytest.FaultProxy).Restore, 0},
		// Keep-alive finds a half-open network: paho misses its PINGRESP, or Mosquitto hears
		// nothing from the gateway for 1.5 keep-alives and closes its side. Not much shorter:
		// while the gateway works through the backlog, a PINGRESP waits behind it.
		{"half-open", (*gatewaytest.FaultProxy).Pause, (*gatewaytest.FaultProxy).Resume, 2 * time.Second},
	}
	mq := gatewaytest.Mosquitto(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kf := gatewaytest.Kafka(t)
			px := gatewaytest.Proxy(t, mq.Addr())
			topic := "mqtt_fault_" + strings.ReplaceAll(tc.name, "-", "_")
			cfg := faultConfig(t, px.URL(), kf, route("r", "mf"+tc.name+"/#", 2, topic))
			if tc.keepAlive > 0 {
				cfg.MQTT.KeepAlive = tc.keepAlive
			}
			gw := startGateway(t, cfg)
			q1, q2 := faultTraffic("mf"+tc.name, 3000)
			l1 := startFaultLoad(t, mq.URL(), 1, q1)
			l2 := startFaultLoad(t, mq.URL(), 2, q2)
			waitOut(t, gw, 500)

			tc.fault(px)
			// Bounded detection: a cut closes the connection at once; a half-open network is
			// found by keep-alive within about two intervals.
			gatewaytest.WaitFor(t, 15*time.Second, func() error {
				if gw.Stats().MQTTConnected {
					return errors.New("gateway has not noticed the broken network")
				}
				return nil
			})
			during := gw.Stats().Routes[0].Out
			// The load goes on while the gateway is away, a few seconds: the broker queues it in
			// the gateway's session. Healing only after the load ends keeps Mosquitto's own
			// order (see faultWant.order).
			l1.wait(t, 30*time.Second)
			l2.wait(t, 30*time.Second)
			if s := gw.Stats(); s.MQTTConnected || s.Routes[0].Out > during+faultMaxInFlight {
				t.Fatalf("while the network was broken: connected %v, %d records produced after the break (in flight at most %d)",
					s.MQTTConnected, s.Routes[0].Out-during, faultMaxInFlight)
			}
			tc.heal(px)
			// The gateway reconnects by itself, to the same session.
			gatewaytest.WaitFor(t, 15*time.Second, func() error {
				if !gw.Stats().MQTTConnected {
					return errors.New("gateway has not reconnected")
				}
				return nil
			})
			if !strings.Contains(gw.logs.String(), "session_present=true") {
				t.Errorf("the gateway reconnected without its session: no session_present=true in its logs")
			}
			msgs := append(q1, q2...)
			kf.WaitDelivered(t, topic, msgs, 30*time.Second)
			// A reconnection redelivers what the gateway received but the broker never saw
			// acknowledged, and each redelivery starts at most one new run per topic. Every
			// duplicate in Kafka must be such a redelivery: the gateway never produces one
			// message twice by itself.
			reconnects := int(metricValue(t, gw, "tributary_mqtt_connects_total")) - 1
			if reconnects < 1 {
				t.Fatalf("%d reconnections after the fault, want at least 1", reconnects)
			}
			gatewaytest.WaitFor(t, 10*time.Second, func() error {
				if n := gw.Stats().InFlight; n != 0 {
					return fmt.Errorf("%d messages in flight after delivery", n)
				}
				return nil
			})
			received, _ := metricSum(t, gw, "tributary_mqtt_messages_received_total")
			redelivered := int(received) - len(msgs)
			t.Logf("%d reconnection(s), %d messages redelivered by the broker", reconnects, redelivered)
			checkFaultDelivery(t, gw, kf, topic, msgs, faultWant{maxDuplicates: redelivered, maxRewinds: reconnects})
		})
	}
}

// TestFault_KafkaNetworkCut cuts the network between the gateway and Kafka under load. The
// producer retries, the gateway stops taking messages at flow.max_in_flight and Mosquitto
// holds the rest; after the network is back everything arrives.
func TestFault_KafkaNetworkCut(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf, kp := gatewaytest.KafkaBehindProxy(t)
	if b := kf.Brokers(); len(b) != 1 || b[0] != kp.Addr() {
		t.Fatalf("kafka brokers %v, want only the proxy %s", b, kp.Addr())
	}
	cfg := faultConfig(t, mq.URL(), kf, route("r", "kcut/#", 2, "kafka_cut"))
	gw := startGateway(t, cfg)
	q1, q2 := faultTraffic("kcut", 3000)
	l1 := startFaultLoad(t, mq.URL(), 1, q1)
	l2 := startFaultLoad(t, mq.URL(), 2, q2)
	waitOut(t, gw, 500)

	samples := sampleInFlight(t, gw)
	kp.Cut()
	// The gateway stops taking messages once max_in_flight are unacknowledged, while the load
	// goes on: the broker builds a backlog. (In flight may stay a little below the bound: paho
	// sends acknowledgements in receive order, so one held back by an earlier message still in
	// flight keeps its slot at the broker.)
	waitBacklog(t, gw, 1000, l1, l2)
	l1.wait(t, 30*time.Second)
	l2.wait(t, 30*time.Second)
	s := gw.Stats()
	if g := metricValue(t, gw, "tributary_messages_in_flight"); s.InFlight == 0 || s.InFlight > faultMaxInFlight || g > faultMaxInFlight {
		t.Fatalf("while kafka was cut: %d in flight (gauge %v), want 1 to %d", s.InFlight, g, faultMaxInFlight)
	}
	held := len(q1) + len(q2) - int(s.Routes[0].In)
	t.Logf("kafka cut: %d produced, %d in flight, %d held by the broker", s.Routes[0].Out, s.InFlight, held)
	kp.Restore()

	// The producer's retries of the batches cut mid-flight may duplicate up to one window.
	checkFaultDelivery(t, gw, kf, "kafka_cut", append(q1, q2...), faultWant{maxDuplicates: faultMaxInFlight, maxRewinds: 1})
	if m := samples.done(); m > faultMaxInFlight {
		t.Errorf("in flight reached %d, above max_in_flight %d", m, faultMaxInFlight)
	}
}

// TestFault_SlowKafka puts 200ms of latency between the gateway and Kafka under load. The
// gateway is throttled by its in-flight window rather than buffering without bound, and
// catches up once the latency goes.
//
// While the gateway holds back and the load goes on, Mosquitto (2.0.11 at least) sends some
// newly published messages ahead of older ones still queued for the gateway, as its own log
// shows. So the order checked here is the one the broker sent, read from that log, not the
// publish order.
func TestFault_SlowKafka(t *testing.T) {
	mq := gatewaytest.Mosquitto(t, gatewaytest.WithConfig(gatewaytest.MosquittoLogAll))
	kf, kp := gatewaytest.KafkaBehindProxy(t)
	cfg := faultConfig(t, mq.URL(), kf, route("r", "slow/#", 2, "kafka_slow"))
	gw := startGateway(t, cfg)
	q1, q2 := faultTraffic("slow", 3000)
	l1 := startFaultLoad(t, mq.URL(), 1, q1)
	l2 := startFaultLoad(t, mq.URL(), 2, q2)
	waitOut(t, gw, 500)

	samples := sampleInFlight(t, gw)
	kp.Delay(200 * time.Millisecond)
	// 200ms per produce round trip lets through at most about one window per round trip, less
	// than the load: the broker builds a backlog while the gateway keeps its window.
	waitBacklog(t, gw, 1000, l1, l2)
	slowFrom := gw.Stats().Routes[0].Out
	l1.wait(t, 30*time.Second)
	l2.wait(t, 30*time.Second)
	s := gw.Stats()
	if s.Routes[0].Out == slowFrom {
		t.Fatalf("no record produced while kafka was slow; want slow progress, not a stall")
	}
	if g := metricValue(t, gw, "tributary_messages_in_flight"); s.InFlight > faultMaxInFlight || g > faultMaxInFlight {
		t.Fatalf("while kafka was slow: %d in flight (gauge %v), want at most %d", s.InFlight, g, faultMaxInFlight)
	}
	t.Logf("slow kafka: %d produced while slow, %d in flight, %d held by the broker",
		s.Routes[0].Out-slowFrom, s.InFlight, len(q1)+len(q2)-int(s.Routes[0].In))
	kp.Delay(0)

	// Latency alone loses and repeats nothing, and the MQTT session survives it.
	msgs := append(q1, q2...)
	checkFaultDelivery(t, gw, kf, "kafka_slow", msgs, faultWant{
		order: func() map[string][]int64 { return brokerOrder(t, mq, cfg.MQTT.ClientID, msgs) },
	})
	if n := metricValue(t, gw, "tributary_mqtt_connects_total"); n != 1 {
		t.Errorf("%v mqtt connections, want 1: slow kafka must not cost the session", n)
	}
	if m := samples.done(); m > faultMaxInFlight {
		t.Errorf("in flight reached %d, above max_in_flight %d", m, faultMaxInFlight)
	}
}

func TestFaultHelpers_Rewinds(t *testing.T) {
	rec := func(topic string, seq int64) *kgo.Record {
		return &kgo.Record{Value: gatewaytest.Payload(topic, seq)}
	}
	tests := []struct {
		name      string
		recs      []*kgo.Record
		wantTopic string
		wantN     int
	}{
		{"in order", []*kgo.Record{rec("a", 1), rec("b", 2), rec("a", 3)}, "", 0},
		{"one redelivery", []*kgo.Record{rec("a", 1), rec("a", 3), rec("a", 1), rec("a", 3), rec("a", 5)}, "a", 1},
		{"worst topic", []*kgo.Record{rec("a", 2), rec("a", 1), rec("b", 2), rec("b", 2), rec("b", 1)}, "b", 2},
		{"no identity skipped", []*kgo.Record{rec("a", 2), {Value: []byte("x")}, rec("a", 3)}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic, n := gatewaytest.MaxRewinds(tc.recs)
			if topic != tc.wantTopic || n != tc.wantN {
				t.Errorf("MaxRewinds = %q, %d; want %q, %d", topic, n, tc.wantTopic, tc.wantN)
			}
		})
	}
}

// logTopicOrder logs, in Kafka order, the records of the first MQTT topic whose first copies
// are out of publish order, to show how its order broke.
func logTopicOrder(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	seen := make(map[string]map[int64]bool)
	last := make(map[string]int64)
	var name string
	for _, r := range recs {
		tp, seq, err := gatewaytest.RecordIdentity(r)
		if err != nil || seen[tp][seq] {
			continue
		}
		if seen[tp] == nil {
			seen[tp] = make(map[int64]bool)
		}
		seen[tp][seq] = true
		if l, ok := last[tp]; ok && seq < l {
			name = tp
			break
		}
		last[tp] = seq
	}
	if name == "" {
		return
	}
	var seqs []string
	for _, r := range recs {
		if tp, seq, err := gatewaytest.RecordIdentity(r); err == nil && tp == name {
			seqs = append(seqs, fmt.Sprintf("p%d@%d:%d", r.Partition, r.Offset, seq))
		}
	}
	t.Logf("topic %q in Kafka order (partition@offset:seq): %s", name, strings.Join(seqs, " "))
}

func TestFaultHelpers_MosquittoSendOrder(t *testing.T) {
	const log = `2026-11-25T06:22:42: Sending PUBLISH to gw (d0, q2, r0, m12, 'a/1', ... (180 bytes))
2026-11-25T06:22:42: Sending PUBLISH to other (d0, q1, r0, m1, 'a/1', ... (180 bytes))
2026-11-25T06:22:42: Sending PUBLISH to gw (d0, q1, r0, m10, 'a/1', ... (180 bytes))
2026-11-25T06:22:42: Received PUBACK from gw (Mid: 10, RC:0)
2026-11-25T06:22:42: Sending PUBLISH to gw (d1, q2, r0, m12, 'a/1', ... (180 bytes))
2026-11-25T06:22:42: Sending PUBLISH to gw (d0, q1, r0, m11, 'b', ... (180 bytes))
2026-11-25T06:22:42: Sending PUBLISH to gw (d0, q1, r0, m13, 'a/1', ... (180 bytes))
`
	path := filepath.Join(t.TempDir(), "mosquitto.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := gatewaytest.MosquittoSendOrder(path, "gw")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"a/1": {1, 0, 2}, "b": {0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("MosquittoSendOrder = %v, want %v", got, want)
	}
	if _, err := gatewaytest.MosquittoSendOrder(path, "nobody"); err == nil || !strings.Contains(err.Error(), "no PUBLISH sent") {
		t.Errorf("MosquittoSendOrder for an unknown client: error %v, want one saying no PUBLISH was sent", err)
	}
}

// TestFault_SubscribeBehindHeldBacklog: a reconnection while Kafka is away finds intake full,
// so the session's SUBACK waits unread behind the messages the broker sends first, past
// mqtt.connect_timeout, and the SUBSCRIBE fails. The source tries again while the connection
// lasts: once Kafka is back and the backlog drains, the gateway is ready again (before, it
// stayed unready, and a filter new to the session was never delivered, until the next
// reconnection), and nothing is lost.
func TestFault_SubscribeBehindHeldBacklog(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf, kp := gatewaytest.KafkaBehindProxy(t)
	px := gatewaytest.Proxy(t, mq.Addr())
	cfg := faultConfig(t, px.URL(), kf, route("r", "held/#", 1, "held"))
	cfg.Flow.MaxInFlight, cfg.MQTT.ReceiveMaximum = 20, 20
	gw := startGateway(t, cfg)

	kp.Cut()
	msgs := gatewaytest.Messages(gatewaytest.Topics("held/dev%02d", 5), 200)
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	px.Cut()
	gatewaytest.WaitFor(t, 15*time.Second, func() error {
		if gw.Stats().MQTTConnected {
			return errors.New("the gateway has not noticed the cut")
		}
		return nil
	})
	px.Restore()
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if !strings.Contains(gw.logs.String(), "mqtt subscribe failed") {
			return errors.New("the SUBSCRIBE after the reconnection has not failed yet")
		}
		return nil
	})
	kp.Restore()
	kf.WaitDelivered(t, "held", msgs, 60*time.Second)
	waitReady(t, gw.Gateway)
	if !strings.Contains(gw.logs.String(), "mqtt subscribe: trying again") {
		t.Error("no retry of the failed SUBSCRIBE in the logs")
	}
}
