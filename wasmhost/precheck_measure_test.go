package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// Measurements behind the ModuleLimits defaults, run by hand (the CI skips
// them).

// noLimits lets scanModule measure anything.
var noLimits = ModuleLimits{
	MaxModuleBytes: math.MaxInt, MaxFunctions: math.MaxInt, MaxTypes: math.MaxInt, MaxNesting: math.MaxInt,
	MaxControlFlow: math.MaxUint64, MaxLocals: math.MaxInt, MaxModuleLocals: math.MaxInt,
	MaxMemoryPages: math.MaxUint32, MaxTableElements: math.MaxUint32,
}

// TestModuleStats prints what Precheck measures of every .wasm file in the
// directory $TRIBUTARY_MODULE_STATS. To measure the first-party modules:
//
//	for p in plugins/*/main.go; do d=$(dirname $p); GOOS=wasip1 GOARCH=wasm \
//	  go build -buildmode=c-shared -o /tmp/mods/$(basename $d).wasm ./$d; done
//	(the same for wasmhost/testdata/guests/*, and the C guests with clang as in plugins/c/README.md)
//	TRIBUTARY_MODULE_STATS=/tmp/mods go test -run TestModuleStats -v ./wasmhost/
func TestModuleStats(t *testing.T) {
	dir := os.Getenv("TRIBUTARY_MODULE_STATS")
	if dir == "" {
		t.Skip("set TRIBUTARY_MODULE_STATS to a directory of .wasm files")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .wasm files in %s: %v", dir, err)
	}
	t.Logf("%-28s %9s %9s %7s %7s %6s %6s %8s %6s %7s %12s", "module", "bytes", "functions", "nesting", "locals", "pages", "table", "br_table", "grows", "control", "control^2")
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		st, err := scanModule(wasm, noLimits)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := Precheck(wasm, ModuleLimits{}); err != nil {
			t.Errorf("%s: refused with the default limits: %v", f, err)
		}
		compile := "" // wazero's compile time, with TRIBUTARY_MODULE_STATS_COMPILE=1
		if os.Getenv("TRIBUTARY_MODULE_STATS_COMPILE") != "" {
			took, alloc, peak, err := compileCost(wasm)
			compile = fmt.Sprintf(" compile %v, allocated %d MiB, peak heap %d MiB, err %v", took.Round(time.Millisecond), alloc>>20, peak>>20, err)
		}
		t.Logf("%-28s %9d %9d %7d %7d %6d %6d %8d %6d %7d %12d  (scan %v)%s", filepath.Base(f), len(wasm), st.functions, st.maxNesting,
			st.maxLocals, st.memoryPages, st.tableElements, st.brTableLabels, st.tableGrows, st.maxControl, st.controlFlow, took.Round(time.Microsecond), compile)
	}
}

// TestCompileCost prints how long wazero takes to compile, and how much
// memory it allocates, for modules that push one limit: nesting depth,
// functions and locals. TRIBUTARY_COMPILE_COST=nesting (or flat: as many
// blocks, not nested; straight; br_if; functions, each of its own type;
// functions1, of one type; functions1000, of 1000 types; locals) runs it, with the sizes in TRIBUTARY_COMPILE_SIZES (comma
// separated):
//
//	TRIBUTARY_COMPILE_COST=nesting TRIBUTARY_COMPILE_SIZES=1000,4000,16000 go test -run TestCompileCost -v ./wasmhost/
func TestCompileCost(t *testing.T) {
	what := os.Getenv("TRIBUTARY_COMPILE_COST")
	if what == "" {
		t.Skip("set TRIBUTARY_COMPILE_COST to nesting, functions or locals")
	}
	var sizes []int
	for s := range strings.SplitSeq(os.Getenv("TRIBUTARY_COMPILE_SIZES"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("TRIBUTARY_COMPILE_SIZES: %v", err)
		}
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		var wasm []byte
		switch what {
		case "nesting":
			wasm = wasmtest.DeepNesting(n)
		case "flat": // as many blocks as nesting n, one after the other
			m := wasmtest.PassthroughModule(64)
			m.Funcs[3].Body = append(bytes.Repeat([]byte{0x02, 0x40, 0x0b}, n), m.Funcs[3].Body...)
			wasm = m.Bytes()
		case "straight": // a straight body of n i32.const 0; drop
			m := wasmtest.PassthroughModule(64)
			m.Funcs[3].Body = append(bytes.Repeat([]byte{0x41, 0x00, 0x1a}, n), m.Funcs[3].Body...)
			wasm = m.Bytes()
		case "br_if": // one block holding n br_if
			m := wasmtest.PassthroughModule(64)
			body := append([]byte{0x02, 0x40}, bytes.Repeat([]byte{0x41, 0x00, 0x0d, 0x00}, n)...)
			m.Funcs[3].Body = append(append(body, 0x0b), m.Funcs[3].Body...)
			wasm = m.Bytes()
		case "functions":
			m := wasmtest.PassthroughModule(64)
			for range n {
				m.Funcs = append(m.Funcs, wasmtest.Func{Body: []byte{0x01}})
			}
			wasm = m.Bytes()
		case "functions1", "functions1000": // n functions of 1 or 1000 types (a module that is not a plugin)
			types := [][]byte{{0x60, 0, 0}}
			if what == "functions1000" {
				for i := 1; i < 1000; i++ { // (i32 * k) -> (i64 * m)
					types = append(types, append(append(append([]byte{0x60, byte(i % 32)}, bytes.Repeat([]byte{0x7f}, i%32)...), byte(i/32)), bytes.Repeat([]byte{0x7e}, i/32)...))
				}
			}
			code := make([][]byte, n)
			funcs := make([][]byte, n)
			for i := range n {
				code[i], funcs[i] = []byte{3, 0, 0x00, 0x0b}, wasmtest.AppendULEB(nil, uint64(i%len(types))) // unreachable
			}
			wasm = wasmtest.AppendSection([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, 1, wasmtest.Vec(nil, types))
			wasm = wasmtest.AppendSection(wasm, 3, wasmtest.Vec(nil, funcs))
			wasm = wasmtest.AppendSection(wasm, 10, wasmtest.Vec(nil, code))
		case "locals":
			m := wasmtest.PassthroughModule(64)
			m.Funcs[3].I32Locals = uint32(n)
			wasm = m.Bytes()
		default:
			t.Fatalf("unknown TRIBUTARY_COMPILE_COST %q", what)
		}
		st, err := scanModule(wasm, noLimits)
		if err != nil {
			t.Fatal(err)
		}
		took, alloc, peak, err := compileCost(wasm)
		t.Logf("%s %d: %d bytes, nesting %d, %d functions, %d locals: compile %v, allocated %d MiB, peak heap %d MiB, err %v",
			what, n, len(wasm), st.maxNesting, st.functions, st.maxLocals, took.Round(time.Millisecond), alloc>>20, peak>>20, err)
	}
}

// compileCost compiles wasm in a fresh runtime (wazero's compiler, no
// cache) and returns the time taken, the bytes allocated and the peak heap
// in use, sampled every millisecond.
func compileCost(wasm []byte) (time.Duration, uint64, uint64, error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig())
	defer rt.Close(ctx)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	start := time.Now()
	cm, err := rt.CompileModule(ctx, wasm)
	took := time.Since(start)
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if err == nil {
		_ = cm.Close(ctx)
	}
	if p := peak.Load(); p > before.HeapInuse {
		return took, after.TotalAlloc - before.TotalAlloc, p - before.HeapInuse, err
	}
	return took, after.TotalAlloc - before.TotalAlloc, 0, err
}
