//go:build unix

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
)

// BenchmarkFirstPartyChain runs the 3-stage chain of first-party plugins of
// issue 15 (topic-fields, units, filter, with the configs of the README's
// drain benchmark) on batches of 64 bench-like messages from 64 topics
// through a wasmhost.Chain: host and guests together. ns/msg is wall time per
// message for the whole chain; cpu-ns/msg is the process's CPU time
// (meaningful on a loaded machine, where wall time includes waiting for a
// core).
func BenchmarkFirstPartyChain(b *testing.B) {
	ctx := context.Background()
	stages := []struct{ name, config string }{
		{"topic-fields", `{"pattern":"bench/{device}/{kind}","key":"{device}"}`},
		{"units", `{"conversions":[{"field":"value","unit_field":"unit","to":"fahrenheit","round":2}]}`},
		{"filter", `{"keep":{"all":[{"field":"metric","op":"in","values":["temperature","humidity"]},{"field":"value","op":">","value":-100}]}}`},
	}
	var pools []*wasmhost.Pool
	for _, s := range stages {
		wasm, err := os.ReadFile(sdktest.Build(b, filepath.Join(repoRoot(b), "plugins", s.name)))
		if err != nil {
			b.Fatal(err)
		}
		p, err := sharedHost(b).Compile(ctx, s.name, wasm)
		if err != nil {
			b.Fatal(err)
		}
		pool, err := wasmhost.NewPool(ctx, sharedHost(b), p, []byte(s.config), wasmhost.Limits{RecycleAfterCalls: 1 << 30}, 1)
		if err != nil {
			b.Fatal(err)
		}
		pools = append(pools, pool)
	}
	chain := wasmhost.NewChain(pools)
	defer chain.Close(ctx)
	batch := make([]abi.Message, 64)
	for i := range batch {
		batch[i] = abi.Message{Topic: fmt.Sprintf("bench/dev%05d/telemetry", i), Route: "bench", QoS: 1,
			ArrivedAtMs: 1764045000123, Payload: fmt.Appendf(nil, `{"run":"r1","t":%d,"seq":%d,"ts":1764045000123456789,`+
				`"value":21.5,"metric":"temperature","humidity":40.2,"co2":612,"unit":"C","pad":"xxxxxxxxxxxxxxxxxxxx"}`, i, i)}
	}
	for i, r := range chain.Process(ctx, batch) {
		if r.Err != nil || len(r.Outputs) != 1 || r.Outputs[0].Key == nil {
			b.Fatalf("message %d: %+v", i, r)
		}
	}
	b.ReportAllocs()
	before := cpuTime()
	for b.Loop() {
		chain.Process(ctx, batch)
	}
	cpu := cpuTime() - before
	n := float64(b.N * len(batch))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/msg")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/msg")
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
