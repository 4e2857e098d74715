package wasmhost

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// countFunction is a test extension tributary.test_count(n i32) -> ()
// adding n to *sum.
func countFunction(sum *atomic.Int64) hostfunc.Function {
	return hostfunc.Function{
		Name: "test_count", Params: []api.ValueType{api.ValueTypeI32}, ParamNames: []string{"n"},
		Func: func(_ context.Context, _ api.Module, stack []uint64) { sum.Add(int64(int32(stack[0]))) },
	}
}

// callerModule is the passthrough guest importing tributary.name with the
// given parameters; when call is set, its handle first calls it with i32
// constant 5 (params must then be one i32).
func callerModule(name string, params []byte, call bool) []byte {
	m := passthroughModule()
	m.Imports = []wasmtest.Import{{Module: abi.ImportModule, Name: name, Params: params}}
	if call {
		m.Funcs[3].Body = append([]byte{0x41, 5, 0x10, 0x00}, m.Funcs[3].Body...) // i32.const 5; call 0
	}
	return m.Bytes()
}

func TestNewHost_extensionErrors(t *testing.T) {
	var sum atomic.Int64
	count := countFunction(&sum)
	noFunc := count
	noFunc.Func = nil
	named := func(name string) hostfunc.Function { f := count; f.Name = name; return f }
	badNames := count
	badNames.ParamNames = []string{"a", "b"}
	tests := []struct {
		name    string
		exts    []hostfunc.Function
		wantErr string
	}{
		{"duplicate", []hostfunc.Function{count, count}, "wasmhost: extension tributary.test_count is registered twice"},
		{"log", []hostfunc.Function{named(abi.ImportLog)}, "wasmhost: extension tributary.log clashes with the ABI's own tributary.log"},
		{"no name", []hostfunc.Function{named("")}, "wasmhost: extension 0 has no name"},
		{"no func", []hostfunc.Function{noFunc}, "wasmhost: extension tributary.test_count has no implementation"},
		{"param names", []hostfunc.Function{badNames}, "wasmhost: extension tributary.test_count has 2 parameter names for 1 parameters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHost(context.Background(), HostConfig{Logger: discardLogger(), Extensions: tc.exts})
			if err == nil {
				_ = h.Close(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestHost_extensions checks that a registered extension is linked into
// module tributary and checked by the compile child as by the Host, and
// that a Host without it rejects a guest importing it, naming the import.
func TestHost_extensions(t *testing.T) {
	ctx := context.Background()
	var sum atomic.Int64
	h, err := NewHost(ctx, HostConfig{Logger: discardLogger(), Extensions: []hostfunc.Function{countFunction(&sum)}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)

	p, err := h.Compile(ctx, "counter", callerModule("test_count", []byte{i32}, true)) // in the compile child
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := NewInstance(ctx, h, p, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	for range 2 {
		if _, err := in.Handle(ctx, []abi.Message{msg("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if sum.Load() != 10 {
		t.Fatalf("test_count added %d, want 10 (5 per call)", sum.Load())
	}

	_, err = h.Compile(ctx, "mistyped", callerModule("test_count", []byte{i64}, false))
	if want := "import tributary.test_count has signature (i64) -> (), want (i32) -> ()"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	_, err = h.Compile(ctx, "json", callerModule(abi.ImportJSONGet, []byte{i32, i32, i32, i32}, false))
	if want := "unknown import tributary.json_get: not registered with this host, whose module tributary has log, test_count"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	_, err = testHostV.Compile(ctx, "counter", callerModule("test_count", []byte{i32}, true))
	if want := "unknown import tributary.test_count: not registered with this host"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
