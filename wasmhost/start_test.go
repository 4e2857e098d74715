package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// Start function bodies for withStart.
var (
	startLoops = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}                  // loop; br 0; end
	startTraps = []byte{0x00}                                          // unreachable
	startWrite = []byte{0x41, startMarkAt, 0x41, 42, 0x36, 0x02, 0x00} // i32.store [startMarkAt] = 42
)

// startMarkAt is where startWrite stores 42: below the passthrough's frames.
const startMarkAt = 16

// withStart returns the passthrough module with a start function of body.
// With termChecks it also gets a function the loop rewriter cannot parse
// (a SIMD instruction), so it runs under wazero's termination checks.
func withStart(body []byte, termChecks bool) wasmtest.Module {
	m := passthroughModule()
	m.Funcs = append(m.Funcs, wasmtest.Func{Body: body, Start: true})
	if termChecks {
		simd := append([]byte{0xfd, 0x0c}, make([]byte, 16)...) // v128.const 0
		m.Funcs = append(m.Funcs, wasmtest.Func{Body: append(simd, 0x1a)})
	}
	return m
}

func TestNewInstance_startFunction(t *testing.T) {
	ctx := context.Background()
	for _, termChecks := range []bool{false, true} {
		name := "rewritten"
		if termChecks {
			name = "termination checks"
		}
		t.Run(name, func(t *testing.T) {
			runs, err := testHostV.Compile(ctx, "start-runs", withStart(startWrite, termChecks).Bytes())
			if err != nil {
				t.Fatal(err)
			}
			defer runs.Close()
			if got := runs.entry.interruptible != nil; got == termChecks {
				t.Fatalf("rewritten by instrumentLoops = %v, want %v", got, !termChecks)
			}
			for _, lim := range []Limits{{}, {Trusted: true}} {
				in, err := NewInstance(ctx, testHostV, runs, nil, lim)
				if err != nil {
					t.Fatal(err)
				}
				v, _ := in.mem.ReadUint32Le(startMarkAt)
				in.Close(ctx)
				if v != 42 {
					t.Fatalf("trusted=%v: memory[%d] = %d after instantiation, want 42 written by the start function", lim.Trusted, startMarkAt, v)
				}
			}

			traps, err := testHostV.Compile(ctx, "start-traps", withStart(startTraps, termChecks).Bytes())
			if err != nil {
				t.Fatal(err)
			}
			defer traps.Close()
			_, err = NewInstance(ctx, testHostV, traps, nil, Limits{})
			if pe := wantKind(t, err, Trap); !strings.Contains(pe.Error(), "start function") || pe.Plugin != "start-traps" {
				t.Fatalf("error %q does not name the plugin and its start function", pe)
			}

			loops, err := testHostV.Compile(ctx, "start-loops", withStart(startLoops, termChecks).Bytes())
			if err != nil {
				t.Fatal(err)
			}
			defer loops.Close()
			lim := Limits{CallTimeout: 50 * time.Millisecond}
			_, err = NewInstance(ctx, testHostV, loops, nil, lim)
			pe := wantKind(t, err, Timeout)
			if pe.Plugin != "start-loops" || !strings.Contains(pe.Error(), "start function") || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %q does not name the plugin, its start function and the deadline", pe)
			}
		})
	}
}

func TestNewInstance_startFunctionSignature(t *testing.T) {
	m := withStart(startTraps, false)
	m.Funcs[len(m.Funcs)-1].Params = []byte{i32}
	_, err := testHostV.Compile(context.Background(), "start-params", m.Bytes())
	if err == nil || !strings.Contains(err.Error(), "export "+startExport+" has signature (i32) -> (), want () -> ()") {
		t.Fatalf("Compile of a start function with a parameter: %v", err)
	}
}

// TestNewPool_startTimeoutReleases checks that a pool whose instantiation
// times out leaves no instance and no reference behind.
func TestNewPool_startTimeoutReleases(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(ctx, HostConfig{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Compile(ctx, "start-loops", withStart(startLoops, false).Bytes())
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPool(ctx, h, p, nil, Limits{CallTimeout: 50 * time.Millisecond}, 2)
	wantKind(t, err, Timeout)
	if n := entryRefs(h, p); n != 1 {
		t.Errorf("references after the failed pool = %d, want 1 (the plugin's)", n)
	}
	h.instances.Range(func(name, _ any) bool {
		t.Errorf("instance %v still registered", name)
		return true
	})
	p.Close()
	if n := len(hostEntries(h)); n != 0 {
		t.Errorf("%d compile entries after the last reference, want 0", n)
	}
}

// TestInstantiate_deadline checks the second line: a start function left in
// place (as if moveStart had missed it) in a module with wazero's
// termination checks is stopped by instantiate's deadline.
func TestInstantiate_deadline(t *testing.T) {
	ctx := context.Background()
	rt, err := testHostV.runtime(ctx, Limits{}.withDefaults().class())
	if err != nil {
		t.Fatal(err)
	}
	cm, err := rt.CompileModule(ctx, withStart(startLoops, true).Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	lim := Limits{CallTimeout: 50 * time.Millisecond}.withDefaults()
	mod, err := instantiate(ctx, rt, cm, wazero.NewModuleConfig().WithName("unmoved-start").WithStartFunctions(), lim)
	if err == nil {
		mod.Close(ctx)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("instantiate with a looping start function: %v, want a deadline error", err)
	}
}
