package wasmhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// Plugin is a compiled, validated plugin module: it has the ABI v1 marker,
// every export with its exact signature, and no imports beyond tributary.log
// and WASI preview 1. It is not instantiated; see [NewPool] and [NewInstance].
//
// A Plugin is a handle: each [Host.Compile] call returns a new one holding
// a reference on the compiled code of its bytes, which [Plugin.Close]
// releases (see "Ownership" in the package doc). It is safe for concurrent
// use; apart from Close it is immutable.
type Plugin struct {
	name    string
	entry   *compileEntry
	host    *Host
	logger  *slog.Logger
	limiter logLimiter // guest log lines, shared by all instances

	closed bool // guarded by host.mu
}

// Close releases the plugin's reference on its compiled code. Pools and
// instances made from it keep working: a Pool holds a reference of its own
// until [Pool.Close], and an Instance needs none once instantiated. When the
// last reference goes, the Host forgets the bytes and closes their compiled
// modules, so the memory they hold can be freed; compiling the same bytes
// again then compiles them anew (from the file cache when HostConfig.CacheDir
// is set).
//
// Making a Pool or Instance from a closed Plugin fails with
// ErrPluginClosed; Name, Version, Size and CompileTime keep working. Close
// is idempotent and always returns nil.
func (p *Plugin) Close() error {
	p.host.mu.Lock()
	if p.closed {
		p.host.mu.Unlock()
		return nil
	}
	p.closed = true
	p.host.mu.Unlock()
	p.host.release(p.entry)
	return nil
}

// Name returns the name the plugin was compiled under (usually its file name
// without .wasm).
func (p *Plugin) Name() string { return p.name }

// Version returns the hex sha256 of the plugin's bytes. It is the plugin's
// identity across reloads and the dead-letter header value.
func (p *Plugin) Version() string { return p.entry.hash }

// contentHash returns the version a Plugin compiled from wasm has: the hex sha256 of the
// bytes. It is pluginstore.Hash, which wasmhost cannot import (it sits below gateway).
func contentHash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// shortVersion returns the first 12 hex digits of Version, for logs.
func (p *Plugin) shortVersion() string { return p.entry.hash[:12] }

// Size returns the size of the plugin's wasm bytes.
func (p *Plugin) Size() int { return p.entry.size }

// CompileTime returns how long compiling and validating the bytes took the
// first time they were seen by the Host (later Compile calls with the same
// bytes share that result).
func (p *Plugin) CompileTime() time.Duration { return p.entry.compileTime }

// compileEntry is the compiled state of one content hash, shared by every
// Plugin with the same bytes. done is closed once err, compileTime,
// validated, wasm, interruptible and hadStart are set; after that they are
// read-only, except that close clears them under mu.
//
// refs counts its owners (Plugins, Pools, instantiations under way; guarded
// by Host.mu). When it drops to zero the entry leaves Host.entries and its
// compiled modules are closed; it never rises again.
type compileEntry struct {
	done     chan struct{}
	err      error
	hash     string
	wasm     []byte // as compiled: moved by moveStart
	size     int    // of the original bytes
	hadStart bool   // moveStart moved a start function to startExport
	// prechecked lists the limits these bytes passed Precheck with (guarded by Host.mu).
	prechecked  []ModuleLimits
	compileTime time.Duration
	validated   wazero.CompiledModule // compiled in a throwaway validation runtime
	// interruptible is wasm rewritten by instrumentLoops, or nil when the
	// rewriter refused it (the plugin then runs under wazero's checks).
	interruptible []byte

	refs int // guarded by Host.mu

	mu       sync.Mutex
	closed   bool
	perClass map[class]wazero.CompiledModule // by limit class
}

// errEntryClosed is returned by compiledFor after the entry's last
// reference went; owners hold a reference, so it means a bookkeeping bug.
var errEntryClosed = errors.New("compiled code already released")

// close closes every compiled module of e and drops its bytes. Instances
// already made keep running: wazero lets a module outlive its
// CompiledModule (CompiledModule.Close, wazero config.go).
func (e *compileEntry) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	ctx := context.Background() // wazero ignores it here
	if e.validated != nil {
		_ = e.validated.Close(ctx)
	}
	for _, cm := range e.perClass {
		_ = cm.Close(ctx)
	}
	e.validated, e.perClass, e.wasm, e.interruptible = nil, nil, nil, nil
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
	if e.closed {
		return nil, nil, errEntryClosed
	}
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
