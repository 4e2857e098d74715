// Package wasmhost runs Tributary plugins: WebAssembly modules that speak the
// ABI in sdk/ABI.md, on the wazero runtime.
//
// It owns the wazero runtimes (one per limit class, all sharing one
// compilation cache), compiled plugins ([Plugin], versioned by the sha256 of
// their bytes), instances ([Instance]), the bounded pools that lend them to
// workers ([Pool]), chains of pools ([Chain]), per-plugin [Limits] and the
// host side of the ABI: frame transfer, pointer checks, error classification
// ([PluginError]) and the tributary.log import. Other functions of module
// tributary are extensions its user registers ([HostConfig].Extensions, each
// a wasmhost/hostfunc.Function), such as the JSON imports of sdk/ABI.md §2.1
// in wasmhost/jsonimports; a guest importing a function the Host does not
// have fails [Host.Compile], naming the import.
//
// The main entry point is [NewHost], then [Host.Compile], [NewPool] per chain
// stage and [NewChain]:
//
//	host, _ := wasmhost.NewHost(ctx, wasmhost.HostConfig{CacheDir: dir, Extensions: jsonimports.Functions()})
//	p, _ := host.Compile(ctx, "celsius", wasmBytes)
//	pool, _ := wasmhost.NewPool(ctx, host, p, []byte(`{"field":"temp"}`), wasmhost.Limits{}, 4)
//	p.Close() // the pool keeps its own reference
//	chain := wasmhost.NewChain([]*wasmhost.Pool{pool})
//	results := chain.Process(ctx, batch)
//	chain.Close(ctx) // closes the pool, and with it the compiled code
//
// # Ownership
//
// Compiled code belongs to whoever holds a reference on it; the Host keeps
// one compile entry per content hash (the validation module and one module
// per limit class) and frees it when the last reference goes:
//
//   - every [Host.Compile] call returns a new [Plugin] handle holding one
//     reference; its caller closes it ([Plugin.Close]) once it has made its
//     pools, or right away when it only validated the bytes;
//   - [NewPool] takes a reference of its own, released by [Pool.Close] (a
//     [Chain] closes its pools);
//   - [NewInstance], and a pool starting an instance, hold one only while
//     instantiating: an [Instance] runs on without it, and whoever made it
//     closes it (a Pool its own);
//   - [Host.Close] closes every runtime and so every instance left.
//
// Compiling the same bytes while an entry is alive shares it; afterwards
// they are compiled again (from the file cache when CacheDir is set).
//
// # Instantiation runs no unbounded step
//
// Compile moves a module's start function to the export tributary_start
// (moveStart) and [NewInstance] calls it like any guest call, under the
// watchdog and Limits.CallTimeout, before _initialize and tributary_init:
// a start function that never returns is a Timeout error naming the plugin,
// never a hang. What wazero's instantiation does besides (Store.instantiate,
// internal/wasm/store.go): allocate tables (Min elements, up to 2^27 in
// wazero, bounded by the pre-check's declared table limit), memory (Min
// pages, which compiling in a class's runtime caps at Limits.MemoryPages),
// globals, and copy data and element segments (bounded by the module's
// size); then it would run the start function, the only guest code in it.
// As a second line, modules compiled with wazero's termination checks are
// instantiated under a context done after CallTimeout.
//
// # Compiling untrusted modules
//
// wazero cannot interrupt a compilation, and some shapes (deeply nested
// blocks) make its time and memory grow super-linearly: a few hundred KB
// can take minutes and GBs. So [Host.Compile] first checks the bytes with
// [Precheck], then compiles them in a child process of the same binary: the
// Host re-executes itself (/proc/self/exe on Linux, else os.Executable) with
// TRIBUTARY_WASMHOST_COMPILE_CHILD=1, and an init function of this package
// turns that process into a compile server for one request before main
// runs, so every binary that links wasmhost (the tributary binary, every
// test binary) can serve as the child with no wiring. The child limits
// itself (RLIMIT_DATA, RLIMIT_CPU, the Go runtime's memory limit), does the
// compile and the ABI checks the parent would, writes the machine code to
// the shared file compilation cache and answers on stdout. The parent kills
// the child's process group at [CompileBudget].Timeout or when the caller's
// context is done, and classifies a child that ran out of memory
// ([CompileBudgetError]). Only then does the parent compile, which with the
// file cache only loads what the child wrote (a Host without CacheDir uses a
// private temporary one). [CompileBudget].Concurrency bounds the
// compilations running at once; [Host.Validate] does the child's check
// without any cache and keeps nothing. A child costs about 25ms of CPU and
// 10 MiB before compiling; outside unix only the timeout is enforced.
//
// The compilation cache is an optimisation: when its directory cannot be
// created or written, at start or later, compiling still succeeds (in
// memory) and [Host.CacheError] says why.
//
// # Imports
//
// wasmhost imports sdk/abi (the wire format shared with guests),
// wasmhost/hostfunc (the type of a host function, shared with extensions) and
// wazero, nothing else outside the standard library. It does not import
// sdk/jsonfield or any other guest library: the optional tributary.json_*
// imports live in wasmhost/jsonimports, which imports sdk/jsonfield (so
// guests and host edit JSON identically) and is handed to [NewHost] by the
// gateway and the CLI. It must never import gateway or a metrics library: it
// reports through the [Observer] interface instead.
//
// # Rationale
//
// Memory caps (WithMemoryLimitPages) and deadlines (WithCloseOnContextDone)
// are runtime-wide in wazero, so the Host keeps one runtime per limit class
// (Limits.MemoryPages) rather than one per instance: runtimes share one
// compilation cache and engine, so a plugin's machine code is produced once
// per content hash and a new class only decodes the module again. Instances
// live in bounded channel pools, never in sync.Pool (the GC would drop them
// without Close), and an instance is never reused after an error because
// its state is unknown (after a deadline wazero has closed it already).
//
// Memory of compiled code, as wazero v1.12.0 keeps it (read in its source):
//
//   - The CompilationCache all runtimes of a Host share is, in memory, one
//     wazevo engine (cache.go, cache.engs). Its map compiledModules
//     (internal/engine/wazevo/engine.go) holds each module's machine code by
//     module ID (sha256 of the bytes and the termination-check flag), with a
//     count: every Runtime.CompileModule of those bytes adds one, hit or
//     miss (engine_cache.go, addCompiledModuleToMemory and
//     getCompiledModuleFromMemory), every CompiledModule.Close takes one
//     (config.go, compiledModule.Close → engine.DeleteCompiledModule), and
//     the last removes it from the map and from the address-sorted list. So
//     the in-memory cache keeps machine code exactly as long as one
//     CompiledModule of it is open, which is why an entry closes all of its
//     modules (validation and per class) when its last reference goes.
//   - Machine code lives in mmapped memory outside the Go heap, unmapped by
//     a finalizer (engine.go, executablesFinalizer) at a GC after the last
//     CompiledModule is closed and the last instance running it is gone:
//     wazero lets a module outlive its CompiledModule (the doc of
//     CompiledModule.Close; call_engine.go addFrame copes with a module
//     already removed from the engine).
//   - The file cache (HostConfig.CacheDir, internal/filecache) keeps
//     nothing in memory: one file per compiled module, written on a miss and
//     never removed by wazero except for other wazero versions' files. Disk
//     use grows with distinct modules compiled.
//   - Each runtime's Store keeps a map of every distinct function signature
//     compiled in it until the runtime closes (internal/wasm/store.go,
//     getFunctionTypeIDByKey; up to 2^27). Compile therefore checks each
//     module in a throwaway runtime (the engine, and so the machine code, is
//     shared through the cache; the Store is not); only the per-class
//     runtimes, which compile the plugins actually instantiated, keep the
//     signatures they have seen.
//
// Call deadlines are enforced by one watchdog goroutine per Host rather than
// a context.WithTimeout per call: each Instance's guest calls run under its
// own reusable context (a callWatch) holding an atomic deadline, and every
// 5ms the watchdog closes the Done channel of calls that are past their
// deadline or whose caller's context is done. wazero (WithCloseOnContextDone)
// then closes the module and the guest stops at its next loop back-edge or
// function entry; the call fails with Kind Timeout. This saves the timer, the
// cancelCtx and 5 allocations per call. wazero v1.12.0 still starts one
// goroutine per call (3 allocations) and exits to Go at every loop back-edge
// when WithCloseOnContextDone is on (wazero issue #2466, PR #2533), which
// dominates the cost of a call into a Go guest; that is the price of being
// able to stop a looping guest at all.
//
// # Lock order
//
// Host.mu (runtimes, compile entries, their reference counts and
// Plugin.closed) is never held while calling into a guest or closing
// compiled modules; compileEntry.mu (per-class compiled modules) may be
// taken while holding nothing else. Pools and chains use channels and
// atomics only.
package wasmhost
