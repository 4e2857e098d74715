package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

func TestHost_Compile_errors(t *testing.T) {
	good := passthroughModule()
	without := func(export string) wasmtest.Module {
		m := passthroughModule()
		for i := range m.Funcs {
			if m.Funcs[i].Export == export {
				m.Funcs[i].Export = ""
			}
		}
		return m
	}
	wrongHandle := passthroughModule()
	wrongHandle.Funcs[3] = wasmtest.Func{Export: "tributary_handle", Params: []byte{i32, i32}, Results: []byte{i32}, Body: []byte{0x41, 0x00}}
	unknownImport := passthroughModule()
	unknownImport.Imports = []wasmtest.Import{{Module: "env", Name: "abort"}}
	badLog := passthroughModule()
	badLog.Imports = []wasmtest.Import{{Module: "tributary", Name: "log", Params: []byte{i32}}}
	unknownHost := passthroughModule()
	unknownHost.Imports = []wasmtest.Import{{Module: "tributary", Name: "http_get"}}
	badWasi := passthroughModule()
	badWasi.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "fd_write", Params: []byte{i32}}}
	unknownWasi := passthroughModule()
	unknownWasi.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "sock_magic"}}
	noMemory := passthroughModule()
	noMemory.NoExport = true
	okWasi := passthroughModule()
	okWasi.Imports = []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "random_get", Params: []byte{i32, i32}, Results: []byte{i32}}}

	tests := []struct {
		name    string
		wasm    []byte
		wantErr []string // all must appear; none means success
	}{
		{name: "passthrough", wasm: good.Bytes()},
		{name: "wasi import", wasm: okWasi.Bytes()},
		{name: "not wasm", wasm: []byte("hello"), wantErr: []string{`plugin "not wasm": not a WebAssembly 1.0 module`}},
		{name: "no marker", wasm: without("tributary_abi_v1").Bytes(), wantErr: []string{"missing export tributary_abi_v1: not an ABI v1 plugin"}},
		{name: "no handle no alloc", wasm: without("tributary_handle").Bytes(), wantErr: []string{"missing export tributary_handle"}},
		{name: "wrong signature", wasm: wrongHandle.Bytes(), wantErr: []string{"export tributary_handle has signature (i32, i32) -> (i32), want (i32, i32) -> (i64)"}},
		{name: "unknown import", wasm: unknownImport.Bytes(), wantErr: []string{"unknown import env.abort"}},
		{name: "unknown host import", wasm: unknownHost.Bytes(), wantErr: []string{"unknown import tributary.http_get"}},
		{name: "log signature", wasm: badLog.Bytes(), wantErr: []string{"import tributary.log has signature (i32) -> (), want (i32, i32, i32) -> ()"}},
		{name: "wasi signature", wasm: badWasi.Bytes(), wantErr: []string{"import wasi_snapshot_preview1.fd_write has signature (i32) -> ()"}},
		{name: "unknown wasi", wasm: unknownWasi.Bytes(), wantErr: []string{"unknown import wasi_snapshot_preview1.sock_magic"}},
		{name: "memory not exported", wasm: noMemory.Bytes(), wantErr: []string{"missing export memory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := testHostV.Compile(context.Background(), tc.name, tc.wasm)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if p.Name() != tc.name || len(p.Version()) != 64 || p.Size() != len(tc.wasm) {
					t.Fatalf("plugin = %q %q %d", p.Name(), p.Version(), p.Size())
				}
				return
			}
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), `plugin "`+tc.name+`": `) {
				t.Errorf("error %q does not name the plugin", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHost_Compile_sameBytesOnce(t *testing.T) {
	ctx := context.Background()
	wasm := passthroughModule().Bytes()
	a, err := testHostV.Compile(ctx, "a", wasm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := testHostV.Compile(ctx, "b", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if a.entry != b.entry || a.Version() != b.Version() {
		t.Fatalf("same bytes compiled twice: %p %p", a.entry, b.entry)
	}
	if a.Name() != "a" || b.Name() != "b" {
		t.Fatalf("names %q %q", a.Name(), b.Name())
	}
}

func TestHost_Close(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(ctx, HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Compile(ctx, "pt", passthroughModule().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := NewPool(ctx, h, p, nil, Limits{MemoryPages: 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Handle(ctx, msgs("x")); err != nil {
		t.Fatal(err)
	}
	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.Compile(ctx, "pt", passthroughModule().Bytes()); !errors.Is(err, ErrHostClosed) {
		t.Fatalf("Compile after Close: %v, want ErrHostClosed", err)
	}
}

func TestKind_String(t *testing.T) {
	want := map[Kind]string{Trap: "trap", Timeout: "timeout", OutOfMemory: "out_of_memory", BadResult: "bad_result", Rejected: "rejected"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), s)
		}
	}
}
