package wasmhost

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// Plugin is a compiled, validated plugin module: it has the ABI v1 marker,
// every export with its exact signature, and no imports beyond tributary.log
// and WASI preview 1. It is not instantiated; see [NewPool] and [NewInstance].
//
// A Plugin is immutable and safe for concurrent use. It stays valid until
// its Host is closed.
type Plugin struct {
	name    string
	entry   *compileEntry
	logger  *slog.Logger
	limiter logLimiter // guest log lines, shared by all instances
}

// Name returns the name the plugin was compiled under (usually its file name
// without .wasm).
func (p *Plugin) Name() string { return p.name }

// Version returns the hex sha256 of the plugin's bytes. It is the plugin's
// identity across reloads and the dead-letter header value.
func (p *Plugin) Version() string { return p.entry.hash }

// shortVersion returns the first 12 hex digits of Version, for logs.
func (p *Plugin) shortVersion() string { return p.entry.hash[:12] }

// Size returns the size of the plugin's wasm bytes.
func (p *Plugin) Size() int { return p.entry.size }

// CompileTime returns how long compiling and validating the bytes took the
// first time they were seen by the Host (later Compile calls with the same
// bytes share that result).
func (p *Plugin) CompileTime() time.Duration { return p.entry.compileTime }

// compileEntry is the compiled state of one content hash, shared by every
// Plugin with the same bytes. done is closed once err, compileTime and
// validated are set; after that they are read-only.
type compileEntry struct {
	done        chan struct{}
	err         error
	hash        string
	wasm        []byte // as compiled: moved by moveStart
	size        int    // of the original bytes
	hadStart    bool   // moveStart moved a start function to startExport
	compileTime time.Duration
	validated   wazero.CompiledModule // in the host's validation runtime
	// interruptible is wasm rewritten by instrumentLoops, or nil when the
	// rewriter refused it (the plugin then runs under wazero's checks).
	interruptible []byte

	mu       sync.Mutex
	perClass map[class]wazero.CompiledModule // by limit class
}

// compiledFor returns the module compiled in the runtime of limit class c,
// compiling it on first use. The machine code comes from the shared
// compilation cache, so this only decodes and validates again.
func (h *Host) compiledFor(ctx context.Context, e *compileEntry, c class) (wazero.Runtime, wazero.CompiledModule, error) {
	rt, err := h.runtime(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cm, ok := e.perClass[c]; ok {
		return rt, cm, nil
	}
	wasm := e.wasm
	if c.interrupt {
		wasm = e.interruptible
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, nil, err
	}
	if e.perClass == nil {
		e.perClass = make(map[class]wazero.CompiledModule)
	}
	e.perClass[c] = cm
	return rt, cm, nil
}
