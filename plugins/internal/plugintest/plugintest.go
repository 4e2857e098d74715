// Package plugintest holds the test helpers of the first-party plugins: running a plugin
// natively through the SDK's frame path and as real wasm through wasmhost, on the realistic
// sensor message the benchmarks use. Each plugin is its own main package, so the helpers
// live here rather than in each plugin's tests.
//
// Only tests import it; it may import wasmhost, which plugins themselves never do.
package plugintest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// SensorPayload is the realistic ~180-byte reading the benchmarks use.
const SensorPayload = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature","ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

// SensorTopic is the MQTT topic SensorPayload arrives on.
const SensorTopic = "building/floor1/room101/sensor/s000/temperature"

// Msg is a message on topic with payload, as the gateway hands it over.
func Msg(topic, payload string) abi.Message {
	return abi.Message{Topic: topic, Payload: []byte(payload), Route: "test", QoS: 1, ArrivedAtMs: 1795580496300}
}

// Describe renders the result r of input in as lines: "error: TEXT",
// "filtered", or one line per output with its payload and, when set, its
// Kafka topic and key.
func Describe(in abi.Message, r abi.Result) []string {
	if r.Failed {
		return []string{"error: " + r.Err}
	}
	if len(r.Outputs) == 0 {
		return []string{"filtered"}
	}
	var lines []string
	for _, o := range r.Outputs {
		m := o.Apply(in)
		line := string(m.Payload)
		if o.Flags&abi.SetKafkaTopic != 0 {
			line += " topic=" + m.KafkaTopic
		}
		if o.Flags&abi.SetKey != 0 {
			line += " key=" + string(m.Key)
		}
		lines = append(lines, line)
	}
	return lines
}

// RunNative initialises the plugin with cfg natively and runs in through it.
func RunNative(t *testing.T, cfg string, in abi.Message) []string {
	t.Helper()
	if err := sdk.Init([]byte(cfg)); err != nil {
		t.Fatalf("init %s: %v", cfg, err)
	}
	rs, err := sdk.Process(in)
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return Describe(in, rs[0])
}

// CheckLines compares got with want, ignoring nothing; for errors a want of
// "error: ~TEXT" matches any error containing TEXT.
func CheckLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(want) == 1 && strings.HasPrefix(want[0], "error: ~") && len(got) == 1 {
		if !strings.HasPrefix(got[0], "error: ") || !strings.Contains(got[0], strings.TrimPrefix(want[0], "error: ~")) {
			t.Fatalf("got %q, want an error containing %q", got, strings.TrimPrefix(want[0], "error: ~"))
		}
		return
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// NewWasm builds this plugin for wasip1 and compiles it (both once per test binary, the
// compilation kept in the compile cache that test binaries share) and returns an instance
// initialised with cfg, closed at the end of the test; an init failure is returned as the
// error. The call timeout is generous: tests and benchmarks share a loaded machine, and
// limits are wasmhost's tests' job.
func NewWasm(t testing.TB, cfg string) (*wasmhost.Instance, error) {
	t.Helper()
	ctx := context.Background()
	compiled.once.Do(func() { compiled.plugin, compiled.err = compilePlugin(t) })
	if compiled.err != nil {
		t.Fatal(compiled.err)
	}
	inst, err := wasmhost.NewInstance(ctx, compiled.host, compiled.plugin, []byte(cfg), wasmhost.Limits{CallTimeout: time.Minute})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = inst.Close(ctx) })
	return inst, nil
}

// compiled is this test binary's plugin, compiled once by NewWasm's first call and kept for
// the life of the process.
var compiled struct {
	once   sync.Once
	host   *wasmhost.Host
	plugin *wasmhost.Plugin
	err    error
}

// compilePlugin builds the plugin in the working directory and compiles it in a Host whose
// cache is the one test binaries share (or none, when that cannot be had).
func compilePlugin(t testing.TB) (*wasmhost.Plugin, error) {
	ctx := context.Background()
	wasm, err := os.ReadFile(sdktest.Build(t, "."))
	if err != nil {
		return nil, err
	}
	hc := wasmhost.HostConfig{Extensions: jsonimports.Functions()}
	if dir, err := wasmtest.CompileCacheDir(); err == nil {
		hc.CacheDir = dir
	}
	compiled.host, err = wasmhost.NewHost(ctx, hc)
	if err != nil {
		return nil, err
	}
	return compiled.host.Compile(ctx, "plugin", wasm)
}

// RunWasm runs msgs through inst and describes each result.
func RunWasm(t *testing.T, inst *wasmhost.Instance, msgs ...abi.Message) [][]string {
	t.Helper()
	rs, err := inst.Handle(context.Background(), msgs)
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	out := make([][]string, len(rs))
	for i, r := range rs {
		out[i] = Describe(msgs[i], r)
	}
	return out
}

// Fleet returns n copies of m as if from n sensors, the benchmarks' batch:
// the level "s000" of m's topic becomes s000, s001, ... in turn, so that
// work per distinct topic (such as allocating it as a string in a wasm
// guest) costs in a benchmark what it costs with a real fleet. Topics
// without that level are copied unchanged.
func Fleet(m abi.Message, n int) []abi.Message {
	batch := make([]abi.Message, n)
	for i := range batch {
		batch[i] = m
		batch[i].Topic = strings.Replace(m.Topic, "/s000", fmt.Sprintf("/s%03d", i), 1)
	}
	return batch
}

// BenchNative measures the plugin natively on batches of 64 copies of m
// from a fleet (see [Fleet])
// through the SDK's frame path and reports ns/Msg.
func BenchNative(b *testing.B, cfg string, m abi.Message) {
	if err := sdk.Init([]byte(cfg)); err != nil {
		b.Fatal(err)
	}
	const n = 64
	frame := abi.AppendBatch(nil, Fleet(m, n))
	checkBenchResult(b, sdk.HandleFrame(frame), n)
	b.ReportAllocs()
	for b.Loop() {
		sdk.HandleFrame(frame)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/Msg")
}

// BenchWasm measures the plugin as wasm through wasmhost on batches of 64
// copies of m from a fleet (see [Fleet]) and reports ns/Msg.
func BenchWasm(b *testing.B, cfg string, m abi.Message) {
	inst, err := NewWasm(b, cfg)
	if err != nil {
		b.Fatal(err)
	}
	const n = 64
	batch := Fleet(m, n)
	ctx := context.Background()
	rs, err := inst.Handle(ctx, batch)
	if err != nil {
		b.Fatal(err)
	}
	if rs[0].Failed {
		b.Fatalf("benchmark message fails: %s", rs[0].Err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Handle(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/Msg")
}

func checkBenchResult(b *testing.B, frame []byte, n int) {
	rs, err := abi.DecodeResults(frame, n, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	if rs[0].Failed {
		b.Fatalf("benchmark message fails: %s", rs[0].Err)
	}
}
