package wasmhost

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// entryRefs returns the references on p's compile entry.
func entryRefs(h *Host, p *Plugin) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return p.entry.refs
}

// hostEntries returns the content hashes the Host keeps compiled.
func hostEntries(h *Host) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for hash := range h.entries {
		out = append(out, hash)
	}
	return out
}

func TestPlugin_Close(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(ctx, HostConfig{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := passthroughModule().Bytes()
	a, err := h.Compile(ctx, "a", wasm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Compile(ctx, "b", wasm)
	if err != nil {
		t.Fatal(err)
	}
	e := a.entry
	if b.entry != e || entryRefs(h, a) != 2 {
		t.Fatalf("two handles of the same bytes: entries %p %p, references %d, want one entry with 2", a.entry, b.entry, entryRefs(h, a))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil || entryRefs(h, b) != 1 {
		t.Fatalf("second Close: %v, references %d, want nil and 1", err, entryRefs(h, b))
	}
	if _, err := NewPool(ctx, h, a, nil, Limits{}, 1); !errors.Is(err, ErrPluginClosed) || !strings.Contains(err.Error(), `plugin "a"`) {
		t.Fatalf("NewPool of a closed plugin: %v, want ErrPluginClosed naming it", err)
	}
	if _, err := NewInstance(ctx, h, a, nil, Limits{}); !errors.Is(err, ErrPluginClosed) {
		t.Fatalf("NewInstance of a closed plugin: %v, want ErrPluginClosed", err)
	}

	pool, err := NewPool(ctx, h, b, nil, Limits{RecycleAfterCalls: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInstance(ctx, h, b, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	b.Close()
	if entryRefs(h, b) != 1 || len(hostEntries(h)) != 1 {
		t.Fatalf("after the last handle closed: references %d, entries %d; want the pool's 1", entryRefs(h, b), len(hostEntries(h)))
	}
	// The pool recycles its instance after every call: instantiating again
	// needs the compiled code, which the pool's reference keeps.
	for range 3 {
		if _, err := pool.Handle(ctx, msgs("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := pool.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(hostEntries(h)); n != 0 || entryRefs(h, b) != 0 {
		t.Fatalf("after Pool.Close: %d entries, %d references; want none", n, entryRefs(h, b))
	}
	e.mu.Lock()
	closed, perClass := e.closed, len(e.perClass)
	e.mu.Unlock()
	if !closed || perClass != 0 {
		t.Fatalf("entry closed=%v with %d per-class modules, want closed with none", closed, perClass)
	}
	// An instance runs on after its compiled code is released.
	if rs, err := in.Handle(ctx, msgs("still")); err != nil || len(rs) != 1 || len(rs[0].Outputs) != 1 {
		t.Fatalf("instance after its plugin's code was released: %v, %v", rs, err)
	}
	c, err := h.Compile(ctx, "c", wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.entry == e {
		t.Fatal("Compile after the last reference reused the released entry")
	}
}

// TestPlugin_Close_concurrent compiles the same bytes, makes pools and
// closes both from several goroutines at once, so that entries are shared,
// released and made anew while others use them.
func TestPlugin_Close_concurrent(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(ctx, HostConfig{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := passthroughModule().Bytes()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				p, err := h.Compile(ctx, "shared", wasm)
				if err != nil {
					t.Error(err)
					return
				}
				pool, err := NewPool(ctx, h, p, nil, Limits{RecycleAfterCalls: 1}, 1)
				p.Close()
				if err != nil {
					t.Error(err)
					return
				}
				for range 2 { // recycles: instantiates after the handle is closed
					if _, err := pool.Handle(ctx, msgs("x")); err != nil {
						t.Error(err)
					}
				}
				if err := pool.Close(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(hostEntries(h)); n != 0 {
		t.Fatalf("%d compile entries left after every plugin and pool closed, want 0", n)
	}
}

// TestHost_compileCloseMemory runs distinct compile+close cycles (every
// other one also makes a pool, handles a message and closes it, as an
// upload does) and checks that the Go heap and wazero's machine code return
// to within 20% of where they started. It measures in a child process (this
// test binary, running only this test), so other tests' plugins are not in
// the baseline. 1000 cycles (a few seconds), 100 with -short.
func TestHost_compileCloseMemory(t *testing.T) {
	if os.Getenv("WASMHOST_MEMORY_CHILD") == "1" {
		compileCloseCycles(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("measures machine code in /proc/self/maps")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHost_compileCloseMemory$", "-test.v")
	cmd.Env = append(os.Environ(), "WASMHOST_MEMORY_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func compileCloseCycles(t *testing.T) {
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	ctx := context.Background()
	// In process: this measures what the Host keeps, not the compile child (whose
	// Validate keeps nothing is tested in compilechild_test.go); a child per cycle
	// would cost 1,000 processes.
	h, err := NewHost(ctx, HostConfig{Logger: discardLogger(), Compile: CompileBudget{InProcess: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	cycle := func(i int) {
		m := passthroughModule()
		m.Data = append(m.Data, wasmtest.Data{Offset: 512, Bytes: binary.LittleEndian.AppendUint64(nil, uint64(i))})
		p, err := h.Compile(ctx, "cycle", m.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if i%2 != 0 {
			return
		}
		pool, err := NewPool(ctx, h, p, nil, Limits{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Handle(ctx, msgs("x")); err != nil {
			t.Fatal(err)
		}
		if err := pool.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 { // runtimes, engine, signatures: what any first plugin costs
		cycle(-1 - i)
	}
	heap0, code0, rss0 := memoryNow(t)
	start := time.Now()
	for i := range cycles {
		cycle(i)
	}
	took := time.Since(start)
	heap1, code1, rss1 := memoryNow(t)
	t.Logf("%d cycles in %v: heap %d -> %d KiB, machine code %d -> %d KiB, RSS %d -> %d KiB",
		cycles, took.Round(time.Millisecond), heap0>>10, heap1>>10, code0>>10, code1>>10, rss0>>10, rss1>>10)
	if n := len(hostEntries(h)); n != 0 {
		t.Errorf("%d compile entries left, want 0", n)
	}
	if heap1 > heap0*12/10 {
		t.Errorf("heap grew from %d to %d KiB, more than 20%%", heap0>>10, heap1>>10)
	}
	if code1 > code0*12/10 {
		t.Errorf("machine code grew from %d to %d KiB, more than 20%%", code0>>10, code1>>10)
	}
}

// memoryNow collects garbage until the finalizers that unmap wazero's
// machine code have run, then returns the live Go heap, the anonymous
// executable mappings (wazero's machine code) and the resident set, in
// bytes.
func memoryNow(t *testing.T) (heap, code, rss uint64) {
	t.Helper()
	for range 3 {
		runtime.GC()
		ran := make(chan struct{})
		runtime.SetFinalizer(&struct{ p *int }{}, func(*struct{ p *int }) { close(ran) })
		runtime.GC()
		select { // finalizers run in order: the earlier ones have run too
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("finalizers did not run")
		}
	}
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	heap = s[0].Value.Uint64()

	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text()) // range perms offset dev inode [path]
		if len(fields) != 5 || fields[1] != "r-xp" {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil {
			code += b - a
		}
	}
	if statm, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(statm)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return heap, code, rss
}
