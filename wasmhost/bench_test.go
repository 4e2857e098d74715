package wasmhost

import (
	"context"
	"fmt"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// BenchmarkInstance_Handle measures the host's cost per call: encode, write,
// call under a deadline, read, copy and decode. "runtime-free" uses the
// hand-assembled passthrough guest, so it is (almost) host overhead only;
// "go-guest" adds the Go test guest's own decode and encode.
func BenchmarkInstance_Handle(b *testing.B) {
	ctx := context.Background()
	pt, err := testHostV.Compile(ctx, "bench-passthrough", passthroughModule().Bytes())
	if err != nil {
		b.Fatal(err)
	}
	guests := []struct {
		name string
		p    *Plugin
	}{{"runtime-free", pt}, {"go-guest", testGuest(b)}}
	for _, g := range guests {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", g.name, n), func(b *testing.B) {
				in, err := NewInstance(ctx, testHostV, g.p, nil, Limits{RecycleAfterCalls: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
				defer in.Close(ctx)
				batch := make([]abi.Message, n)
				for i := range batch {
					batch[i] = msg(fmt.Sprintf(`{"temp":%d.5,"unit":"C"}`, i))
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := in.Handle(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
			})
		}
	}
}

// BenchmarkChain_Process measures a one-stage chain (pool borrow, outputs
// copied out) with the runtime-free passthrough guest.
func BenchmarkChain_Process(b *testing.B) {
	ctx := context.Background()
	pt, err := testHostV.Compile(ctx, "bench-chain", passthroughModule().Bytes())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			c := NewChain([]*Pool{newTestPool(b, pt, "", Limits{RecycleAfterCalls: 1 << 30}, 1)})
			batch := make([]abi.Message, n)
			for i := range batch {
				batch[i] = msg(fmt.Sprintf(`{"temp":%d.5}`, i))
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Process(ctx, batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}

// BenchmarkNewInstance measures starting an instance of the Go jsonfast guest: instantiation,
// the Go runtime's start and tributary_init. A pool pays it for each instance it starts on
// demand or as a replacement.
func BenchmarkNewInstance(b *testing.B) {
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, "bench-start", guestWasm(b, "jsonfast"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		in, err := NewInstance(ctx, testHostV, p, nil, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		_ = in.Close(ctx)
	}
}
