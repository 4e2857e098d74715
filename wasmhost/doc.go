// Package wasmhost runs Tributary plugins: WebAssembly modules that speak the
// ABI in sdk/ABI.md, on the wazero runtime.
//
// It owns the wazero runtimes (one per limit class, all sharing one
// compilation cache), compiled plugins ([Plugin], versioned by the sha256 of
// their bytes), instances ([Instance]), the bounded pools that lend them to
// workers ([Pool]), chains of pools ([Chain]), per-plugin [Limits] and the
// host side of the ABI: frame transfer, pointer checks, error classification
// ([PluginError]) and the tributary.log import.
//
// The main entry point is [NewHost], then [Host.Compile], [NewPool] per chain
// stage and [NewChain]:
//
//	host, _ := wasmhost.NewHost(ctx, wasmhost.HostConfig{CacheDir: dir})
//	p, _ := host.Compile(ctx, "celsius", wasmBytes)
//	pool, _ := wasmhost.NewPool(ctx, host, p, []byte(`{"field":"temp"}`), wasmhost.Limits{}, 4)
//	chain := wasmhost.NewChain([]*wasmhost.Pool{pool})
//	results := chain.Process(ctx, batch)
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
// wasmhost imports sdk/abi (the wire format shared with guests), sdk/jsonfield
// (the JSON code behind the optional tributary.json_* host imports, so guests
// and host edit JSON identically) and wazero, nothing else outside the
// standard library. It must never import gateway or
// a metrics library: it reports through the [Observer] interface instead.
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
// Host.mu (runtimes, compile entries) is never held while calling into a
// guest; compileEntry.mu (per-class compiled modules) may be taken while
// holding nothing else. Pools and chains use channels and atomics only.
package wasmhost
