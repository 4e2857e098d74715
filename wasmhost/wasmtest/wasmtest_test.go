package wasmtest

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// instantiate compiles and instantiates wasm in a fresh runtime that stops
// guests when ctx is done, closed with the test.
func instantiate(t *testing.T, ctx context.Context, wasm []byte) (api.Module, error) {
	t.Helper()
	rt := wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	t.Cleanup(func() { rt.Close(context.Background()) })
	cm, err := rt.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig())
}

// batch writes an input frame header announcing count messages into mod's
// input buffer and returns its pointer and length (the plugins read only
// the count).
func batch(t *testing.T, mod api.Module, count uint32) (uint64, uint64) {
	t.Helper()
	res, err := mod.ExportedFunction("tributary_alloc").Call(context.Background(), 8)
	if err != nil || res[0] == 0 {
		t.Fatalf("alloc: %v %v", res, err)
	}
	frame := binary.LittleEndian.AppendUint32([]byte{1, 0, 0, 0}, count)
	if !mod.Memory().Write(uint32(res[0]), frame) {
		t.Fatal("input buffer out of memory")
	}
	return res[0], 8
}

// handle calls tributary_handle on a batch of count messages and returns
// the result frame.
func handle(t *testing.T, mod api.Module, count uint32) []byte {
	t.Helper()
	ptr, n := batch(t, mod, count)
	res, err := mod.ExportedFunction("tributary_handle").Call(context.Background(), ptr, n)
	if err != nil {
		t.Fatal(err)
	}
	frame, ok := mod.Memory().Read(uint32(res[0]>>32), uint32(res[0]))
	if !ok {
		t.Fatalf("result frame %#x out of memory", res[0])
	}
	return frame
}

func TestPassthrough(t *testing.T) {
	mod, err := instantiate(t, context.Background(), Passthrough())
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}
	if got := handle(t, mod, 2); string(got) != string(want) {
		t.Fatalf("frame % x, want % x", got, want)
	}
}

func TestFanOut(t *testing.T) {
	mod, err := instantiate(t, context.Background(), FanOut(1000))
	if err != nil {
		t.Fatal(err)
	}
	frame := handle(t, mod, 3)
	if len(frame) != 8+3*1005 || binary.LittleEndian.Uint32(frame[4:]) != 3 {
		t.Fatalf("frame of %d bytes, header % x", len(frame), frame[:8])
	}
	for i := range 3 {
		r := frame[8+i*1005:]
		if r[0] != 0 || binary.LittleEndian.Uint32(r[1:]) != 1000 || r[5] != 1 || r[1004] != 1 {
			t.Fatalf("result %d: % x", i, r[:8])
		}
	}
}

func TestOversizedOutput(t *testing.T) {
	mod, err := instantiate(t, context.Background(), OversizedOutput(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	ptr, n := batch(t, mod, 1)
	res, err := mod.ExportedFunction("tributary_handle").Call(context.Background(), ptr, n)
	if err != nil || res[0] != PassthroughOut<<32|1<<30 {
		t.Fatalf("handle = %#x, %v", res, err)
	}
}

// TestLoops checks that each looping plugin loops where it should: its
// call (or instantiation) runs until the context ends it.
func TestLoops(t *testing.T) {
	for _, tc := range []struct {
		name, call string // call "": instantiation loops
		wasm       []byte
	}{
		{"start", "", StartLoops()},
		{"init", "tributary_init", InitLoops()},
		{"handle", "tributary_handle", HandleLoops()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			mod, err := instantiate(t, ctx, tc.wasm)
			if tc.call != "" {
				if err != nil {
					t.Fatalf("instantiate: %v", err)
				}
				_, err = mod.ExportedFunction(tc.call).Call(ctx, 0, 0)
			}
			if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the call stopped at the deadline", err)
			}
		})
	}
}

// TestDeclaredSizes checks the declared sizes and that the module compiles.
func TestDeclaredSizes(t *testing.T) {
	rt := wazero.NewRuntime(context.Background())
	defer rt.Close(context.Background())
	cm, err := rt.CompileModule(context.Background(), HugeMemory(3000))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.ExportedMemories()["memory"].Min(); got != 3000 {
		t.Fatalf("memory min %d pages, want 3000", got)
	}
	wasm := HugeTable(200_000)
	if _, err := rt.CompileModule(context.Background(), wasm); err != nil {
		t.Fatal(err)
	}
	// The table section: one funcref table, no maximum, 200000 elements.
	want := AppendULEB([]byte{4, 6, 1, 0x70, 0x00}, 200_000)
	if !contains(wasm, want) {
		t.Fatalf("no table section % x in the module", want)
	}
	if _, err := rt.CompileModule(context.Background(), DeepNesting(100)); err != nil {
		t.Fatal(err)
	}
}

// TestHugeCounts checks that each module declares its count. They are not
// compiled: wazero would die out of memory on some (see HugeCounts).
func TestHugeCounts(t *testing.T) {
	huge := AppendULEB(nil, 1<<32-1)
	for _, kind := range []Count{CountImports, CountBrTable, CountTypes, CountFunctions, CountData} {
		if wasm := HugeCounts(kind); !contains(wasm, huge) || len(wasm) > 512 {
			t.Errorf("%s: no count 2^32-1 in % x", kind, wasm)
		}
	}
	if wasm := HugeCounts(CountLocals); !contains(wasm, append(huge, I32)) {
		t.Errorf("locals: no declaration of 2^32-1 i32 in % x", wasm)
	}
}

func contains(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}
