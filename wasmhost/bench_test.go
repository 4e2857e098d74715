package wasmhost

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
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

// BenchmarkChain_HandOff measures what the host spends per message per
// stage of a chain at batch 64, with guests that take (almost) no time of
// their own (wasmtest.ConstantModule): "unchanged" answers each message
// with its payload unchanged, "rewrite" with a new 180-byte payload, a key
// and two headers, as a transforming plugin does. ns/msg/stage is the
// wall time of a Process call divided by messages and stages, so it
// includes the batch's encoding and the outputs' decoding once;
// cpu-ns/msg/stage is the process's CPU time (GC included) likewise.
func BenchmarkChain_HandOff(b *testing.B) {
	ctx := context.Background()
	const batchSize = 64
	var rewrite []byte
	rewrite = append(rewrite, 0, 1, 0, 0, 0, byte(abi.SetKey|abi.SetHeaders))
	rewrite = binary.LittleEndian.AppendUint32(rewrite, uint32(len(sensorPayload)))
	rewrite = append(rewrite, sensorPayload...)
	rewrite = binary.LittleEndian.AppendUint32(rewrite, 17)
	rewrite = append(rewrite, "bldg1-f1-r101-s000"[:17]...)
	rewrite = binary.LittleEndian.AppendUint32(rewrite, 2)
	for _, s := range []string{"unit", "fahrenheit", "source", "bench"} {
		rewrite = binary.LittleEndian.AppendUint32(rewrite, uint32(len(s)))
		rewrite = append(rewrite, s...)
	}
	guests := []struct {
		name   string
		result []byte
	}{{"unchanged", []byte{0, 1, 0, 0, 0, byte(abi.PayloadUnchanged)}}, {"rewrite", rewrite}}
	batch := make([]abi.Message, batchSize)
	for i := range batch {
		batch[i] = abi.Message{
			Topic: fmt.Sprintf("building/1/floor/2/sensor/%03d/temp", i), Payload: []byte(sensorPayload),
			ContentType: "application/json", Route: "sensors", QoS: 1, ArrivedAtMs: 1700000000000,
			Properties: []abi.Property{{Name: "site", Value: "north"}, {Name: "schema", Value: "v2"}},
		}
	}
	for _, g := range guests {
		p, err := testHostV.Compile(ctx, "bench-"+g.name, wasmtest.ConstantModule(batchSize, g.result).Bytes())
		if err != nil {
			b.Fatal(err)
		}
		for _, stages := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/stages=%d", g.name, stages), func(b *testing.B) {
				var pools []*Pool
				for range stages {
					pools = append(pools, newTestPool(b, p, "", noRecycle, 1))
				}
				c := NewChain(pools)
				if rs := c.Process(ctx, batch); rs[0].Err != nil || len(rs[0].Outputs) != 1 {
					b.Fatalf("result %+v", rs[0])
				}
				b.ReportAllocs()
				before := cpuTime()
				for b.Loop() {
					c.Process(ctx, batch)
				}
				cpu := cpuTime() - before
				n := float64(b.N * batchSize * stages)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/msg/stage")
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/msg/stage")
			})
		}
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
