package wasmhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// roomyLimits lets the adversarial modules below past Precheck, so the
// compile budget is what stops them.
var roomyLimits = ModuleLimits{MaxModuleBytes: 64 << 20, MaxNesting: 1 << 20, MaxLocals: 1 << 31, MaxModuleLocals: 1 << 31,
	MaxFunctions: 1 << 20, MaxControlFlow: 1 << 62}

// distinctModule is the passthrough guest made unique by seed, so the Host
// compiles it again rather than finding it by hash.
func distinctModule(seed int) []byte {
	m := passthroughModule()
	m.Data = append(m.Data, wasmtest.Data{Offset: 4096, Bytes: fmt.Appendf(nil, "seed %d", seed)})
	return m.Bytes()
}

// invalidModule is the passthrough guest plus a function whose body does not type-check
// (i32.add with nothing on the stack): the pre-check, which reads structure only, lets it
// through, and compiling it fails.
func invalidModule() []byte {
	m := passthroughModule()
	m.Funcs = append(m.Funcs, wasmtest.Func{Body: []byte{0x6a}})
	return m.Bytes()
}

// nestedModule is the passthrough guest plus a function of depth nested
// empty blocks: wazero's compile time grows with the square of the depth
// (about 9s for 30000 on the CI machine, measured in process).
func nestedModule(depth int) []byte {
	var body []byte
	for range depth {
		body = append(body, 0x02, 0x40) // block
	}
	for range depth {
		body = append(body, 0x0b) // end
	}
	m := passthroughModule()
	m.Funcs = append(m.Funcs, wasmtest.Func{Body: body})
	return m.Bytes()
}

// localsModule is the passthrough guest plus a function declaring n i32
// locals: wazero allocates a byte per local while decoding.
func localsModule(n uint64) []byte {
	m := passthroughModule()
	m.Funcs = append(m.Funcs, wasmtest.Func{I32Locals: uint32(n)}) // one declaration: n of i32
	return m.Bytes()
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// childWatch records the compile children a Host starts and reaps.
type childWatch struct {
	mu                     sync.Mutex
	started, reaped        int
	active, maxActive      int
	startedCh              chan int // receives each child's pid, if not nil
	reapedPIDs, startedPID []int
}

func (w *childWatch) hook(ev childHookEvent) {
	w.mu.Lock()
	if ev.start {
		w.started++
		w.active++
		w.maxActive = max(w.maxActive, w.active)
		w.startedPID = append(w.startedPID, ev.pid)
	} else {
		w.reaped++
		w.active--
		w.reapedPIDs = append(w.reapedPIDs, ev.pid)
	}
	ch := w.startedCh
	w.mu.Unlock()
	if ev.start && ch != nil {
		ch <- ev.pid
	}
}

func (w *childWatch) counts() (started, reaped, maxActive int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started, w.reaped, w.maxActive
}

// newWatchedHost is a Host whose compile children are recorded, closed at
// the end of the test.
func newWatchedHost(t *testing.T, cfg HostConfig) (*Host, *childWatch) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testHostV.logger
	}
	h, err := NewHost(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	w := &childWatch{}
	h.childHook = w.hook
	return h, w
}

// cacheFiles lists the regular files under dir.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCompile_inChild(t *testing.T) {
	dir := t.TempDir()
	h, w := newWatchedHost(t, HostConfig{CacheDir: dir})
	p, err := h.Compile(context.Background(), "pt", distinctModule(1))
	if err != nil {
		t.Fatal(err)
	}
	if started, reaped, _ := w.counts(); started != 1 || reaped != 1 {
		t.Fatalf("compile children started %d, reaped %d; want 1 and 1", started, reaped)
	}
	// The child wrote the machine code the parent then loaded.
	if files := cacheFiles(t, dir); len(files) == 0 {
		t.Fatal("the compile child wrote nothing to the cache directory")
	}
	pool, err := NewPool(context.Background(), h, p, nil, Limits{MemoryPages: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close(context.Background())
	if _, err := pool.Handle(context.Background(), msgs("x")); err != nil {
		t.Fatal(err)
	}
	// Errors found by the child name the plugin and what is wrong.
	_, err = h.Compile(context.Background(), "junk", invalidModule())
	if err == nil || !strings.HasPrefix(err.Error(), `plugin "junk": compile: `) {
		t.Fatalf("Compile of junk: %v", err)
	}
}

func TestCompile_timeBudget(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{Compile: CompileBudget{Timeout: 500 * time.Millisecond}})
	start := time.Now()
	_, err := h.CompileWithLimits(context.Background(), "nested", nestedModule(30000), roomyLimits)
	t.Logf("stopped after %v", time.Since(start))
	var be *CompileBudgetError
	if !errors.As(err, &be) || be.Timeout != 500*time.Millisecond {
		t.Fatalf("error %v, want a CompileBudgetError for the timeout", err)
	}
	if want := `plugin "nested": compile took longer than compile timeout 500ms`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if started, reaped, _ := w.counts(); started != 1 || reaped != 1 {
		t.Fatalf("compile children started %d, reaped %d; want 1 and 1", started, reaped)
	}
	h.mu.Lock()
	n := len(h.entries)
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("the Host keeps %d entries after a failed compile", n)
	}
}

func TestCompile_memoryBudget(t *testing.T) {
	h, _ := newWatchedHost(t, HostConfig{Compile: CompileBudget{MemoryBytes: 32 << 20}})
	_, err := h.CompileWithLimits(context.Background(), "locals", localsModule(1<<30), roomyLimits)
	var be *CompileBudgetError
	if !errors.As(err, &be) || be.MemoryBytes != 32<<20 {
		t.Fatalf("error %v, want a CompileBudgetError for memory", err)
	}
	if want := `plugin "locals": compile needed more than compile memory 32 MiB`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestCompile_cancelKillsChild(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{})
	w.startedCh = make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-w.startedCh
		cancel()
	}()
	_, err := h.CompileWithLimits(ctx, "nested", nestedModule(30000), roomyLimits)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if started, reaped, _ := w.counts(); started != 1 || reaped != 1 {
		t.Fatalf("compile children started %d, reaped %d; want 1 and 1", started, reaped)
	}
	// A canceled compile is not cached: the next one compiles again.
	if _, err := h.Compile(context.Background(), "pt", distinctModule(2)); err != nil {
		t.Fatal(err)
	}
}

func TestCompile_concurrencyBound(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{Compile: CompileBudget{Concurrency: 2}})
	h.childSleep = 200 * time.Millisecond // make the children overlap
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Go(func() {
			_, err := h.Compile(context.Background(), "pt", distinctModule(100+i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	started, _, maxActive := w.counts()
	t.Logf("%d children, at most %d at once", started, maxActive)
	if started != 5 || maxActive > 2 {
		t.Fatalf("%d children, %d at once; want 5, at most 2", started, maxActive)
	}

	// Waiting for a slot honours the caller's context.
	h.childSleep = time.Second
	w.startedCh = make(chan int, 2)
	slowCtx, stopSlow := context.WithCancel(context.Background())
	defer wg.Wait()
	defer stopSlow() // kills the slow children
	for i := range 2 {
		wg.Go(func() { _, _ = h.Compile(slowCtx, "slow", distinctModule(200+i)) })
	}
	<-w.startedCh
	<-w.startedCh
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.Compile(ctx, "waiting", distinctModule(300))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for one of 2 compile slots") {
		t.Fatalf("error %v, want a deadline while waiting for a compile slot", err)
	}
}

func TestNewHost_cacheDirUnusable(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	h, _ := newWatchedHost(t, HostConfig{CacheDir: filepath.Join(notDir, "cache"), Logger: newTextLogger(&logs)})
	if err := h.CacheError(); err == nil || !strings.Contains(err.Error(), notDir) {
		t.Fatalf("CacheError() = %v, want an error naming the directory", err)
	}
	if !logs.contains("level=WARN") || !logs.contains("compilation cache does not work") {
		t.Fatalf("no warning logged: %s", logs.buf.String())
	}
	if _, err := h.Compile(context.Background(), "pt", distinctModule(3)); err != nil {
		t.Fatal(err)
	}
}

// TestCompile_cacheBreaksLater replaces the cache directory, once the Host
// uses it, by a link to one where no file can be created (as when the disk
// is full): wazero then fails CompileModule after compiling; the Host
// compiles anyway and reports the cache's error.
func TestCompile_cacheBreaksLater(t *testing.T) {
	dir := t.TempDir()
	h, _ := newWatchedHost(t, HostConfig{CacheDir: dir})
	if err := h.CacheError(); err != nil {
		t.Fatal(err)
	}
	versioned, _ := filepath.Glob(filepath.Join(dir, "wazero-*"))
	if len(versioned) != 1 {
		t.Fatalf("cache directories %q, want one", versioned)
	}
	if err := os.RemoveAll(versioned[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self", versioned[0]); err != nil { // nothing can be created in /proc
		t.Fatal(err)
	}
	p, err := h.Compile(context.Background(), "pt", distinctModule(4))
	if err != nil {
		t.Fatal(err)
	}
	if h.CacheError() == nil {
		t.Fatal("CacheError() = nil after writes to the cache failed")
	}
	pool, err := NewPool(context.Background(), h, p, nil, Limits{MemoryPages: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close(context.Background())
	if _, err := pool.Handle(context.Background(), msgs("x")); err != nil {
		t.Fatal(err)
	}
}

func TestValidate_keepsNothing(t *testing.T) {
	dir := t.TempDir()
	h, w := newWatchedHost(t, HostConfig{CacheDir: dir})
	before := cacheFiles(t, dir)
	wasm := distinctModule(5)
	version, err := h.Validate(context.Background(), "pt", wasm, ModuleLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(wasm); version != hex.EncodeToString(sum[:]) {
		t.Fatalf("version %s, want the sha256 of the bytes", version)
	}
	if started, _, _ := w.counts(); started != 1 {
		t.Fatalf("%d compile children, want 1", started)
	}
	if after := cacheFiles(t, dir); len(after) != len(before) {
		t.Fatalf("Validate wrote to the cache directory: %q, was %q", after, before)
	}
	h.mu.Lock()
	n := len(h.entries)
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("the Host keeps %d entries after Validate", n)
	}
	if _, err := h.Validate(context.Background(), "junk", invalidModule(), ModuleLimits{}); err == nil ||
		!strings.HasPrefix(err.Error(), `plugin "junk": compile: `) {
		t.Fatalf("Validate of junk: %v", err)
	}
}

func TestValidate_inProcess(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{Compile: CompileBudget{InProcess: true}})
	if _, err := h.Validate(context.Background(), "pt", distinctModule(6), ModuleLimits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Compile(context.Background(), "pt", distinctModule(6)); err != nil {
		t.Fatal(err)
	}
	if started, _, _ := w.counts(); started != 0 {
		t.Fatalf("%d compile children with InProcess, want 0", started)
	}
}

func TestCompile_closeKillsChild(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{})
	w.startedCh = make(chan int, 1)
	go func() {
		<-w.startedCh
		_ = h.Close(context.Background())
	}()
	_, err := h.CompileWithLimits(context.Background(), "nested", nestedModule(30000), roomyLimits)
	if !errors.Is(err, ErrHostClosed) {
		t.Fatalf("error %v, want ErrHostClosed", err)
	}
	if started, reaped, _ := w.counts(); started != 1 || reaped != 1 {
		t.Fatalf("compile children started %d, reaped %d; want 1 and 1", started, reaped)
	}
}

// Closing the Host after a compile child has finished, while the parent loads the child's
// code from the cache, waits for that load instead of closing the engine under it (which
// panicked in wazero: "assignment to entry in nil map"); the compilation reports
// ErrHostClosed.
func TestCompile_closeWhileLoading(t *testing.T) {
	h, _ := newWatchedHost(t, HostConfig{CacheDir: t.TempDir()})
	closed := make(chan error, 1)
	h.childHook = func(ev childHookEvent) {
		if ev.start {
			return
		}
		go func() { closed <- h.Close(context.Background()) }()
		// Give Close the time to reach the cache before this compilation goes on to load
		// from it: without the wait for compilations, that is when the engine was closed.
		time.Sleep(200 * time.Millisecond)
	}
	_, err := h.Compile(context.Background(), "late", distinctModule(11))
	if !errors.Is(err, ErrHostClosed) {
		t.Fatalf("Compile: %v, want ErrHostClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A caller waiting for the same bytes does not inherit the cancellation of
// the caller that was compiling them: it compiles them itself.
func TestCompile_waiterOutlivesCanceledCompile(t *testing.T) {
	h, w := newWatchedHost(t, HostConfig{})
	h.childSleep = 300 * time.Millisecond
	w.startedCh = make(chan int, 2)
	wasm := distinctModule(7)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := h.Compile(ctx, "first", wasm)
		first <- err
	}()
	<-w.startedCh
	second := make(chan error, 1)
	go func() {
		_, err := h.Compile(context.Background(), "second", wasm)
		second <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the second caller wait for the first's entry
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first: %v, want context.Canceled", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second: %v", err)
	}
}

// TestCompile_measurePlugins compiles every .wasm in the directory named by
// TRIBUTARY_MEASURE_COMPILE in a compile child and logs what each child cost
// (wall, CPU, peak RSS), then the smallest of a few memory budgets each one
// compiles under. It is how CompileBudget's defaults were chosen:
//
//	for p in plugins/*/main.go; do d=$(dirname $p); GOOS=wasip1 GOARCH=wasm \
//	  go build -buildmode=c-shared -o /tmp/plug/$(basename $d).wasm ./$d; done
//	TRIBUTARY_MEASURE_COMPILE=/tmp/plug go test -run TestCompile_measurePlugins -v ./wasmhost/
func TestCompile_measurePlugins(t *testing.T) {
	dir := os.Getenv("TRIBUTARY_MEASURE_COMPILE")
	if dir == "" {
		t.Skip("set TRIBUTARY_MEASURE_COMPILE to a directory of .wasm files")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wasm"))
	logger := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, f := range files {
		wasm := readFile(t, f)
		h, _ := newWatchedHost(t, HostConfig{Logger: logger, Extensions: jsonimports.Functions()}) // as the gateway's
		start := time.Now()
		_, err := h.Compile(context.Background(), filepath.Base(f), wasm)
		t.Logf("%s (%d bytes): %v, error %v", filepath.Base(f), len(wasm), time.Since(start), err)
		for _, mib := range []int64{32, 64, 96, 128, 256} {
			h, _ := newWatchedHost(t, HostConfig{Logger: logger, Compile: CompileBudget{MemoryBytes: mib << 20}, Extensions: jsonimports.Functions()})
			if _, err := h.Validate(context.Background(), filepath.Base(f), wasm, ModuleLimits{}); err == nil {
				t.Logf("%s compiles within a memory budget of %d MiB", filepath.Base(f), mib)
				break
			}
		}
	}
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
