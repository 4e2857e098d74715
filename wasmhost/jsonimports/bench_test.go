package jsonimports_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
)

// BenchmarkGuestNop measures a Go SDK guest that does nothing (the
// jsonfastnop guest) per message, at batch 1 and 64, with and without
// termination checks: the floor under every Go SDK plugin.
func BenchmarkGuestNop(b *testing.B) {
	p, err := testHostV.Compile(context.Background(), "jsonfastnop", guestWasm(b, "jsonfastnop"))
	if err != nil {
		b.Fatal(err)
	}
	benchSensorBatches(b, "", p, func(b *testing.B, in *wasmhost.Instance, batch []abi.Message) {
		loopPerMsg(b, len(batch), func() {
			if _, err := in.Handle(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkJSONImports_call measures one call of a JSON import from a guest
// with no language runtime (export call included; "none" is the export
// call alone), in a bare wazero runtime without termination checks whose
// module tributary is Functions() alone, on the `{"a":1}` document.
func BenchmarkJSONImports_call(b *testing.B) {
	const out = 4096
	none := passthroughModule()
	none.Funcs[3].Body = []byte{0x42, 0x00}
	mods := []struct {
		name string
		wasm []byte
	}{
		{"none", none.Bytes()},
		{"json_get", jsonCallerModule(abi.ImportJSONGet, 64, 7, 96, 1)},
		{"json_set", jsonCallerModule(abi.ImportJSONSet, 64, 7, 96, 1, 100, 1, out, 64)},
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if err := instantiateJSON(ctx, rt); err != nil {
		b.Fatal(err)
	}
	for _, m := range mods {
		b.Run(m.name, func(b *testing.B) {
			mod, err := rt.InstantiateWithConfig(ctx, m.wasm, wazero.NewModuleConfig().WithName(m.name))
			if err != nil {
				b.Fatal(err)
			}
			defer mod.Close(ctx)
			handle := mod.ExportedFunction(abi.ExportHandle)
			stack := make([]uint64, 2)
			b.ReportAllocs()
			for b.Loop() {
				stack[0], stack[1] = 0, 0
				if err := handle.CallWithStack(ctx, stack); err != nil {
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
