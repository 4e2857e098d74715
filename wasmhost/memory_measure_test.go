package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

// TestMemory_Tenants measures what plugin instances cost in memory, the way the gateway runs
// them: tenants (20) each with a one-stage chain of the same Go SDK plugin (testdata/guests/
// jsonfast, which allocates per message), each tenant its own Plugin handle and Pool of at
// most GOMAXPROCS instances, driven by 4×GOMAXPROCS shards per tenant (the gateway's
// defaults) with batches of 64 sensor readings. It prints the process's RSS after compiling,
// with the pools built, its peak under load (VmHWM, reset before the load), and once the
// pools have released their idle instances.
//
// It is a measurement, not a test: it runs only with TRIBUTARY_MEASURE_MEMORY=1 and asserts
// nothing about the figures. TRIBUTARY_MEASURE_TENANTS and TRIBUTARY_MEASURE_SECONDS change
// the tenants (20) and the load's duration (10).
//
//	TRIBUTARY_MEASURE_MEMORY=1 go test -run TestMemory_Tenants -v ./wasmhost/
func TestMemory_Tenants(t *testing.T) {
	if os.Getenv("TRIBUTARY_MEASURE_MEMORY") == "" {
		t.Skip("a measurement: set TRIBUTARY_MEASURE_MEMORY=1")
	}
	tenants := envInt(t, "TRIBUTARY_MEASURE_TENANTS", 20)
	seconds := envInt(t, "TRIBUTARY_MEASURE_SECONDS", 10)
	ctx := context.Background()
	wasm := guestWasm(t, "jsonfast")
	h, err := NewHost(ctx, HostConfig{CacheDir: filepath.Join(t.TempDir(), "cache"), Extensions: jsonimports.Functions()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	settle := func() uint64 {
		runtime.GC()
		debug.FreeOSMemory()
		return statusBytes(t, "VmRSS")
	}
	start := settle()
	plugins := make([]*Plugin, tenants)
	for i := range plugins {
		if plugins[i], err = h.Compile(ctx, "jsonfast", wasm); err != nil {
			t.Fatal(err)
		}
		defer plugins[i].Close()
	}
	// One instance instantiates the compiled code in the runtime (its per-class module).
	one, err := NewInstance(ctx, h, plugins[0], nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_ = one.Close(ctx)
	compiled := settle()

	size := runtime.GOMAXPROCS(0)
	idleTimeout := 2 * time.Second
	chains := make([]*Chain, tenants)
	for i := range chains {
		pool, err := NewPool(ctx, h, plugins[i], nil, Limits{IdleTimeout: idleTimeout}, size)
		if err != nil {
			t.Fatal(err)
		}
		chains[i] = NewChain([]*Pool{pool})
		defer chains[i].Close(ctx)
	}
	built := settle()

	batch := make([]abi.Message, 64)
	for i := range batch {
		batch[i] = msg(sensorPayload)
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	until := time.Now().Add(time.Duration(seconds) * time.Second)
	for _, c := range chains {
		for range 4 * runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for time.Now().Before(until) {
					for _, r := range c.Process(ctx, batch) {
						if r.Err != nil {
							failed.Add(1) // a loaded machine may time some out
						} else {
							done.Add(1)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	peak := statusBytes(t, "VmHWM")
	loaded := settle()
	idleWait := idleTimeout + time.Second
	time.Sleep(idleWait)
	idle := settle()

	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	var out bytes.Buffer
	fmt.Fprintf(&out, "%d tenants × 1-stage chain of jsonfast (%d KiB of wasm), pools of up to %d instances (idle_timeout %v), %d shards each, %ds of load\n",
		tenants, len(wasm)>>10, size, idleTimeout, 4*runtime.GOMAXPROCS(0), seconds)
	fmt.Fprintf(&out, "  process before compiling      %s\n", mib(start))
	fmt.Fprintf(&out, "  compiled code (one instance)  +%s\n", mib(compiled-start))
	fmt.Fprintf(&out, "  pools built                   %s (+%s per tenant)\n", mib(built), mib((built-compiled)/uint64(tenants)))
	fmt.Fprintf(&out, "  peak under load (VmHWM)       %s; %d msg in %ds (%.0f msg/s, %d failed)\n", mib(peak), done.Load(), seconds, float64(done.Load())/float64(seconds), failed.Load())
	fmt.Fprintf(&out, "  after the load                %s (+%s per tenant)\n", mib(loaded), mib((loaded-compiled)/uint64(tenants)))
	fmt.Fprintf(&out, "  after %v idle                %s (+%s per tenant beyond the compiled code)\n", idleWait, mib(idle), mib((max(idle, compiled)-compiled)/uint64(tenants)))
	t.Log("\n" + out.String())
}

// envInt reads a positive integer from the environment variable name, or def when unset.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// statusBytes is procStatus (a size field of /proc/self/status), failing t when unknown.
func statusBytes(t *testing.T, field string) uint64 {
	n := procStatus(field)
	if n <= 0 {
		t.Fatalf("/proc/self/status: no %s", field)
	}
	return uint64(n)
}
