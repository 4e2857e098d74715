package main

import (
	"context"
	"encoding/json"
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
)

// instance builds this plugin for wasip1 and instantiates it with cfg.
func instance(t testing.TB, cfg string) *wasmhost.Instance {
	t.Helper()
	in, err := plugintest.NewWasm(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// sensorDDATA is a typical device report: three metrics by name with
// properties absent, ~100 bytes of protobuf.
const sensorDDATA = `{"timestamp":1795580496255,"seq":12,"metrics":[
 {"name":"temperature","alias":1,"datatype":10,"double_value":21.25},
 {"name":"battery","alias":2,"datatype":9,"float_value":76.07},
 {"name":"rssi","alias":3,"datatype":3,"int_value":4294967248}]}`

func TestWasm(t *testing.T) {
	in := instance(t, `{"mode":"metric"}`)
	rs, err := in.Handle(context.Background(), []abi.Message{
		{Topic: "spBv1.0/bldg1/DDATA/gw1/r101-s000", Payload: encodePayload(t, sensorDDATA)},
		{Topic: "spBv1.0/bldg1/DBIRTH/gw1/r101-s000", Payload: encodePayload(t, birth)},
		{Topic: "spBv1.0/bldg1/DDATA/gw1/r101-s000", Payload: []byte(`{"temperature":21}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Failed || len(rs[0].Outputs) != 3 {
		t.Fatalf("DDATA: %+v", rs[0])
	}
	var rssi struct {
		Device string `json:"device_id"`
		Name   string `json:"name"`
		Value  int    `json:"value"`
	}
	if err := json.Unmarshal(rs[0].Outputs[2].Payload, &rssi); err != nil || rssi.Device != "r101-s000" || rssi.Name != "rssi" || rssi.Value != -48 {
		t.Errorf("rssi record %s (%v)", rs[0].Outputs[2].Payload, err)
	}
	if rs[1].Failed || len(rs[1].Outputs) != 22 {
		t.Errorf("DBIRTH: failed %v err %q, %d outputs, want 22", rs[1].Failed, rs[1].Err, len(rs[1].Outputs))
	}
	if !rs[2].Failed || !strings.Contains(rs[2].Err, "DDATA payload") {
		t.Errorf("JSON payload: %+v, want a rejection", rs[2])
	}
}

// BenchmarkWasm measures ns/message through wasmhost on batches of 64
// sensor DDATA payloads, in both modes.
func BenchmarkWasm(b *testing.B) {
	for _, mode := range []string{"payload", "metric"} {
		b.Run(mode, func(b *testing.B) {
			in := instance(b, `{"mode":"`+mode+`"}`)
			batch := make([]abi.Message, 64)
			for i := range batch {
				batch[i] = abi.Message{Topic: "spBv1.0/bldg1/DDATA/gw1/r101-s000", Payload: encodePayload(b, sensorDDATA)}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Handle(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
		})
	}
}

func BenchmarkNative(b *testing.B) {
	for _, mode := range []string{"payload", "metric"} {
		b.Run(mode, func(b *testing.B) {
			if err := sdkInit(`{"mode":"` + mode + `"}`); err != nil {
				b.Fatal(err)
			}
			batch := make([]abi.Message, 64)
			for i := range batch {
				batch[i] = abi.Message{Topic: "spBv1.0/bldg1/DDATA/gw1/r101-s000", Payload: encodePayload(b, sensorDDATA)}
			}
			frame := abi.AppendBatch(nil, batch)
			b.ReportAllocs()
			for b.Loop() {
				if len(handleFrame(frame)) == 0 {
					b.Fatal("empty result frame")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
		})
	}
}
