package gateway_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestInFlightBytesBoundHoldsMemory sends large incompressible messages to a gateway whose
// Kafka has stalled, with max_in_flight far above what memory allows and
// flow.max_in_flight_bytes of 16 MiB. The gateway holds at most 16 MiB of messages (the
// tracker's count and the tributary_messages_in_flight_bytes gauge), the test process's live
// heap grows by less than heapBound (the messages held, the producer's request buffers and
// the publisher's last message), the broker keeps the rest, and once Kafka answers again
// every message arrives. Without the byte bound the gateway takes all 60 MiB and the heap
// check fails. It runs on both protocols: with MQTT 3.1.1 there is no Receive Maximum, so
// only the session's not reading (the handler and read gate waiting) keeps the backlog at
// the broker.
func TestInFlightBytesBoundHoldsMemory(t *testing.T) {
	forEachProtocol(t, testInFlightBytesBoundHoldsMemory)
}

func testInFlightBytesBoundHoldsMemory(t *testing.T, protocol string) {
	const (
		payloadBytes = 512 << 10
		count        = 120 // 60 MiB in all
		maxBytes     = 16 << 20
		heapBound    = 32 << 20 // maxBytes plus 16 MiB for buffers; the 60 MiB would not fit
		topicPrefix  = "big/"
	)
	mq := gatewaytest.Mosquitto(t)
	kf, kp := gatewaytest.KafkaBehindProxy(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "big/#", 1, "big"))
	cfg.Flow.MaxInFlight = 1000
	cfg.Flow.MaxInFlightBytes = maxBytes
	cfg.MQTT.Protocol = protocol
	gw := startGateway(t, cfg)

	baseline := liveHeap()
	t.Logf("%v: publishing", time.Now().Format("15:04:05.000"))
	kp.Pause() // Kafka stalls: connections stay open, nothing answers

	// Publish one message at a time, so the test process keeps no copy of the payloads: only
	// their digests, to check what Kafka gets at the end.
	digests := map[[32]byte]bool{}
	pub := gatewaytest.NewPublisher(t, mq.URL())
	for i := range count {
		payload := make([]byte, payloadBytes)
		rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(payload)
		digests[sha256.Sum256(payload)] = true
		msg := gatewaytest.PublishMsg{Topic: fmt.Sprintf("%sdev%02d", topicPrefix, i%10), Payload: payload}
		if err := pub.Publish(context.Background(), 1, []gatewaytest.PublishMsg{msg}); err != nil {
			t.Fatal(err)
		}
	}
	pub.Close()
	t.Logf("%v: published", time.Now().Format("15:04:05.000"))

	// The gateway fills its byte budget and stops there: as many messages as fit in 16 MiB.
	msgSize := int64(payloadBytes + len(topicPrefix+"dev00"))
	want := int(maxBytes / msgSize)
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if s := gw.Stats(); s.InFlight < want {
			return fmt.Errorf("%d in flight (%d bytes), want %d", s.InFlight, s.InFlightBytes, want)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // room for a wrong admission to show
	s := gw.Stats()
	gauge := metricValue(t, gw, "tributary_messages_in_flight_bytes")
	heap := liveHeap() - baseline
	t.Logf("kafka stalled: %d messages, %d bytes in flight (gauge %.0f); live heap %+.1f MiB over the baseline",
		s.InFlight, s.InFlightBytes, gauge, float64(heap)/(1<<20))
	if s.InFlightBytes > maxBytes || gauge > maxBytes || s.InFlight > want {
		t.Fatalf("in flight %d messages, %d bytes (gauge %.0f): above max_in_flight_bytes %d", s.InFlight, s.InFlightBytes, gauge, maxBytes)
	}
	if heap > heapBound {
		t.Fatalf("live heap grew by %.1f MiB, above %d MiB", float64(heap)/(1<<20), heapBound>>20)
	}
	if s.Routes[0].In >= count {
		t.Fatalf("the gateway took all %d messages while Kafka stalled", s.Routes[0].In)
	}

	t.Logf("%v: resuming kafka", time.Now().Format("15:04:05.000"))
	kp.Resume()
	// Wait on the gateway's count, then read Kafka once: each read fetches all 60 MiB.
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if out := gw.Stats().Routes[0].Out; out < count {
			return fmt.Errorf("%d of %d records acknowledged by kafka", out, count)
		}
		return nil
	})
	recs := kf.WaitRecords(t, "big", count, 20*time.Second)
	t.Logf("%v: all in kafka", time.Now().Format("15:04:05.000"))
	for _, r := range recs {
		delete(digests, sha256.Sum256(r.Value))
	}
	if len(digests) != 0 {
		t.Fatalf("%d of %d messages missing from Kafka (%d records)", len(digests), count, len(recs))
	}
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if s := gw.Stats(); s.InFlight != 0 || s.InFlightBytes != 0 {
			return fmt.Errorf("%d messages, %d bytes still in flight", s.InFlight, s.InFlightBytes)
		}
		return nil
	})
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
