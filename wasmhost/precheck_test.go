package wasmhost

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// withFunc returns the passthrough plugin with one more function.
func withFunc(f wasmtest.Func) wasmtest.Module {
	m := passthroughModule()
	m.Funcs = append(m.Funcs, f)
	return m
}

// tableGrow is a body that grows table 0 by one element.
var tableGrow = []byte{0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a} // ref.null func; i32.const 1; table.grow 0; drop

func TestPrecheck_limits(t *testing.T) {
	pt := wasmtest.Passthrough()
	imported := passthroughModule()
	imported.Imports = []wasmtest.Import{{Module: "tributary", Name: "log", Params: []byte{i32, i32, i32}}}
	twoLocals := withFunc(wasmtest.Func{I32Locals: 60})
	twoLocals.Funcs = append(twoLocals.Funcs, wasmtest.Func{I32Locals: 60})
	grows := withFunc(wasmtest.Func{Body: tableGrow})
	grows.TableElems = 10
	tests := []struct {
		name    string
		wasm    []byte
		lim     ModuleLimits
		wantErr string // "": accepted
	}{
		{"passthrough", pt, ModuleLimits{}, ""},
		{"fan-out", wasmtest.FanOut(1000), ModuleLimits{}, ""},
		{"nesting 100", wasmtest.DeepNesting(100), ModuleLimits{}, ""},
		{"at every limit", withFunc(wasmtest.Func{I32Locals: 5}).Bytes(),
			ModuleLimits{MaxModuleBytes: len(withFunc(wasmtest.Func{I32Locals: 5}).Bytes()), MaxFunctions: 5, MaxTypes: 5, MaxNesting: 1, MaxControlFlow: 4, MaxLocals: 5, MaxModuleLocals: 5, MaxMemoryPages: 2}, ""},
		{"module bytes", pt, ModuleLimits{MaxModuleBytes: 100}, "module is " + strconv.Itoa(len(pt)) + " bytes, more than max_module_bytes 100 (max_module_mb 0)"},
		{"functions", pt, ModuleLimits{MaxFunctions: 3}, "module declares 4 functions, more than max_functions 3"},
		{"imported functions", imported.Bytes(), ModuleLimits{MaxFunctions: 4}, "module declares 5 functions, more than max_functions 4"},
		{"types", pt, ModuleLimits{MaxTypes: 3}, "module declares 4 types, more than max_types 3"},
		{"nesting", wasmtest.DeepNesting(20), ModuleLimits{MaxNesting: 10}, "function 3: blocks nested 11 deep, more than max_nesting 10"},
		{"default nesting", wasmtest.DeepNesting(5000), ModuleLimits{}, "function 3: blocks nested 4097 deep, more than max_nesting 4096"},
		// alloc: if, else (2 squared); handle: 20 blocks (400).
		{"control flow", wasmtest.DeepNesting(20), ModuleLimits{MaxControlFlow: 403}, "function 3: control flow reaches 404, more than max_control_flow 403 (its 20 control instructions"},
		{"locals", withFunc(wasmtest.Func{I32Locals: 100}).Bytes(), ModuleLimits{MaxLocals: 99}, "function 4: declares 100 locals, more than max_locals 99"},
		{"huge locals", wasmtest.HugeCounts(wasmtest.CountLocals), ModuleLimits{}, "function 4: declares 4294967295 locals, more than max_locals 50000"},
		{"module locals", twoLocals.Bytes(), ModuleLimits{MaxModuleLocals: 100}, "module declares 120 locals (up to function 5), more than max_module_locals 100"},
		{"memory", wasmtest.HugeMemory(2000), ModuleLimits{}, "memory declares 2000 initial pages (125 MiB), more than max_memory_pages 1024 (memory_mb 64)"},
		{"table", wasmtest.HugeTable(200_000), ModuleLimits{}, "table 0 declares 200000 initial elements, more than max_table_elements 100000"},
		{"table grown", grows.Bytes(), ModuleLimits{}, "function 4: table.grow on table 0, whose maximum is not at most max_table_elements 100000"},
		{"table not grown", wasmtest.HugeTable(100_000), ModuleLimits{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Precheck(tc.wasm, tc.lim)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Precheck: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestPrecheck_goGuest checks that a Go guest passes with the defaults.
func TestPrecheck_goGuest(t *testing.T) {
	if err := Precheck(guestWasm(t, "testguest"), ModuleLimits{}); err != nil {
		t.Fatal(err)
	}
}

// adversarial returns malformed and hostile modules: each must be refused by
// Precheck, and neither Precheck, instrumentLoops nor moveStart may loop on
// it or panic.
func adversarial() map[string][]byte {
	pt := wasmtest.Passthrough()
	in := map[string][]byte{
		"not wasm":             []byte("hello"),
		"empty":                nil,
		"header only":          pt[:4],
		"unknown section":      wasmtest.AppendSection(bytes.Clone(pt), 13, nil),
		"out of order":         wasmtest.AppendSection(bytes.Clone(pt), 1, []byte{0}),
		"no code":              wasmtest.AppendSection(bytes.Clone(wasmHeader), 3, []byte{1, 0}),
		"trailing bytes":       wasmtest.AppendSection(bytes.Clone(wasmHeader), 1, []byte{0, 0}),
		"section past the end": append(bytes.Clone(wasmHeader), 1, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"long LEB":             append(bytes.Clone(wasmHeader), 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"nested 100000":        wasmtest.DeepNesting(100_000),
		"unclosed block":       withFunc(wasmtest.Func{Body: []byte{0x02, 0x40}}).Bytes(),
	}
	for _, kind := range []wasmtest.Count{wasmtest.CountImports, wasmtest.CountLocals, wasmtest.CountBrTable,
		wasmtest.CountTypes, wasmtest.CountFunctions, wasmtest.CountData} {
		in["huge "+string(kind)] = wasmtest.HugeCounts(kind)
	}
	// Huge counts inside a body.
	in["huge body: local declarations"] = codeModule([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	in["huge body: select"] = codeModule([]byte{0x00, 0x1c, 0xff, 0xff, 0xff, 0xff, 0x0f})
	in["huge body: br_table"] = codeModule([]byte{0x00, 0x41, 0x00, 0x0e, 0xff, 0xff, 0xff, 0x7f})
	boundary := map[int]bool{}
	for r := (&wasmReader{b: pt, pos: 8}); r.pos < len(pt) && r.err == nil; {
		r.byte()
		r.skip(r.u32())
		boundary[r.pos] = true
	}
	for n := 9; n < len(pt); n += 37 {
		if !boundary[n] { // a prefix ending at a section's end is a valid module
			in["truncated "+strconv.Itoa(n)] = pt[:n]
		}
	}
	return in
}

// codeModule returns a module of one function () -> () and a memory whose
// code section holds body as given (size first), so the body may lie about
// its contents.
func codeModule(body []byte) []byte {
	m := wasmtest.AppendSection(bytes.Clone(wasmHeader), 1, []byte{1, 0x60, 0, 0})
	m = wasmtest.AppendSection(m, 3, []byte{1, 0})
	m = wasmtest.AppendSection(m, 5, []byte{1, 0, 1})
	entry := append(wasmtest.AppendULEB(nil, uint64(len(body))), body...)
	return wasmtest.AppendSection(m, 10, append([]byte{1}, entry...))
}

func TestPrecheck_adversarial(t *testing.T) {
	for name, wasm := range adversarial() {
		t.Run(name, func(t *testing.T) {
			err := Precheck(wasm, ModuleLimits{})
			if err == nil {
				t.Fatal("Precheck accepted it")
			}
			if strings.HasPrefix(name, "huge") && name != "huge locals" && !strings.Contains(err.Error(), "items cannot fit") {
				t.Fatalf("err = %v, want a count that cannot fit", err)
			}
			_, _ = instrumentLoops(wasm)
			_, _, _ = moveStart(wasm)
		})
	}
}

// TestInstrumentLoops_hugeCounts checks the rewriter refuses counts beyond
// the bytes left (before, it looped over them).
func TestInstrumentLoops_hugeCounts(t *testing.T) {
	for name, wasm := range map[string][]byte{
		"imports":            wasmtest.HugeCounts(wasmtest.CountImports),
		"br_table":           wasmtest.HugeCounts(wasmtest.CountBrTable),
		"local declarations": codeModule([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
	} {
		if _, err := instrumentLoops(wasm); err == nil || !strings.Contains(err.Error(), "cannot fit") {
			t.Errorf("%s: err = %v, want a count that cannot fit", name, err)
		}
	}
}

// startWrites returns the passthrough plugin with a start function that
// stores 42 at address 100.
func startWrites() wasmtest.Module {
	return withFunc(wasmtest.Func{Start: true, Body: []byte{0x41, 0xe4, 0x00, 0x41, 42, 0x36, 0x02, 0x00}}) // i32.store(100, 42)
}

func TestMoveStart(t *testing.T) {
	ctx := context.Background()
	moved, hadStart, err := moveStart(startWrites().Bytes())
	if err != nil || !hadStart {
		t.Fatalf("moveStart: %v, %v", hadStart, err)
	}
	if err := Precheck(moved, ModuleLimits{}); err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := mod.Memory().ReadUint32Le(100); v != 0 {
		t.Fatalf("start function ran at instantiation: memory[100] = %d", v)
	}
	start := mod.ExportedFunction(startExport)
	if start == nil {
		t.Fatalf("no export %s", startExport)
	}
	if _, err := start.Call(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := mod.Memory().ReadUint32Le(100); v != 42 {
		t.Fatalf("memory[100] = %d after %s, want 42", v, startExport)
	}
}

// TestMoveStart_loops checks that a start function that never returns no
// longer runs at instantiation, and can be stopped as a call.
func TestMoveStart_loops(t *testing.T) {
	ctx := context.Background()
	moved, hadStart, err := moveStart(wasmtest.StartLoops())
	if err != nil || !hadStart {
		t.Fatalf("moveStart: %v, %v", hadStart, err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := mod.ExportedFunction(startExport).Call(callCtx); err == nil {
		t.Fatal("the endless start function returned")
	}
}

func TestMoveStart_cases(t *testing.T) {
	pt := wasmtest.Passthrough()
	out, hadStart, err := moveStart(pt)
	if err != nil || hadStart || !bytes.Equal(out, pt) {
		t.Fatalf("without a start section: changed %v, hadStart %v, err %v", !bytes.Equal(out, pt), hadStart, err)
	}

	clash := startWrites()
	clash.Funcs[1].Export = startExport
	if _, _, err := moveStart(clash.Bytes()); err == nil || !strings.Contains(err.Error(), "already exports tributary_start") {
		t.Fatalf("clashing export: err = %v", err)
	}

	// No export section: moveStart adds one, in order, before the code.
	m := wasmtest.AppendSection(bytes.Clone(wasmHeader), 1, []byte{1, 0x60, 0, 0})
	m = wasmtest.AppendSection(m, 3, []byte{1, 0})
	m = wasmtest.AppendSection(m, 8, []byte{0})
	m = wasmtest.AppendSection(m, 10, []byte{1, 2, 0, 0x0b})
	out, hadStart, err = moveStart(m)
	if err != nil || !hadStart {
		t.Fatalf("no export section: %v, %v", hadStart, err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.ExportedFunctions()[startExport]; !ok {
		t.Fatalf("no export %s in % x", startExport, out)
	}
}

// FuzzPrecheck feeds arbitrary bytes to Precheck, instrumentLoops and
// moveStart: none may panic, and each input must be done within a time
// bound (they are linear in the input; 2 s is far above what any input the
// fuzzer makes needs, even under -race on a loaded machine).
//
//	go test -run '^$' -fuzz '^FuzzPrecheck$' -fuzztime 4s ./wasmhost/
func FuzzPrecheck(f *testing.F) {
	f.Add(wasmtest.Passthrough())
	f.Add(wasmtest.FanOut(3))
	f.Add(wasmtest.DeepNesting(10))
	f.Add(wasmtest.StartLoops())
	f.Add(startWrites().Bytes())
	grows := withFunc(wasmtest.Func{Body: tableGrow})
	grows.TableElems = 2
	f.Add(grows.Bytes())
	for _, wasm := range adversarial() {
		if len(wasm) < 4096 {
			f.Add(wasm)
		}
	}
	lim := ModuleLimits{MaxNesting: 64, MaxFunctions: 64}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		start := time.Now()
		err := Precheck(wasm, lim)
		if _, serr := scanModule(wasm, lim.WithDefaults()); (err == nil) != (serr == nil) {
			t.Fatalf("Precheck %v, scanModule %v", err, serr)
		}
		inst, ierr := instrumentLoops(wasm)
		if ierr == nil && err == nil {
			// The rewrite of an accepted module is itself well formed
			// (its loops nest two levels deeper).
			if err := Precheck(inst, ModuleLimits{MaxNesting: 66, MaxFunctions: 64}); err != nil {
				t.Fatalf("instrumented module refused: %v", err)
			}
		}
		moved, hadStart, merr := moveStart(wasm)
		if merr == nil && !hadStart && !bytes.Equal(moved, wasm) {
			t.Fatal("moveStart changed a module without a start section")
		}
		if merr == nil && hadStart && err == nil {
			if err := Precheck(moved, lim); err != nil && !strings.Contains(err.Error(), "max_") {
				t.Fatalf("moved module refused: %v", err)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%d bytes took %v", len(wasm), d)
		}
	})
}

// TestWasmtestPlugins runs wasmtest's plugins on the Host: each is a
// complete ABI v1 plugin that passes Precheck and Compile, and misbehaves
// at run time as documented.
func TestWasmtestPlugins(t *testing.T) {
	ctx := context.Background()
	compile := func(t *testing.T, name string, wasm []byte) *Plugin {
		t.Helper()
		if err := Precheck(wasm, ModuleLimits{}); err != nil {
			t.Fatal(err)
		}
		p, err := testHostV.Compile(ctx, name, wasm)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	lim := Limits{CallTimeout: 100 * time.Millisecond, MaxFanOut: 10}

	t.Run("fan-out", func(t *testing.T) {
		pool := newTestPool(t, compile(t, "fanout", wasmtest.FanOut(7)), "", lim, 1)
		res, err := pool.Handle(ctx, msgs("a", "b"))
		if err != nil || len(res) != 2 || len(res[0].Outputs) != 7 || res[1].Outputs[6].Flags != 1 {
			t.Fatalf("results %+v, %v", res, err)
		}
		pool = newTestPool(t, compile(t, "fanout-11", wasmtest.FanOut(11)), "", lim, 1)
		_, err = pool.Handle(ctx, msgs("a"))
		wantKind(t, err, BadResult)
	})
	t.Run("oversized output", func(t *testing.T) {
		pool := newTestPool(t, compile(t, "oversized", wasmtest.OversizedOutput(1<<30)), "", lim, 1)
		_, err := pool.Handle(ctx, msgs("a"))
		wantKind(t, err, BadResult)
	})
	t.Run("handle loops", func(t *testing.T) {
		pool := newTestPool(t, compile(t, "handleloops", wasmtest.HandleLoops()), "", lim, 1)
		_, err := pool.Handle(ctx, msgs("a"))
		wantKind(t, err, Timeout)
	})
	t.Run("init loops", func(t *testing.T) {
		_, err := NewInstance(ctx, testHostV, compile(t, "initloops", wasmtest.InitLoops()), nil, lim)
		wantKind(t, err, Timeout)
	})
	t.Run("declared sizes", func(t *testing.T) {
		for name, wasm := range map[string][]byte{
			"nesting": wasmtest.DeepNesting(100), "memory": wasmtest.HugeMemory(100), "table": wasmtest.HugeTable(1000),
			"start loops": wasmtest.StartLoops(), // compiling does not run it
		} {
			compile(t, name, wasm)
		}
	})
}
