package abi_test

import (
	"fmt"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

func benchBatch(n int) []abi.Message {
	msgs := make([]abi.Message, n)
	for i := range msgs {
		msgs[i] = abi.Message{
			Topic:   fmt.Sprintf("building/floor2/sensor/%03d/temp", i%4),
			Payload: []byte(`{"device":"s-017","ts":1732500000123,"temp":21.37,"hum":48.2,"unit":"C","battery":{"pct":87,"v":3.71},"tags":["floor2","north"]}`),
			Route:   "building-sensors", QoS: 1, ArrivedAtMs: 1732500000123,
			Properties: []abi.Property{{"unit", "C"}},
		}
	}
	return msgs
}

func reportPerMsg(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
}

func BenchmarkAppendBatch(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			msgs := benchBatch(n)
			buf := abi.AppendBatch(nil, msgs)
			b.ReportAllocs()
			for b.Loop() {
				buf = abi.AppendBatch(buf[:0], msgs)
			}
			reportPerMsg(b, n)
		})
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			frame := abi.AppendBatch(nil, benchBatch(n))
			into, _ := abi.DecodeBatch(frame, nil)
			b.ReportAllocs()
			for b.Loop() {
				into, _ = abi.DecodeBatch(frame, into)
			}
			reportPerMsg(b, n)
		})
	}
}

func BenchmarkDecodeResults(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rs := make([]abi.Result, n)
			for i := range rs {
				rs[i].Outputs = []abi.Output{{Payload: benchBatch(1)[0].Payload, Flags: abi.SetKey, Key: []byte("s-017")}}
			}
			frame := abi.AppendResults(nil, rs)
			into, _ := abi.DecodeResults(frame, n, 16, nil)
			b.ReportAllocs()
			for b.Loop() {
				into, _ = abi.DecodeResults(frame, n, 16, into)
			}
			reportPerMsg(b, n)
		})
	}
}
