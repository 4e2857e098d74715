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
// never a hang. The rest of instantiation allocates tables, memory and
// globals and copies segments, all bounded by the pre-check and the class's
// Limits.MemoryPages (docs/RATIONALE.md, "wasmhost"). As a second line,
// modules compiled with wazero's termination checks are instantiated under
// a context done after CallTimeout.
//
// # Compiling untrusted modules
//
// wazero cannot interrupt a compilation, and some shapes make its time and
// memory grow super-linearly. So [Host.Compile] first checks the bytes with
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
// without any cache and keeps nothing. Outside unix only the timeout is
// enforced.
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
// # Runtimes, pools and deadlines
//
// Memory caps and deadlines are runtime-wide in wazero, so the Host keeps
// one runtime per limit class (Limits.MemoryPages), all sharing one
// compilation cache and engine: a plugin's machine code is produced once per
// content hash. Instances live in bounded pools that start them on demand
// and close those left idle (Limits.IdleTimeout), never in sync.Pool, and an
// instance is never reused after an error, because its state is unknown.
// Linear memories are reserved outside the Go heap where the platform allows
// (linearmemory.go), so that growing one never copies it and the garbage
// collector's headroom does not double them. Compiled code is freed when its last reference goes
// (see Ownership); the file cache keeps one file per distinct module and
// grows with them. Each module is checked in a throwaway runtime, so the
// per-class runtimes keep only the function signatures of plugins actually
// instantiated.
//
// Call deadlines are enforced by one watchdog goroutine per Host rather
// than a timer per call: each Instance's guest calls run under its own
// reusable context holding an atomic deadline, and every 5ms the watchdog
// closes the Done channel of calls that are past their deadline or whose
// caller's context is done. wazero (WithCloseOnContextDone) then closes the
// module and the guest stops at its next loop back-edge or function entry;
// the call fails with Kind Timeout.
//
// docs/RATIONALE.md ("wasmhost") has the wazero source these rest on and
// what they cost.
//
// # Lock order
//
// Host.mu (runtimes, compile entries, their reference counts and
// Plugin.closed) is never held while calling into a guest or closing
// compiled modules; compileEntry.mu (per-class compiled modules) may be
// taken while holding nothing else. A pool's lock guards only its idle
// instances and their count, held briefly and never around a guest call or
// an instance's start or close; chains use atomics only.
package wasmhost
