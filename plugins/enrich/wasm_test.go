package main

import (
	"context"
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"os"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
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

func TestWasm(t *testing.T) {
	in := instance(t, `{"key_field":"device_id","on_miss":"dead_letter",`+tableCfg+`}`)
	batch := []abi.Message{
		{Topic: "b/1", Payload: []byte(sensor)},
		{Topic: "b/2", Payload: []byte(`{"device_id":"unknown"}`)},
		{Topic: "b/3", Payload: []byte(`not json`)},
	}
	rs, err := in.Handle(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		strings.TrimSuffix(sensor, "}") + `,"site":"HQ","zone":{"id":7},"tags":["a","b"]}`,
		`!enrich: key "unknown" not in table`,
		"!enrich: payload is not JSON",
	}
	for i, r := range rs {
		if got := describe(r); !strings.HasPrefix(got, want[i]) {
			t.Errorf("message %d: got %s, want %s", i, got, want[i])
		}
	}
}

func TestWasmInitError(t *testing.T) {
	ctx := context.Background()
	wasm, err := os.ReadFile(sdktest.Build(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	host, err := wasmhost.NewHost(ctx, wasmhost.HostConfig{Extensions: jsonimports.Functions()})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(ctx)
	p, err := host.Compile(ctx, "enrich", wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wasmhost.NewInstance(ctx, host, p, []byte(`{"key_field":"a","on_miss":"skip","table":{"k":{}}}`), wasmhost.Limits{})
	if err == nil || !strings.Contains(err.Error(), "on_miss") {
		t.Fatalf("NewInstance error = %v, want one naming on_miss", err)
	}
}

// BenchmarkWasm measures ns/message through wasmhost on batches of 64
// ~180-byte sensor payloads that all hit the table.
func BenchmarkWasm(b *testing.B) {
	in := instance(b, `{"key_field":"device_id",`+tableCfg+`}`)
	batch := make([]abi.Message, 64)
	for i := range batch {
		batch[i] = abi.Message{Topic: "s/1", Payload: []byte(sensor)}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Handle(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
}
