package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost/hostfunc"
)

// ErrInstanceClosed is returned by [Instance.Handle] on an instance that was
// closed or failed before.
var ErrInstanceClosed = errors.New("wasmhost: instance closed")

// maxInitError bounds the error text read back from tributary_init.
const maxInitError = 4096

// Instance is one instantiated plugin with its own linear memory, its
// reusable call stack and frame buffers.
//
// # Notes
//
//   - Not safe for concurrent use: a Pool lends it to one goroutine at a time.
//   - After any error from Handle the instance must not be reused; it is
//     closed already (later calls return ErrInstanceClosed). A Pool closes it
//     and instantiates a replacement.
type Instance struct {
	host   *Host
	plugin *Plugin
	lim    Limits
	name   string // unique module name in its runtime
	stage  int    // chain stage, for errors and the Observer

	mod                   api.Module
	watch                 *callWatch // deadline of the current call; the ctx wazero sees
	mem                   api.Memory
	alloc, handle, initFn api.Function

	stack   []uint64 // max(params, results) of every export: 2
	inPtr   uint32   // guest input buffer from tributary_alloc
	inCap   uint32   // bytes asked for it
	in      []byte   // encoded input frame
	out     []byte   // result frame copied out of guest memory
	results []abi.Result

	calls     int
	broken    bool
	idleSince time.Time   // when its Pool last got it back
	oom       atomic.Bool // the guest printed "out of memory" on stderr
	stdout    *lineWriter
	stderr    *lineWriter
}

// NewInstance instantiates p with config (a JSON object; nil means "{}")
// under limits, runs the module's start function (moved to the export
// tributary_start at Compile), then _initialize if exported, and hands the
// config to tributary_init. Each of these is a guest call under the Host's
// watchdog and limits.CallTimeout, like a Handle call. Most callers use a
// [Pool] instead.
//
// The instance does not need p once made: closing p does not affect it.
//
// # Errors
//
// A *PluginError naming the plugin: Rejected with the guest's message when
// tributary_init fails, Trap/Timeout/OutOfMemory/BadResult when a call fails
// (for the start function, its error says "start function"); an error
// wrapping ErrPluginClosed when p was closed; or an error naming the plugin
// when instantiation fails.
func NewInstance(ctx context.Context, h *Host, p *Plugin, config []byte, limits Limits) (*Instance, error) {
	if err := h.acquirePlugin(p); err != nil {
		return nil, err
	}
	defer h.release(p.entry) // the compiled code is needed until instantiated
	return newInstance(ctx, h, p, config, limits)
}

// newInstance is NewInstance for a caller holding a reference on p.entry.
func newInstance(ctx context.Context, h *Host, p *Plugin, config []byte, limits Limits) (*Instance, error) {
	lim := limits.withDefaults()
	if err := lim.validate(); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", p.name, err)
	}
	c := lim.class()
	if p.entry.interruptible != nil {
		// The rewritten module has safe points, which every plugin needs (see
		// instrumentLoops); a trusted one just never has its stop global set.
		c.interrupt, c.trusted = true, false
	}
	rt, cm, err := h.compiledFor(ctx, p.entry, c)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: compile for %d memory pages: %w", p.name, lim.MemoryPages, err)
	}
	in := &Instance{
		host:   h,
		plugin: p,
		lim:    lim,
		name:   p.name + "#" + strconv.FormatUint(h.seq.Add(1), 10),
		stack:  make([]uint64, 2),
	}
	in.stdout = &lineWriter{p: p, source: "stdout", level: slog.LevelInfo}
	in.stderr = &lineWriter{p: p, source: "stderr", level: slog.LevelWarn, oom: &in.oom}
	cfg := wazero.NewModuleConfig().
		WithName(in.name).
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStdout(in.stdout).
		WithStderr(in.stderr)
	h.instances.Store(in.name, in)
	mod, err := instantiate(ctx, rt, cm, cfg, lim)
	if err != nil {
		h.instances.Delete(in.name)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, &PluginError{Plugin: p.name, Version: p.entry.hash, Kind: Timeout,
				Err: fmt.Errorf("instantiate: start function: %w (call_timeout %v)", err, lim.CallTimeout)}
		}
		return nil, fmt.Errorf("plugin %q: instantiate: %w", p.name, err)
	}
	in.mod = mod
	in.watch = newCallWatch()
	if c.interrupt && !lim.Trusted {
		stop, ok1 := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
		budget, ok2 := mod.ExportedGlobal(budgetExport).(api.MutableGlobal)
		if !ok1 || !ok2 {
			_ = mod.Close(ctx)
			h.instances.Delete(in.name)
			return nil, fmt.Errorf("plugin %q: instantiate: no globals %s, %s", p.name, interruptExport, budgetExport) // added at Compile
		}
		in.watch.interrupt = func() {
			stop.Set(1)
			budget.Set(1) // the safe point, and so the stop check, at the next loop header
		}
	}
	h.watchdog.add(in.watch)
	in.mem = mod.ExportedMemory("memory")
	in.alloc = mod.ExportedFunction(abi.ExportAlloc)
	in.handle = mod.ExportedFunction(abi.ExportHandle)
	in.initFn = mod.ExportedFunction(abi.ExportInit)
	if in.mem == nil || in.alloc == nil || in.handle == nil || in.initFn == nil {
		_ = in.Close(ctx)
		return nil, fmt.Errorf("plugin %q: instantiate: ABI exports missing", p.name) // checked at Compile
	}
	if err := in.start(ctx, config); err != nil {
		_ = in.Close(ctx)
		return nil, err
	}
	return in, nil
}

// instantiate instantiates cm in rt. No guest code runs in it: Compile moved
// the start function to an export (moveStart), and cfg names no start
// functions; what remains (memory, tables, globals, data and element
// segments) is bounded by the module's size, the runtime's memory limit and
// the pre-check of declared table sizes. As a second line, a module with
// wazero's termination checks is instantiated under a context done after
// CallTimeout, which would stop a start function that was not moved.
func instantiate(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, cfg wazero.ModuleConfig, lim Limits) (api.Module, error) {
	if !lim.Trusted {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.CallTimeout)
		defer cancel()
	}
	return rt.InstantiateModule(withLinearMemory(ctx), cm, cfg)
}

// start runs the start function moved by Compile (when there was one),
// _initialize (when exported) and tributary_init (§1, §5).
func (in *Instance) start(ctx context.Context, config []byte) error {
	if in.plugin.entry.hadStart {
		if fn := in.mod.ExportedFunction(startExport); fn != nil {
			if err := in.call(ctx, fn); err != nil {
				if pe, ok := AsPluginError(err); ok {
					pe.Err = fmt.Errorf("start function: %w", pe.Err)
				}
				return err
			}
		}
	}
	if fn := in.mod.ExportedFunction(abi.ExportInitialize); fn != nil {
		if err := in.call(ctx, fn); err != nil {
			return err
		}
	}
	if len(config) == 0 {
		config = []byte("{}")
	}
	if uint64(len(config)) > math.MaxUint32 {
		return in.fail(BadResult, fmt.Errorf("config of %d bytes too large", len(config)))
	}
	if err := in.allocInput(ctx, uint32(len(config))); err != nil {
		return err
	}
	if !in.mem.Write(in.inPtr, config) {
		return in.fail(BadResult, fmt.Errorf("alloc buffer [%d,+%d) outside %d bytes of memory", in.inPtr, len(config), in.mem.Size()))
	}
	in.stack[0], in.stack[1] = uint64(in.inPtr), uint64(len(config))
	if err := in.call(ctx, in.initFn); err != nil {
		return err
	}
	in.inCap = 0 // the config buffer is the guest's again; alloc afresh for frames
	if r := in.stack[0]; r != 0 {
		ptr, n := uint32(r>>32), min(uint32(r), maxInitError)
		msg, ok := in.mem.Read(ptr, n)
		if !ok {
			return in.fail(BadResult, fmt.Errorf("init error [%d,+%d) outside %d bytes of memory", ptr, n, in.mem.Size()))
		}
		return in.fail(Rejected, fmt.Errorf("init: %w", errRejected(msg)))
	}
	return nil
}

// allocInput asks the guest for an input buffer of n bytes.
func (in *Instance) allocInput(ctx context.Context, n uint32) error {
	in.stack[0] = uint64(n)
	if err := in.call(ctx, in.alloc); err != nil {
		return err
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 {
		return in.fail(OutOfMemory, fmt.Errorf("%s(%d) returned 0", abi.ExportAlloc, n))
	}
	if uint64(ptr)+uint64(n) > uint64(in.mem.Size()) {
		return in.fail(BadResult, fmt.Errorf("%s(%d) returned [%d,+%d) outside %d bytes of memory", abi.ExportAlloc, n, ptr, n, in.mem.Size()))
	}
	in.inPtr, in.inCap = ptr, n
	return nil
}

// call calls fn with in.stack under the per-call deadline: the earlier of
// now+CallTimeout and ctx's deadline, enforced (with ctx's cancellation) by
// the Host's watchdog rather than a context per call. A call stopped by the
// watchdog fails with Kind Timeout and wraps context.DeadlineExceeded or
// ctx's error.
func (in *Instance) call(ctx context.Context, fn api.Function) error {
	if err := ctx.Err(); err != nil {
		return in.fail(Timeout, fmt.Errorf("%s: %w", funcName(fn), err))
	}
	if in.lim.Trusted {
		// No termination checks were compiled: nothing could stop the call.
		if err := fn.CallWithStack(ctx, in.stack); err != nil {
			return in.classifyCall(fn, err)
		}
		return nil
	}
	timeout := in.lim.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	start := monoNow()
	in.watch.begin(ctx, max(start+int64(timeout), 1))
	err := fn.CallWithStack(in.watch, in.stack)
	if cause := in.watch.end(); cause != nil {
		// Stopped by the watchdog (err may be nil if the guest returned
		// just then; the module is closed either way).
		if errors.Is(cause, context.DeadlineExceeded) && ctx.Err() == nil {
			ran := time.Duration(monoNow() - start).Round(time.Millisecond)
			return in.fail(Timeout, fmt.Errorf("%s: %w (call_timeout %v, stopped after %v)", funcName(fn), cause, in.lim.CallTimeout, ran))
		}
		return in.fail(Timeout, fmt.Errorf("%s: %w", funcName(fn), cause))
	}
	if err == nil {
		return nil
	}
	return in.classifyCall(fn, err)
}

// classifyCall turns a failed call of fn into the instance's PluginError.
func (in *Instance) classifyCall(fn api.Function, err error) error {
	limit := in.lim.memoryLimitBytes()
	nearLimit := uint64(in.mem.Size())+min(4<<20, limit/4) >= limit
	kind := classify(err, nearLimit, in.oom.Load())
	if errors.Is(err, hostfunc.ErrGuestPointer) {
		kind = BadResult
	}
	return in.fail(kind, fmt.Errorf("%s: %w", funcName(fn), err))
}

// funcName names fn in errors: its name in the module's name section, else
// the name it is exported as.
func funcName(fn api.Function) string {
	d := fn.Definition()
	if n := d.Name(); n != "" {
		return n
	}
	if names := d.ExportNames(); len(names) > 0 {
		return names[0]
	}
	return fmt.Sprintf("function %d", d.Index())
}

// fail marks the instance broken (unless the kind keeps it) and returns the
// *PluginError for kind and err.
func (in *Instance) fail(kind Kind, err error) error {
	if kind != Rejected {
		in.broken = true
	}
	return &PluginError{Plugin: in.plugin.name, Version: in.plugin.entry.hash, Stage: in.stage, Kind: kind, Err: err}
}

// Handle runs tributary_handle on batch and returns one result per message,
// in order. It calls tributary_alloc first only when the frame outgrows the
// input buffer. The results, their outputs and the byte slices in them
// (Payload, Key) are valid until the next call of Handle; copy what you keep.
// An empty batch returns nil, nil without calling the guest.
//
// # Errors
//
// A *PluginError (Trap, Timeout, OutOfMemory or BadResult) after which the
// instance is closed, or ErrInstanceClosed. A message the guest rejects is
// not an error: its Result has Failed set.
func (in *Instance) Handle(ctx context.Context, batch []abi.Message) (results []abi.Result, err error) {
	if in.broken {
		return nil, ErrInstanceClosed
	}
	if len(batch) == 0 {
		return nil, nil
	}
	in.in = abi.AppendBatch(in.in[:0], batch)
	err = in.handleFrame(ctx, in.in, len(batch), func(out []byte) error {
		in.out = append(in.out[:0], out...) // out is a view of guest memory
		var err error
		if in.results, err = abi.DecodeResults(in.out, len(batch), in.lim.MaxFanOut, in.results); err != nil {
			return in.fail(BadResult, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in.results, nil
}

// handleFrame runs tributary_handle on frame, an encoded input frame of n
// messages, and passes the result frame to use, which reads it and returns
// nil or the call's error (made with in.fail). The result frame is a view
// of guest memory, checked against the memory size and MaxOutputBytes and
// nothing else: use must validate whatever it reads and must not keep it
// (the guest's next call may change or move it). A panic in the call or in
// use fails the call as a Trap; after any error the instance is closed. The
// call is reported to the Observer.
func (in *Instance) handleFrame(ctx context.Context, frame []byte, n int, use func(out []byte) error) (err error) {
	if in.broken {
		return ErrInstanceClosed
	}
	start := time.Now()
	defer func() {
		if r := recover(); r != nil { // never let a guest take the host down
			err = in.fail(Trap, fmt.Errorf("host panic: %v", r))
		}
		if err != nil {
			_ = in.Close(context.Background())
		}
		in.host.obs.PluginCall(in.plugin, in.stage, n, time.Since(start), err)
	}()
	out, err := in.callFrameView(ctx, frame)
	if err != nil {
		return err
	}
	if err := use(out); err != nil {
		return err
	}
	in.calls++
	return nil
}

// callFrame is callFrameView copying the result frame into in.out.
func (in *Instance) callFrame(ctx context.Context, frame []byte) error {
	out, err := in.callFrameView(ctx, frame)
	if err != nil {
		return err
	}
	in.out = append(in.out[:0], out...) // Read returns a view; growth would detach it
	return nil
}

// callFrameView writes an encoded input frame into the guest's input buffer
// (allocating a larger one when it outgrows it), calls tributary_handle and
// returns the result frame, checked against the memory size and
// MaxOutputBytes, as a view of guest memory: valid until the next call into
// the instance.
func (in *Instance) callFrameView(ctx context.Context, frame []byte) ([]byte, error) {
	if uint64(len(frame)) > math.MaxUint32 {
		return nil, in.fail(BadResult, fmt.Errorf("input frame of %d bytes exceeds 4 GiB", len(frame)))
	}
	n := uint32(len(frame))
	if n > in.inCap {
		if err := in.allocInput(ctx, n); err != nil {
			return nil, err
		}
	}
	if !in.mem.Write(in.inPtr, frame) {
		return nil, in.fail(BadResult, fmt.Errorf("input buffer [%d,+%d) outside %d bytes of memory", in.inPtr, n, in.mem.Size()))
	}
	in.stack[0], in.stack[1] = uint64(in.inPtr), uint64(n)
	if err := in.call(ctx, in.handle); err != nil {
		return nil, err
	}
	packed := in.stack[0]
	ptr, size := uint32(packed>>32), uint32(packed)
	if uint64(size) > uint64(in.lim.MaxOutputBytes) {
		return nil, in.fail(BadResult, fmt.Errorf("result of %d bytes exceeds max_output_bytes %d", size, in.lim.MaxOutputBytes))
	}
	out, ok := in.mem.Read(ptr, size)
	if !ok {
		return nil, in.fail(BadResult, fmt.Errorf("result [%d,+%d) outside %d bytes of memory", ptr, size, in.mem.Size()))
	}
	return out, nil
}

// Calls returns how many Handle calls succeeded on this instance.
func (in *Instance) Calls() int { return in.calls }

// MemorySize returns the current size of the instance's linear memory in
// bytes.
func (in *Instance) MemorySize() uint64 { return uint64(in.mem.Size()) }

// Plugin returns the plugin this instance runs.
func (in *Instance) Plugin() *Plugin { return in.plugin }

// Close closes the module and flushes any partial output line. It is
// idempotent; Handle afterwards returns ErrInstanceClosed.
func (in *Instance) Close(ctx context.Context) error {
	in.broken = true
	in.host.instances.Delete(in.name)
	if in.watch != nil {
		in.host.watchdog.remove(in.watch)
	}
	in.stdout.flush()
	in.stderr.flush()
	if in.mod == nil {
		return nil
	}
	err := in.mod.Close(ctx)
	in.mod = nil
	return err
}
