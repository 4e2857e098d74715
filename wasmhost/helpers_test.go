package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

// One Host and one build directory per test binary: each guest is built and
// compiled once (the machine has 2 cores).
var (
	testHostV *Host
	testLogs  = &syncBuffer{}
	testObs   = &countingObserver{}
	buildDir  string // holds the compilation cache
)

func TestMain(m *testing.M) {
	code := func() int {
		ctx := context.Background()
		var err error
		if buildDir, err = os.MkdirTemp("", "wasmhost-guests-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(buildDir)
		logger := slog.New(slog.NewTextHandler(io.MultiWriter(testLogs), &slog.HandlerOptions{Level: slog.LevelDebug}))
		testHostV, err = NewHost(ctx, HostConfig{CacheDir: filepath.Join(buildDir, "cache"), Logger: logger, Observer: testObs,
			Extensions: jsonimports.Functions()}) // the jsonfast guests of the interrupt tests use them
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer testHostV.Close(ctx)
		defer sdktest.Cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

// guestWasm builds testdata/guests/<name> with sdktest.Build, once per test
// binary, and returns the module's bytes.
func guestWasm(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(sdktest.Build(tb, "./testdata/guests/"+name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testGuest compiles the test guest on the shared host. Tests on the shared
// host leave their Plugins open on purpose, so each guest is compiled once
// per test binary; the Host's Close releases them.
func testGuest(tb testing.TB) *Plugin {
	tb.Helper()
	p, err := testHostV.Compile(context.Background(), "testguest", guestWasm(tb, "testguest"))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// newTestPool makes a pool that is closed when the test ends.
func newTestPool(tb testing.TB, p *Plugin, config string, lim Limits, size int) *Pool {
	tb.Helper()
	pool, err := NewPool(context.Background(), testHostV, p, []byte(config), lim, size)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := pool.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return pool
}

// sensorPayload is the seed's ~180-byte building sensor reading.
const sensorPayload = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature",` +
	`"ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

// noRecycle keeps one instance for the whole run.
var noRecycle = Limits{RecycleAfterCalls: 1 << 30, RecycleAboveBytes: 1 << 40}

// loopPerMsg runs f in a b.Loop and reports ns/msg (wall) and cpu-ns/msg:
// the process's user+system CPU time per message, which stays meaningful
// when other processes compete for the cores (wall time then includes the
// time spent waiting for one).
func loopPerMsg(b *testing.B, batch int, f func()) {
	b.ReportAllocs()
	before := cpuTime()
	for b.Loop() {
		f()
	}
	cpu := cpuTime() - before
	msgs := float64(b.N * batch)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric(float64(cpu.Nanoseconds())/msgs, "cpu-ns/msg")
}

// msg is a message with the given payload and fixed metadata.
func msg(payload string) abi.Message {
	return abi.Message{Topic: "building/1/temp", Payload: []byte(payload), Route: "r1", QoS: 1, ArrivedAtMs: 1700000000000}
}

func msgs(payloads ...string) []abi.Message {
	out := make([]abi.Message, len(payloads))
	for i, p := range payloads {
		out[i] = msg(p)
	}
	return out
}

// waitFor polls f until it returns nil or the timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, f func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantKind checks that err is a *PluginError of kind want.
func wantKind(tb testing.TB, err error, want Kind) *PluginError {
	tb.Helper()
	pe, ok := AsPluginError(err)
	if !ok {
		tb.Fatalf("error %v (%T) is not a *PluginError", err, err)
	}
	if pe.Kind != want {
		tb.Fatalf("kind = %s, want %s (error: %v)", pe.Kind, want, err)
	}
	return pe
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.buf.String(), s)
}

// countingObserver counts events per plugin name.
type countingObserver struct {
	mu       sync.Mutex
	calls    map[string]int
	failures map[string]int
	started  map[string]int
	recycled map[string]map[RecycleReason]int
}

func (o *countingObserver) PluginCall(p *Plugin, _ int, _ int, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.calls == nil {
		o.calls, o.failures = map[string]int{}, map[string]int{}
	}
	o.calls[p.Name()]++
	if err != nil {
		o.failures[p.Name()]++
	}
}

func (o *countingObserver) InstanceStarted(p *Plugin, _ RecycleReason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started == nil {
		o.started = map[string]int{}
	}
	o.started[p.Name()]++
}

func (o *countingObserver) InstanceRecycled(p *Plugin, r RecycleReason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.recycled == nil {
		o.recycled = map[string]map[RecycleReason]int{}
	}
	if o.recycled[p.Name()] == nil {
		o.recycled[p.Name()] = map[RecycleReason]int{}
	}
	o.recycled[p.Name()][r]++
}

func (o *countingObserver) recycledFor(name string, r RecycleReason) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.recycled[name][r]
}

var _ Observer = (*countingObserver)(nil)

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (o *countingObserver) startedFor(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started[name]
}
