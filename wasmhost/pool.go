package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// ErrPoolClosed is returned by [Pool.Do] and [Pool.Handle] once Close began.
var ErrPoolClosed = errors.New("wasmhost: pool closed")

// Pool holds the instances of one (Plugin, config, Limits) for one chain
// stage: a bounded channel of slots, filled when the pool is made. A slot
// holds an idle instance, or nil when its replacement could not be started
// in the background (the next borrower then instantiates inline).
//
// An instance is never put back after an error: it is closed and replaced.
// It is also replaced after Limits.RecycleAfterCalls successful calls or when
// its memory grows above Limits.RecycleAboveBytes. Replacements are
// instantiated off the caller's path.
//
// A Pool holds its own reference on the plugin's compiled code, taken by
// NewPool and released by Close, so the caller may close its Plugin once the
// pool is made.
//
// A Pool is safe for concurrent use. Close it when done.
type Pool struct {
	host   *Host
	plugin *Plugin
	config []byte
	lim    Limits
	size   int

	slots  chan *Instance // len == size once every borrowed slot is back
	stage  atomic.Int32
	closed atomic.Bool

	bg     sync.WaitGroup // background replacements
	bgCtx  context.Context
	cancel context.CancelFunc

	release sync.Once // of the pool's reference on plugin.entry
}

// NewPool makes a pool of size instances (at least 1) of plugin with config
// and limits, instantiating all of them now so a broken plugin or config
// fails here, not on the first message.
//
// # Errors
//
// The first instantiation or init error, naming the plugin (a *PluginError
// with Kind Rejected when the guest refused its config, Kind Timeout when
// its start function, _initialize or tributary_init ran past CallTimeout),
// or an error wrapping ErrPluginClosed. On error every instance made so far
// is closed and the pool's reference released.
func NewPool(ctx context.Context, h *Host, plugin *Plugin, config []byte, limits Limits, size int) (*Pool, error) {
	size = max(size, 1)
	lim := limits.withDefaults()
	if err := lim.validate(); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", plugin.name, err)
	}
	if err := h.acquirePlugin(plugin); err != nil {
		return nil, err
	}
	p := &Pool{
		host:   h,
		plugin: plugin,
		config: append([]byte(nil), config...),
		lim:    lim,
		size:   size,
		slots:  make(chan *Instance, size),
	}
	p.bgCtx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range size {
		in, err := p.start(ctx, ReasonStart)
		if err != nil {
			p.closed.Store(true)
			p.cancel()
			close(p.slots)
			for in := range p.slots {
				p.retire(in, ReasonClose)
			}
			p.releaseEntry()
			return nil, err
		}
		p.slots <- in
	}
	return p, nil
}

// Plugin returns the pool's plugin.
func (p *Pool) Plugin() *Plugin { return p.plugin }

// Limits returns the pool's limits with defaults applied.
func (p *Pool) Limits() Limits { return p.lim }

// releaseEntry releases the pool's reference on the plugin's compiled code,
// once.
func (p *Pool) releaseEntry() { p.release.Do(func() { p.host.release(p.plugin.entry) }) }

// start instantiates one instance and reports it. It holds a reference of
// its own while instantiating: a background replacement may finish after
// Close released the pool's; it then fails (the code is gone) or is retired.
func (p *Pool) start(ctx context.Context, reason RecycleReason) (*Instance, error) {
	if !p.host.acquire(p.plugin.entry) {
		return nil, ErrPoolClosed
	}
	in, err := newInstance(ctx, p.host, p.plugin, p.config, p.lim)
	p.host.release(p.plugin.entry)
	if err != nil {
		return nil, err
	}
	p.host.obs.InstanceStarted(p.plugin, reason)
	return in, nil
}

// retire closes in and reports why.
func (p *Pool) retire(in *Instance, reason RecycleReason) {
	_ = in.Close(context.Background())
	p.host.obs.InstanceRecycled(p.plugin, reason)
}

// get borrows an instance, waiting for a free slot until ctx is done.
func (p *Pool) get(ctx context.Context) (*Instance, error) {
	if p.closed.Load() {
		return nil, ErrPoolClosed
	}
	var in *Instance
	select {
	case in = <-p.slots:
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %q: waiting for an instance: %w", p.plugin.name, ctx.Err())
	}
	if p.closed.Load() {
		p.slots <- in
		return nil, ErrPoolClosed
	}
	if in == nil {
		var err error
		if in, err = p.start(ctx, ReasonError); err != nil {
			p.slots <- nil
			return nil, err
		}
	}
	in.stage = int(p.stage.Load())
	return in, nil
}

// put returns a borrowed instance: back into its slot when healthy, else
// retired and replaced in the background.
func (p *Pool) put(in *Instance, err error) {
	reason := ReasonStart // means "keep"
	switch {
	case err != nil || in.broken:
		reason = ReasonError
	case in.calls >= p.lim.RecycleAfterCalls:
		reason = ReasonCalls
	case in.MemorySize() > p.lim.RecycleAboveBytes:
		reason = ReasonMemory
	}
	if reason == ReasonStart && !p.closed.Load() {
		p.slots <- in
		return
	}
	if p.closed.Load() {
		p.retire(in, ReasonClose)
		p.slots <- nil
		return
	}
	p.retire(in, reason)
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		next, err := p.start(p.bgCtx, reason)
		switch {
		case err != nil:
			if !p.closed.Load() {
				p.host.logger.Warn("plugin instance replacement failed; retrying on next use",
					"plugin", p.plugin.name, "version", p.plugin.shortVersion(), "error", err)
			}
			p.slots <- nil
		case p.closed.Load():
			p.retire(next, ReasonClose)
			p.slots <- nil
		default:
			p.slots <- next
		}
	}()
}

// Do borrows an instance, runs fn with it and gives it back. fn must not
// keep the instance (or results from it) after returning. When fn returns an
// error the instance is closed and replaced, whatever the error.
//
// # Errors
//
// fn's error, ErrPoolClosed, ctx's error while waiting for an instance, or
// the error instantiating a replacement inline.
func (p *Pool) Do(ctx context.Context, fn func(*Instance) error) error {
	in, err := p.get(ctx)
	if err != nil {
		return err
	}
	fnErr := errBorrowerPanicked // if fn panics, the instance is not reused
	defer func() { p.put(in, fnErr) }()
	fnErr = fn(in)
	return fnErr
}

// errBorrowerPanicked marks an instance whose borrower panicked.
var errBorrowerPanicked = errors.New("wasmhost: borrower panicked")

// Handle runs one batch on a pooled instance and returns results the caller
// owns (copied out of the instance's buffers). See [Instance.Handle].
func (p *Pool) Handle(ctx context.Context, batch []abi.Message) ([]abi.Result, error) {
	var out []abi.Result
	err := p.Do(ctx, func(in *Instance) error {
		rs, err := in.Handle(ctx, batch)
		if err != nil {
			return err
		}
		out = cloneResults(rs, len(in.out))
		return nil
	})
	return out, err
}

// Close stops lending instances, waits until every borrowed instance is
// back (or ctx is done), closes them all and releases the pool's reference
// on the plugin's compiled code. Instances returned after a timed-out Close
// are closed on return. Close is idempotent.
func (p *Pool) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	defer p.releaseEntry()
	p.cancel()
	for range p.size {
		select {
		case in := <-p.slots:
			if in != nil {
				p.retire(in, ReasonClose)
			}
		case <-ctx.Done():
			return fmt.Errorf("plugin %q: closing pool: %w", p.plugin.name, ctx.Err())
		}
	}
	p.bg.Wait()
	return nil
}

// cloneResults deep-copies rs, whose byte slices alias a frame of frameLen
// bytes, into one new backing array.
func cloneResults(rs []abi.Result, frameLen int) []abi.Result {
	arena := make([]byte, 0, frameLen)
	keep := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(arena)
		arena = append(arena, b...)
		return arena[start:len(arena):len(arena)]
	}
	out := make([]abi.Result, len(rs))
	for i, r := range rs {
		out[i] = abi.Result{Err: r.Err, Failed: r.Failed}
		if len(r.Outputs) == 0 {
			continue
		}
		out[i].Outputs = make([]abi.Output, len(r.Outputs))
		for j, o := range r.Outputs {
			out[i].Outputs[j] = abi.Output{
				Flags:      o.Flags,
				Payload:    keep(o.Payload),
				KafkaTopic: o.KafkaTopic,
				Key:        keep(o.Key),
				Headers:    append([]abi.Property(nil), o.Headers...),
			}
		}
	}
	return out
}
