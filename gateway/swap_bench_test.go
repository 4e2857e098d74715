package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

// markerVersions builds the marker guest and returns its two versions, v1 and v2: the same
// module with the marker text patched, so they differ in content hash and in what they stamp.
func markerVersions(tb testing.TB) (v1, v2 []byte) {
	tb.Helper()
	v1, err := os.ReadFile(sdktest.Build(tb, "testdata/guests/marker"))
	if err != nil {
		tb.Fatal(err)
	}
	old := []byte("tributary-test-marker:v1")
	if n := bytes.Count(v1, old); n != 1 {
		tb.Fatalf("marker guest holds its marker %d times, want 1", n)
	}
	return v1, bytes.Replace(v1, old, []byte("tributary-test-marker:v2"), 1)
}

// BenchmarkReloadSwapUnderLoad measures a plugin swap by file change under a steady load:
// the gateway's latency from a message's arrival to its record's production (arrived_at_ms
// of the envelope to the record timestamp, both in ms) before and during each swap, and the time from the file change
// to the first record the new version stamped. It runs once per b.N for about 14 s; use
// -benchtime=1x. The load is 20k msg/s at QoS 1 over 1000 topics, through real Mosquitto,
// kfake and the 3.4 MB Go marker plugin; the new version was compiled before (a warm
// compilation cache on disk), as after `tributary validate` or a previous run.
//
//	go test -run '^$' -bench ReloadSwapUnderLoad -benchtime 1x ./gateway/
func BenchmarkReloadSwapUnderLoad(b *testing.B) {
	for range b.N {
		swapUnderLoad(b, 20000)
	}
}

func swapUnderLoad(b *testing.B, rate int) {
	mq := gatewaytest.Mosquitto(b)
	kf := gatewaytest.Kafka(b)
	v1, v2 := markerVersions(b)
	root := b.TempDir()
	plugins, cache := filepath.Join(root, "plugins"), filepath.Join(root, "cache")
	for _, d := range []string{plugins, cache} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	// Warm the disk cache with both versions, as a previous run would have.
	ctx := context.Background()
	warm, err := wasmhost.NewHost(ctx, wasmhost.HostConfig{CacheDir: cache, Extensions: jsonimports.Functions()})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range [][]byte{v1, v2} {
		if _, err := warm.Compile(ctx, "marker", w); err != nil {
			b.Fatal(err)
		}
	}
	_ = warm.Close(ctx)
	place := func(w []byte) time.Time {
		tmp := filepath.Join(plugins, ".marker.tmp")
		if err := os.WriteFile(tmp, w, 0o644); err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		if err := os.Rename(tmp, filepath.Join(plugins, "marker.wasm")); err != nil {
			b.Fatal(err)
		}
		return at
	}
	place(v1)
	cfgPath := filepath.Join(root, "tributary.yaml")
	doc := fmt.Sprintf(`
mqtt: {url: %q, client_id: swap-bench}
kafka: {brokers: [%s], compression: none}
admin: {listen: "127.0.0.1:0"}
plugins: {dir: %q, cache_dir: %q}
log: {level: warn}
routes:
  - name: load
    from: ["load/#"]
    chain: [{plugin: marker}]
    to: {topic: swapped, envelope: json}
`, mq.URL(), strings.Join(kf.Brokers(), ", "), plugins, cache)
	if err := os.WriteFile(cfgPath, []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := gateway.New(cfg, gateway.WithReloadFrom(cfgPath, nil))
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- gw.Run(runCtx) }()
	defer func() { stop(); <-done }()
	gatewaytest.WaitFor(b, 30*time.Second, func() error {
		if !gw.Stats().MQTTConnected {
			return fmt.Errorf("not connected")
		}
		return nil
	})

	// Publish rate/100 messages every 10 ms.
	pub := gatewaytest.NewPublisher(b, mq.URL(), gatewaytest.WithWorkers(32))
	topics := gatewaytest.Topics("load/%d", 1000)
	var mu sync.Mutex
	var msgs []gatewaytest.PublishMsg
	pubDone := make(chan struct{})
	const duration = 14 * time.Second
	go func() {
		defer close(pubDone)
		per := rate / 100
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(duration)
		seq := int64(0)
		for now := range tick.C {
			if now.After(end) {
				return
			}
			batch := make([]gatewaytest.PublishMsg, per)
			mu.Lock()
			for i := range batch {
				topic := topics[seq%int64(len(topics))]
				batch[i] = gatewaytest.PublishMsg{Topic: topic, Seq: seq, Payload: gatewaytest.Payload(topic, seq)}
				seq++
			}
			msgs = append(msgs, batch...)
			mu.Unlock()
			if err := pub.Publish(ctx, 1, batch); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	time.Sleep(4 * time.Second)
	swaps := []time.Time{place(v2)}
	time.Sleep(5 * time.Second)
	swaps = append(swaps, place(v1))
	<-pubDone
	b.StopTimer()

	rep := kf.WaitDelivered(b, "swapped", msgs, 120*time.Second)
	if err := rep.AtLeastOnce(); err != nil {
		b.Fatal(err)
	}
	recs := kf.Records(b, "swapped")
	type sample struct {
		sent    time.Time // when the gateway received the message
		latency time.Duration
	}
	var samples []sample
	firstV2, firstV1Again := time.Time{}, time.Time{}
	last := map[string]string{}
	for _, r := range recs {
		var env struct {
			ArrivedAtMs int64 `json:"arrived_at_ms"`
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			b.Fatal(err)
		}
		arrived := time.UnixMilli(env.ArrivedAtMs)
		samples = append(samples, sample{arrived, r.Timestamp.Sub(arrived)})
		marker, topic := header(r, "marker"), string(r.Key)
		switch {
		case marker == "v2" && (firstV2.IsZero() || r.Timestamp.Before(firstV2)):
			firstV2 = r.Timestamp
		case marker == "v1" && r.Timestamp.After(swaps[1]) && (firstV1Again.IsZero() || r.Timestamp.Before(firstV1Again)):
			firstV1Again = r.Timestamp
		}
		// Per topic the versions go v1, v2, v1, never back and forth within one swap.
		if prev := last[topic]; prev != marker && prev != "" {
			last[topic+"#changes"] += "x"
		}
		last[topic] = marker
	}
	for _, topic := range topics {
		if n := len(last[topic+"#changes"]); n > 2 {
			b.Errorf("topic %s switched versions %d times over 2 swaps", topic, n)
		}
	}
	window := func(from, to time.Time) []time.Duration {
		var out []time.Duration
		for _, s := range samples {
			if !s.sent.Before(from) && s.sent.Before(to) {
				out = append(out, s.latency)
			}
		}
		return out
	}
	start := slices.MinFunc(samples, func(a, b sample) int { return a.sent.Compare(b.sent) }).sent
	steady := window(start.Add(time.Second), swaps[0].Add(-100*time.Millisecond))
	during1 := window(swaps[0], swaps[0].Add(2*time.Second))
	during2 := window(swaps[1], swaps[1].Add(2*time.Second))
	b.ReportMetric(float64(quantile(steady, 0.99).Microseconds())/1000, "steady-p99-ms")
	b.ReportMetric(float64(quantile(during1, 0.99).Microseconds())/1000, "swap-p99-ms")
	b.ReportMetric(float64(quantile(during2, 0.99).Microseconds())/1000, "swap-back-p99-ms")
	b.ReportMetric(float64(firstV2.Sub(swaps[0]).Milliseconds()), "change-to-serving-ms")
	b.ReportMetric(float64(firstV1Again.Sub(swaps[1]).Milliseconds()), "change-back-to-serving-ms")
	b.ReportMetric(float64(len(msgs))/duration.Seconds(), "published-msg/s")
	b.ReportMetric(float64(rep.Duplicates), "duplicates")
	b.Logf("%d messages; steady p50 %v p99 %v; swap to v2 p99 %v (max %v), to v1 p99 %v; change to serving %v and %v",
		len(msgs), quantile(steady, 0.5), quantile(steady, 0.99), quantile(during1, 0.99), quantile(during1, 1),
		quantile(during2, 0.99), firstV2.Sub(swaps[0]), firstV1Again.Sub(swaps[1]))
}
