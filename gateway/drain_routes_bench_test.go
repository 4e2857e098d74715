package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// BenchmarkDrainRoutes measures how fast the gateway drains a backlog of 100k QoS 1 messages
// over 1,000 topics (bench/devNNNNN/telemetry, 180-byte JSON) queued in Mosquitto for its
// persistent session, with one route (bench/#) and with 1,000 routes that each take one
// topic's messages (bench/devNNNNN/+), all to one Kafka topic (kfake), gateway in process.
// msg/s counts from the gateway's start to the last record acknowledged by Kafka, so it
// includes connecting and subscribing to every filter. Compare routes=1000 with routes=1 in
// one run; use -benchtime 1x and -count for rounds:
//
//	go test -run '^$' -bench DrainRoutes -benchtime 1x -count 3 ./gateway/
func BenchmarkDrainRoutes(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			for range b.N {
				drainRoutes(b, n, 100_000)
			}
		})
	}
}

func drainRoutes(b *testing.B, routes, count int) {
	b.StopTimer()
	mq := gatewaytest.Mosquitto(b)
	kf := gatewaytest.Kafka(b)
	topics := gatewaytest.Topics("bench/dev%05d/telemetry", 1000)
	cfg := config.Default()
	cfg.MQTT.URL = mq.URL()
	cfg.MQTT.ClientID = "drain-routes"
	cfg.Kafka.Brokers = kf.Brokers()
	cfg.Kafka.Compression = "none"
	cfg.Log.Level = "warn"
	cfg.Admin.Listen = "127.0.0.1:0"
	for i := range routes {
		from := fmt.Sprintf("bench/dev%05d/+", i)
		if routes == 1 {
			from = "bench/#"
		}
		cfg.Routes = append(cfg.Routes, config.Route{Name: fmt.Sprintf("r%d", i), From: []string{from}, QoS: 1,
			To: config.Destination{Topic: "drain", Key: config.DefaultKeyTemplate, Envelope: config.EnvelopeNone}, DeadLetter: "drain_dlq"})
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	// run starts a gateway and returns a function that stops it.
	run := func() (*gateway.Gateway, func()) {
		gw, err := gateway.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- gw.Run(ctx) }()
		return gw, func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("gateway Run: %v", err)
			}
		}
	}
	out := func(gw *gateway.Gateway) (n uint64) {
		for _, r := range gw.Stats().Routes {
			n += r.Out
		}
		return n
	}
	// A first run creates the persistent session and its subscriptions; the backlog is then
	// queued for it while no gateway runs.
	gw, stop := run()
	gatewaytest.WaitFor(b, 60*time.Second, func() error {
		if gw.AdminAddr() == "" {
			return fmt.Errorf("admin not listening yet")
		}
		resp, err := http.Get("http://" + gw.AdminAddr() + "/readyz") // connected and subscribed
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	stop()
	pub := gatewaytest.NewPublisher(b, mq.URL(), gatewaytest.WithWorkers(8))
	if err := pub.Publish(context.Background(), 1, gatewaytest.Messages(topics, count)); err != nil {
		b.Fatal(err)
	}
	pub.Close()

	b.StartTimer()
	start := time.Now()
	gw, stop = run()
	gatewaytest.WaitFor(b, 5*time.Minute, func() error {
		if n := out(gw); n < uint64(count) {
			return fmt.Errorf("%d of %d records acknowledged", n, count)
		}
		return nil
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(count)/elapsed.Seconds(), "msg/s")
	stop()
	if recs := kf.Records(b, "drain"); len(recs) < count {
		b.Fatalf("%d records in Kafka, want %d", len(recs), count)
	}
}
