package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// ErrHostClosed is returned by Host methods after [Host.Close].
var ErrHostClosed = errors.New("wasmhost: host closed")

// HostConfig configures a [Host]. The zero value is usable.
type HostConfig struct {
	// CacheDir keeps compiled machine code on disk, so restarts skip
	// compilation. "" keeps it in memory only.
	CacheDir string
	// Logger receives guest output (tributary.log, stdout, stderr), one
	// record per line with the plugin's name and version. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Observer receives call outcomes and instance events. Defaults to none.
	Observer Observer
	// Compile bounds each compilation in time and memory (by compiling in a
	// child process first, see the package doc) and how many run at once.
	// The zero value means the defaults.
	Compile CompileBudget
	// ModuleLimits are the limits [Host.Compile] checks modules against
	// ([Precheck]); [Host.CompileWithLimits] takes its own. The zero value
	// means the defaults.
	ModuleLimits ModuleLimits
	// Extensions are host functions added to module tributary next to log
	// (sdk/ABI.md §2), such as the optional JSON imports of §2.1
	// (wasmhost/jsonimports.Functions). A module may import log and the
	// registered extensions of module tributary, and nothing else of it:
	// Compile rejects an import of an unregistered function, naming it.
	// Names must be unique and must not be log, or NewHost fails. The
	// functions are called concurrently by every instance of the Host.
	Extensions []hostfunc.Function
}

// Host owns the wazero runtimes (one per limit class, keyed by
// Limits.MemoryPages) and the compilation cache they share, and compiles each
// distinct plugin binary once for as long as a Plugin or Pool of it is open
// (see "Ownership" in the package doc).
//
// A Host is safe for concurrent use. Close it after every Pool built on it.
type Host struct {
	logger *slog.Logger
	obs    Observer
	cache  wazero.CompilationCache

	// validator configures the throwaway runtime each compilation checks a
	// plugin in, without a memory limit of its own; instances run in the
	// per-class runtimes. validatorFast does the same without termination
	// checks, for plugins rewritten by instrumentLoops, so its machine code
	// is the interrupt classes' (one compilation through the shared cache).
	validator, validatorFast wazero.RuntimeConfig
	// wasi holds the signatures of every WASI preview 1 function.
	wasi map[string]api.FunctionDefinition
	// tributary holds the functions of module tributary: log first, then
	// HostConfig.Extensions. In a compile child, only their signatures.
	tributary []hostfunc.Function

	mu       sync.Mutex
	closed   bool
	runtimes map[class]wazero.Runtime
	entries  map[string]*compileEntry // by content hash

	instances sync.Map // module name -> *Instance, for tributary.log
	seq       atomic.Uint64
	watchdog  *watchdog // call deadlines of every instance

	budget  CompileBudget
	limits  ModuleLimits  // for Compile
	closing chan struct{} // closed by Close: compile children are killed
	// compiling counts the compilations under way (compileEntry): Close waits for them
	// before it closes the compilation cache, whose engine they are loading code into (a
	// compile into a closed engine panics in wazero). Added under mu while !closed.
	compiling    sync.WaitGroup
	compileSlots chan struct{} // one token per compilation running
	// cacheDir is the directory of the file cache the compile child writes
	// and the runtimes read, or "" when the cache is in memory only.
	// tmpCacheDir is that directory when the Host made it (removed at Close).
	cacheDir, tmpCacheDir string

	cacheMu  sync.Mutex
	cacheErr error // the first failure of the file cache

	// For tests: childHook sees every compile child start and end;
	// childSleep makes each child sleep before compiling.
	childHook  func(childHookEvent)
	childSleep time.Duration
}

// NewHost creates a Host. A CacheDir that cannot be created or written does
// not fail it: the Host compiles in memory, logs the error once and reports
// it from [Host.CacheError].
//
// NewHost fails, naming the function, when an extension is registered twice,
// is called log, or has no implementation.
func NewHost(ctx context.Context, cfg HostConfig) (*Host, error) {
	if err := checkExtensions(cfg.Extensions); err != nil {
		return nil, err
	}
	h := &Host{
		logger:   cfg.Logger,
		obs:      cfg.Observer,
		runtimes: make(map[class]wazero.Runtime),
		entries:  make(map[string]*compileEntry),
		watchdog: newWatchdog(),
		budget:   cfg.Compile.withDefaults(),
		closing:  make(chan struct{}),
		limits:   cfg.ModuleLimits,
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.obs == nil {
		h.obs = nopObserver{}
	}
	h.tributary = h.tributaryFunctions(slices.Clone(cfg.Extensions))
	h.compileSlots = make(chan struct{}, h.budget.Concurrency)
	h.openCache(cfg.CacheDir)
	h.validator = h.runtimeConfig(false)
	h.validatorFast = h.runtimeConfig(true)
	rt := wazero.NewRuntimeWithConfig(ctx, h.validator)
	defer rt.Close(ctx)
	wasi, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		_ = h.Close(ctx)
		return nil, fmt.Errorf("wasmhost: compile wasi: %w", err)
	}
	h.wasi = wasi.ExportedFunctions()
	_ = wasi.Close(ctx) // the definitions stay readable
	return h, nil
}

// runtimeConfig is the configuration every runtime shares: the compiler
// where supported, one compilation cache, and a call ends (closing the
// module) when its context is done. The context of every guest call is the
// instance's callWatch, whose Done the Host's watchdog closes on timeout;
// WithCloseOnContextDone makes wazero compile the checks (at function entry
// and loop back-edges) that let a closed module stop a running guest; trusted
// runtimes (Limits.Trusted) go without them. wazero keys its compilation
// cache on that setting, so the two never share machine code.
func (h *Host) runtimeConfig(trusted bool) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithCloseOnContextDone(!trusted)
}

// runtime returns the runtime of limit class c, creating it (with WASI and
// the tributary host module) on first use.
func (h *Host) runtime(ctx context.Context, c class) (wazero.Runtime, error) {
	pages := c.pages
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHostClosed
	}
	if rt, ok := h.runtimes[c]; ok {
		return rt, nil
	}
	rt := wazero.NewRuntimeWithConfig(ctx, h.runtimeConfig(c.trusted || c.interrupt).WithMemoryLimitPages(pages))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("wasmhost: runtime for %d pages: wasi: %w", pages, err)
	}
	err := h.instantiateTributary(ctx, rt)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("wasmhost: runtime for %d pages: host module %s: %w", pages, abi.ImportModule, err)
	}
	h.runtimes[c] = rt
	return rt, nil
}

// Compile compiles and validates wasm as the plugin name, checking it
// against the Host's ModuleLimits first. Bytes seen before (same sha256) are
// not compiled again, even under another name, while a Plugin or Pool of them
// is open; concurrent calls with the same bytes wait for one compilation.
//
// The caller owns the returned Plugin and must Close it when it no longer
// makes pools or instances of it (see the package doc, "Ownership").
//
// A start function does not run here: the module is compiled with its start
// section moved to the export tributary_start (moveStart), which
// [NewInstance] calls under the watchdog.
//
// # Errors
//
// Errors name the plugin: a module limit ([Precheck]), the compile budget
// ([CompileBudgetError]), invalid wasm, a missing ABI marker, a missing or
// mistyped export (each one is listed), an import other than tributary.log,
// a function registered in HostConfig.Extensions (sdk/ABI.md §2) or WASI
// preview 1, or one with another signature, an imported memory, ctx's error,
// or ErrHostClosed.
func (h *Host) Compile(ctx context.Context, name string, wasm []byte) (*Plugin, error) {
	return h.CompileWithLimits(ctx, name, wasm, h.limits)
}

// CompileWithLimits is [Host.Compile] with module limits lim instead of the
// Host's. Limits are checked on every call, also for bytes compiled before.
func (h *Host) CompileWithLimits(ctx context.Context, name string, wasm []byte, lim ModuleLimits) (*Plugin, error) {
	hash := contentHash(wasm)
	h.mu.Lock()
	e := h.entries[hash]
	checked := e != nil && slices.Contains(e.prechecked, lim)
	h.mu.Unlock()
	if !checked { // the same bytes passing the same limits again need no second look
		if err := Precheck(wasm, lim); err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHostClosed
	}
	e, seen := h.entries[hash]
	if !seen {
		e = &compileEntry{done: make(chan struct{}), hash: hash, wasm: slices.Clone(wasm), size: len(wasm)}
		h.entries[hash] = e
		h.compiling.Add(1) // Done below, once compileEntry has returned
	}
	if !slices.Contains(e.prechecked, lim) {
		e.prechecked = append(e.prechecked, lim)
	}
	e.refs++ // this call's, handed to the Plugin on success
	h.mu.Unlock()

	if seen {
		select {
		case <-e.done:
		case <-ctx.Done():
			h.release(e)
			return nil, fmt.Errorf("plugin %q: compile: %w", name, ctx.Err())
		}
		if e.err != nil && isContextError(e.err) && ctx.Err() == nil {
			// The caller compiling it gave up (its entry is gone); this one has not.
			return h.CompileWithLimits(ctx, name, wasm, lim)
		}
	} else {
		start := time.Now()
		h.compileEntry(ctx, name, e)
		e.compileTime = time.Since(start)
		h.mu.Lock()
		if h.closed && e.err == nil {
			// Close is waiting for this compilation to end before it closes the engine the
			// code was loaded into: nothing may use it.
			_ = e.validated.Close(ctx)
			e.validated, e.err = nil, ErrHostClosed
		}
		h.mu.Unlock()
		h.compiling.Done()
		if e.err != nil {
			h.mu.Lock()
			if h.entries[hash] == e {
				delete(h.entries, hash) // let a later call try again
			}
			h.mu.Unlock()
		}
		close(e.done) // after the delete: a waiter may retry at once
	}
	if e.err != nil {
		h.release(e)
		return nil, fmt.Errorf("plugin %q: %w", name, e.err)
	}
	return &Plugin{name: name, entry: e, host: h, logger: h.logger}, nil
}

// compileEntry compiles e.wasm (moved by moveStart) into e, under the
// compile budget: in a child first, then in this process from the cache
// the child wrote.
func (h *Host) compileEntry(ctx context.Context, name string, e *compileEntry) {
	moved, hadStart, err := moveStart(e.wasm)
	if err != nil {
		e.err = err
		return
	}
	e.wasm, e.hadStart = moved, hadStart
	if err := h.acquireCompileSlot(ctx); err != nil {
		e.err = err
		return
	}
	defer h.releaseCompileSlot()

	tryRewritten := true
	if !h.budget.InProcess {
		reply, err := h.checkInChild(ctx, e.wasm, h.cacheDir)
		if err != nil {
			e.err = err
			return
		}
		if reply.CacheError != "" {
			h.noteCacheError(errors.New(reply.CacheError))
		}
		if !reply.OK {
			e.err = errors.New(reply.Error)
			return
		}
		tryRewritten = reply.Instrumented
		if reply.RewriteError != "" {
			h.logger.Debug("plugin runs under wazero's termination checks", "plugin", name, "reason", reply.RewriteError)
		}
	}

	// Untrusted plugins run rewritten by instrumentLoops when it can;
	// an error from the rewritten module is reported for the original.
	if tryRewritten {
		inst, err := instrumentLoops(e.wasm)
		if err == nil {
			cm, cerr := h.compileAndCheck(ctx, h.validatorFast, inst)
			switch {
			case cerr == nil:
				e.validated, e.interruptible = cm, inst
			case !h.budget.InProcess:
				// The child compiled only the rewritten module; the
				// original is not proven to compile within the budget.
				e.err = cerr
				return
			}
		} else if h.budget.InProcess {
			h.logger.Debug("plugin runs under wazero's termination checks", "plugin", name, "reason", err)
		} else {
			e.err = fmt.Errorf("compile: the loop rewriter failed after the compile child's succeeded: %w", err)
			return
		}
	}
	if e.validated == nil {
		e.validated, e.err = h.compileAndCheck(ctx, h.validator, e.wasm)
	}
}

// Validate checks wasm as [Host.CompileWithLimits] does, with lim, and
// returns its version (the hex sha256 of wasm), but keeps nothing: the
// module is compiled in a child process (with [CompileBudget.InProcess], in
// a throwaway runtime) with no file cache, and neither the Host nor the
// cache directory holds anything of it afterwards. It counts against the
// compile concurrency like a compilation.
func (h *Host) Validate(ctx context.Context, name string, wasm []byte, lim ModuleLimits) (version string, err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return "", ErrHostClosed
	}
	if err := Precheck(wasm, lim); err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	v := contentHash(wasm)
	moved, _, err := moveStart(wasm)
	if err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	if err := h.acquireCompileSlot(ctx); err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	defer h.releaseCompileSlot()
	var reply childReply
	if h.budget.InProcess {
		reply = checkModuleBytes(ctx, nil, h.tributary, moved)
	} else if reply, err = h.checkInChild(ctx, moved, ""); err != nil {
		return "", fmt.Errorf("plugin %q: %w", name, err)
	}
	if !reply.OK {
		return "", fmt.Errorf("plugin %q: %s", name, reply.Error)
	}
	return v, nil
}

// acquireCompileSlot waits for one of the Host's compile slots, or ctx.
func (h *Host) acquireCompileSlot(ctx context.Context) error {
	select {
	case h.compileSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("compile: waiting for one of %d compile slots: %w", cap(h.compileSlots), ctx.Err())
	}
}

func (h *Host) releaseCompileSlot() { <-h.compileSlots }

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// openCache sets the Host's compilation cache: a file cache in dir if it
// can be created and written, else (without InProcess) one in a private
// temporary directory, so the parent loads what its compile child wrote,
// else in memory. A failure of dir is logged once and kept for CacheError.
func (h *Host) openCache(dir string) {
	if dir != "" {
		c, err := openFileCache(dir)
		if err == nil {
			h.cache, h.cacheDir = c, dir
			return
		}
		h.noteCacheError(fmt.Errorf("compilation cache %q: %w", dir, err))
	}
	if !h.budget.InProcess {
		if tmp, err := os.MkdirTemp("", "tributary-wasmhost-cache-"); err != nil {
			h.logger.Debug("wasmhost: no private compilation cache; compiling twice (child, then in memory)", "error", err)
		} else if c, err := openFileCache(tmp); err != nil {
			_ = os.RemoveAll(tmp)
			h.logger.Debug("wasmhost: no private compilation cache; compiling twice (child, then in memory)", "error", err)
		} else {
			h.cache, h.cacheDir, h.tmpCacheDir = c, tmp, tmp
			return
		}
	}
	h.cache = wazero.NewCompilationCache()
}

// openFileCache opens a wazero file cache in dir and checks that a file can
// be written there (wazero only creates the directory).
func openFileCache(dir string) (wazero.CompilationCache, error) {
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err == nil {
		_, err = f.Write([]byte("ok"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		_ = os.Remove(f.Name())
	}
	if err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	return c, nil
}

// noteCacheError records the first failure of the file cache and logs it.
func (h *Host) noteCacheError(err error) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if h.cacheErr != nil {
		return
	}
	h.cacheErr = err
	h.logger.Warn("wasmhost: compilation cache does not work; compiled code is kept in memory only", "dir", h.cacheDir, "error", err)
}

// CacheError returns the first failure of the compilation cache directory
// (HostConfig.CacheDir could not be created or written, or a write failed
// later), or nil while it works. Compiling does not fail for it: the code
// is then kept in memory only, and restarts compile again.
func (h *Host) CacheError() error {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	return h.cacheErr
}

// compileAndCheck compiles wasm in a throwaway runtime of configuration cfg
// and checks its exports and imports against the ABI. The compiled module
// outlives the runtime: it only holds the engine's machine code for the
// per-class runtimes (see "Ownership" in the package doc).
func (h *Host) compileAndCheck(ctx context.Context, cfg wazero.RuntimeConfig, wasm []byte) (wazero.CompiledModule, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil && isCacheError(err) {
		// wazero fails the compile when writing the file cache fails, but
		// keeps the machine code in memory: the second call finds it.
		h.noteCacheError(err)
		cm, err = rt.CompileModule(ctx, wasm)
	}
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	if err := h.checkModule(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	return cm, nil
}

// wantExports lists the ABI v1 exports with their exact signatures (§1).
var wantExports = []struct {
	name           string
	params, result []api.ValueType
	optional       bool
}{
	{name: abi.ExportMarker},
	{name: abi.ExportAlloc, params: []api.ValueType{api.ValueTypeI32}, result: []api.ValueType{api.ValueTypeI32}},
	{name: abi.ExportInit, params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, result: []api.ValueType{api.ValueTypeI64}},
	{name: abi.ExportHandle, params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, result: []api.ValueType{api.ValueTypeI64}},
	{name: abi.ExportInitialize, optional: true},
	{name: startExport, optional: true}, // the start function, moved by moveStart
}

// checkModule reports every way cm breaks ABI v1 §1 and §2, joined.
func (h *Host) checkModule(cm wazero.CompiledModule) error {
	var errs []error
	exports := cm.ExportedFunctions()
	for _, w := range wantExports {
		fn, ok := exports[w.name]
		switch {
		case !ok && w.optional:
		case !ok && w.name == abi.ExportMarker:
			errs = append(errs, fmt.Errorf("missing export %s: not an ABI v1 plugin", w.name))
		case !ok:
			errs = append(errs, fmt.Errorf("missing export %s", w.name))
		case !sameTypes(fn.ParamTypes(), w.params) || !sameTypes(fn.ResultTypes(), w.result):
			errs = append(errs, fmt.Errorf("export %s has signature %s, want %s",
				w.name, signature(fn.ParamTypes(), fn.ResultTypes()), signature(w.params, w.result)))
		}
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		errs = append(errs, errors.New("missing export memory"))
	}
	for _, fn := range cm.ImportedFunctions() {
		mod, name, _ := fn.Import()
		var want api.FunctionDefinition
		switch mod {
		case abi.ImportModule:
			im, ok := h.findImport(name)
			if !ok {
				errs = append(errs, fmt.Errorf("unknown import %s.%s: not registered with this host, whose module %s has %s (HostConfig.Extensions registers more)",
					mod, name, mod, h.tributaryNames()))
				continue
			}
			if !sameTypes(fn.ParamTypes(), im.Params) || !sameTypes(fn.ResultTypes(), im.Results) {
				errs = append(errs, fmt.Errorf("import %s.%s has signature %s, want %s",
					mod, name, signature(fn.ParamTypes(), fn.ResultTypes()), signature(im.Params, im.Results)))
			}
			continue
		case wasi_snapshot_preview1.ModuleName:
			want = h.wasi[name]
		}
		if want == nil {
			errs = append(errs, fmt.Errorf("unknown import %s.%s", mod, name))
			continue
		}
		if !sameTypes(fn.ParamTypes(), want.ParamTypes()) || !sameTypes(fn.ResultTypes(), want.ResultTypes()) {
			errs = append(errs, fmt.Errorf("import %s.%s has signature %s, want %s", mod, name,
				signature(fn.ParamTypes(), fn.ResultTypes()), signature(want.ParamTypes(), want.ResultTypes())))
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		errs = append(errs, fmt.Errorf("imports memory %s.%s; a plugin must define its own", mod, name))
	}
	return errors.Join(errs...)
}

func sameTypes(a, b []api.ValueType) bool { return slices.Equal(a, b) }

// signature formats a function type as "(i32, i32) -> (i64)".
func signature(params, results []api.ValueType) string {
	f := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return f(params) + " -> " + f(results)
}

// Close closes every runtime (and with them every instance still open) and
// the compilation cache. Plugins and pools of this Host must not be used
// afterwards. Close is idempotent.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.closing)
	rts := h.runtimes
	h.runtimes = nil
	h.mu.Unlock()
	h.watchdog.close()
	h.compiling.Wait() // closing kills their children; what is left loads from the cache

	var errs []error
	for c, rt := range rts {
		if err := rt.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("wasmhost: close runtime for %d pages: %w", c.pages, err))
		}
	}
	if err := h.cache.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("wasmhost: close compilation cache: %w", err))
	}
	if h.tmpCacheDir != "" {
		if err := os.RemoveAll(h.tmpCacheDir); err != nil {
			errs = append(errs, fmt.Errorf("wasmhost: remove private compilation cache: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ErrPluginClosed is returned when a closed [Plugin] is used to make a
// [Pool] or an [Instance].
var ErrPluginClosed = errors.New("wasmhost: plugin closed")

// acquirePlugin takes a reference on p's compiled code for a new owner, or
// fails when p was closed.
func (h *Host) acquirePlugin(p *Plugin) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.closed {
		return fmt.Errorf("plugin %q: %w", p.name, ErrPluginClosed)
	}
	p.entry.refs++ // p's own reference keeps it above zero
	return nil
}

// acquire takes a reference on e unless its last one is gone (its compiled
// modules are closed, or about to be).
func (h *Host) acquire(e *compileEntry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.refs == 0 {
		return false
	}
	e.refs++
	return true
}

// release drops a reference on e. The last one removes e from the Host and
// closes its compiled modules.
func (h *Host) release(e *compileEntry) {
	h.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && h.entries[e.hash] == e {
		delete(h.entries, e.hash)
	}
	h.mu.Unlock()
	if last {
		e.close()
	}
}
