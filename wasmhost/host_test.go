package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestHost_Compile_errors(t *testing.T) {
	good := passthroughModule()
	without := func(export string) wasmModule {
		m := passthroughModule()
		for i := range m.funcs {
			if m.funcs[i].export == export {
				m.funcs[i].export = ""
			}
		}
		return m
	}
	wrongHandle := passthroughModule()
	wrongHandle.funcs[3] = wasmFunc{export: "tributary_handle", params: []byte{i32, i32}, results: []byte{i32}, body: []byte{0x41, 0x00}}
	unknownImport := passthroughModule()
	unknownImport.imports = []wasmImport{{module: "env", name: "abort"}}
	badLog := passthroughModule()
	badLog.imports = []wasmImport{{module: "tributary", name: "log", params: []byte{i32}}}
	unknownHost := passthroughModule()
	unknownHost.imports = []wasmImport{{module: "tributary", name: "http_get"}}
	badWasi := passthroughModule()
	badWasi.imports = []wasmImport{{module: "wasi_snapshot_preview1", name: "fd_write", params: []byte{i32}}}
	unknownWasi := passthroughModule()
	unknownWasi.imports = []wasmImport{{module: "wasi_snapshot_preview1", name: "sock_magic"}}
	noMemory := passthroughModule()
	noMemory.noExport = true
	okWasi := passthroughModule()
	okWasi.imports = []wasmImport{{module: "wasi_snapshot_preview1", name: "random_get", params: []byte{i32, i32}, results: []byte{i32}}}

	tests := []struct {
		name    string
		wasm    []byte
		wantErr []string // all must appear; none means success
	}{
		{name: "passthrough", wasm: good.bytes()},
		{name: "wasi import", wasm: okWasi.bytes()},
		{name: "not wasm", wasm: []byte("hello"), wantErr: []string{`plugin "not wasm": compile:`}},
		{name: "no marker", wasm: without("tributary_abi_v1").bytes(), wantErr: []string{"missing export tributary_abi_v1: not an ABI v1 plugin"}},
		{name: "no handle no alloc", wasm: without("tributary_handle").bytes(), wantErr: []string{"missing export tributary_handle"}},
		{name: "wrong signature", wasm: wrongHandle.bytes(), wantErr: []string{"export tributary_handle has signature (i32, i32) -> (i32), want (i32, i32) -> (i64)"}},
		{name: "unknown import", wasm: unknownImport.bytes(), wantErr: []string{"unknown import env.abort"}},
		{name: "unknown host import", wasm: unknownHost.bytes(), wantErr: []string{"unknown import tributary.http_get"}},
		{name: "log signature", wasm: badLog.bytes(), wantErr: []string{"import tributary.log has signature (i32) -> (), want (i32, i32, i32) -> ()"}},
		{name: "wasi signature", wasm: badWasi.bytes(), wantErr: []string{"import wasi_snapshot_preview1.fd_write has signature (i32) -> ()"}},
		{name: "unknown wasi", wasm: unknownWasi.bytes(), wantErr: []string{"unknown import wasi_snapshot_preview1.sock_magic"}},
		{name: "memory not exported", wasm: noMemory.bytes(), wantErr: []string{"missing export memory"}},
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
	wasm := passthroughModule().bytes()
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
	p, err := h.Compile(ctx, "pt", passthroughModule().bytes())
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
	if _, err := h.Compile(ctx, "pt", passthroughModule().bytes()); !errors.Is(err, ErrHostClosed) {
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
