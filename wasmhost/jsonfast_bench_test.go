package wasmhost

import (
	"context"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// BenchmarkGuestNop measures a Go SDK guest that does nothing (the
// jsonfastnop guest) per message, at batch 1 and 64, with and without
// termination checks: the floor under every Go SDK plugin.
func BenchmarkGuestNop(b *testing.B) {
	p, err := testHostV.Compile(context.Background(), "jsonfastnop", guestWasm(b, "jsonfastnop"))
	if err != nil {
		b.Fatal(err)
	}
	benchSensorBatches(b, "", p, func(b *testing.B, in *Instance, batch []abi.Message) {
		loopPerMsg(b, len(batch), func() {
			if _, err := in.Handle(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkJSONImports_call measures one call of a JSON import from a guest
// with no language runtime (export call included; "none" is the export
// call alone), without termination checks, on the `{"a":1}` document.
func BenchmarkJSONImports_call(b *testing.B) {
	const out = 4096
	none := passthroughModule()
	none.Funcs[3].Body = []byte{0x42, 0x00}
	mods := []struct {
		name string
		wasm []byte
	}{
		{"none", none.Bytes()},
		{"json_get", jsonCallerModule(importJSONGet, 64, 7, 96, 1)},
		{"json_set", jsonCallerModule(importJSONSet, 64, 7, 96, 1, 100, 1, out, 64)},
	}
	ctx := context.Background()
	for _, m := range mods {
		b.Run(m.name, func(b *testing.B) {
			p, err := testHostV.Compile(ctx, "bench-"+m.name, m.wasm)
			if err != nil {
				b.Fatal(err)
			}
			in, err := NewInstance(ctx, testHostV, p, nil, Limits{Trusted: true})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close(ctx)
			b.ReportAllocs()
			for b.Loop() {
				in.stack[0], in.stack[1] = 0, 0
				if err := in.call(ctx, in.handle); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

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
