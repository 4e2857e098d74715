package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// ErrPoolClosed is returned by [Pool.Do] and [Pool.Handle] once Close began.
var ErrPoolClosed = errors.New("wasmhost: pool closed")

// Pool holds the instances of one (Plugin, config, Limits) for one chain
// stage. It makes one instance when it is made, so that a broken plugin or
// config fails there, and more on demand: a borrower that finds no idle
// instance, in a pool with fewer than its size, has one started in the
// background and takes it or an instance returned meanwhile, whichever comes
// first (so a slow or failing start delays it only when there is nothing
// else to wait for). An instance not borrowed for Limits.IdleTimeout is
// closed, down to none; the next borrower then starts one again.
//
// An instance is never put back after an error: it is closed and replaced.
// It is also replaced after Limits.RecycleAfterCalls successful calls or when
// its memory grows above Limits.RecycleAboveBytes. Retiring an instance and
// starting its replacement happen off the caller's path.
//
// A Pool holds its own reference on the plugin's compiled code, taken by
// NewPool and released by Close, so the caller may close its Plugin once the
// pool is made.
//
// [Pool.Share] makes another handle on the same instances (for another chain
// running the same plugin with the same config and limits); the instances
// go when the last handle is closed.
//
// A Pool is safe for concurrent use. Close it when done.
type Pool struct {
	plugin *Plugin
	shared *poolInstances
	stage  atomic.Int32 // this handle's chain stage, for errors and the Observer
	closed atomic.Bool  // this handle's Close began
}

// poolInstances is what the handles of a Pool share.
type poolInstances struct {
	host   *Host
	plugin *Plugin
	config []byte
	lim    Limits
	size   int

	mu   sync.Mutex
	idle []*Instance // not borrowed, the most recently returned last
	// live counts the instances idle, borrowed, starting or being replaced:
	// at most size.
	live int
	// wake is closed (and replaced) when an instance becomes idle, a start
	// fails or the pool closes: borrowers and Close wait on it.
	wake chan struct{}
	// startErr is the last start's failure, failures counts them: a
	// borrower with nothing to wait for reports it.
	startErr error
	failures uint64
	refs     int         // open handles
	closed   atomic.Bool // the last handle's Close began

	bg     sync.WaitGroup // background retirements and replacements, the idle reaper
	bgCtx  context.Context
	cancel context.CancelFunc

	release sync.Once // of the pool's reference on plugin.entry
}

// NewPool makes a pool of up to size instances (at least 1) of plugin with
// config and limits. It instantiates one now so a broken plugin or config
// fails here, not on the first message; the others start when borrowers
// need them (see [Pool]).
//
// # Errors
//
// The instantiation or init error, naming the plugin (a *PluginError with
// Kind Rejected when the guest refused its config, Kind Timeout when its
// start function, _initialize or tributary_init ran past CallTimeout), or an
// error wrapping ErrPluginClosed. On error the pool's reference is released.
func NewPool(ctx context.Context, h *Host, plugin *Plugin, config []byte, limits Limits, size int) (*Pool, error) {
	size = max(size, 1)
	lim := limits.withDefaults()
	if err := lim.validate(); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", plugin.name, err)
	}
	if err := h.acquirePlugin(plugin); err != nil {
		return nil, err
	}
	s := &poolInstances{
		host:   h,
		plugin: plugin,
		config: append([]byte(nil), config...),
		lim:    lim,
		size:   size,
		wake:   make(chan struct{}),
		live:   1,
		refs:   1,
	}
	s.bgCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	in, err := s.start(ctx, ReasonStart)
	if err != nil {
		s.closed.Store(true)
		s.cancel()
		s.releaseEntry()
		return nil, err
	}
	in.idleSince = time.Now()
	s.idle = append(s.idle, in)
	if lim.IdleTimeout > 0 {
		s.bg.Add(1)
		go s.reapIdle()
	}
	return &Pool{plugin: plugin, shared: s}, nil
}

// Share returns another handle on p's instances, for another chain stage
// running the same plugin with the same config and limits: borrowers of
// either handle take from the same instances, up to p's size. Each handle is
// closed on its own; the instances go with the last. It fails with
// ErrPoolClosed once every handle began closing.
func (p *Pool) Share() (*Pool, error) {
	s := p.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 {
		return nil, ErrPoolClosed
	}
	s.refs++
	return &Pool{plugin: p.plugin, shared: s}, nil
}

// Plugin returns the pool's plugin.
func (p *Pool) Plugin() *Plugin { return p.plugin }

// Limits returns the pool's limits with defaults applied.
func (p *Pool) Limits() Limits { return p.shared.lim }

// Size returns how many instances the pool may have at once.
func (p *Pool) Size() int { return p.shared.size }

// Idle returns how many instances the pool has that are not borrowed.
func (p *Pool) Idle() int {
	p.shared.mu.Lock()
	defer p.shared.mu.Unlock()
	return len(p.shared.idle)
}

// releaseEntry releases the pool's reference on the plugin's compiled code,
// once.
func (s *poolInstances) releaseEntry() { s.release.Do(func() { s.host.release(s.plugin.entry) }) }

// start instantiates one instance and reports it. It holds a reference of
// its own while instantiating: a background replacement may finish after
// Close released the pool's; it then fails (the code is gone) or is retired.
func (s *poolInstances) start(ctx context.Context, reason RecycleReason) (*Instance, error) {
	if !s.host.acquire(s.plugin.entry) {
		return nil, ErrPoolClosed
	}
	in, err := newInstance(ctx, s.host, s.plugin, s.config, s.lim)
	s.host.release(s.plugin.entry)
	if err != nil {
		return nil, err
	}
	s.host.obs.InstanceStarted(s.plugin, reason)
	return in, nil
}

// retire closes in and reports why.
func (s *poolInstances) retire(in *Instance, reason RecycleReason) {
	_ = in.Close(context.Background())
	s.host.obs.InstanceRecycled(s.plugin, reason)
}

// broadcast wakes everyone waiting on s.wake; s.mu must be held.
func (s *poolInstances) broadcast() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// idleNow adds in to the idle instances and wakes a waiting borrower.
func (s *poolInstances) idleNow(in *Instance) {
	in.idleSince = time.Now()
	s.mu.Lock()
	s.idle = append(s.idle, in)
	s.broadcast()
	s.mu.Unlock()
}

// startInBackground starts an instance for which live already counts, off
// the borrower's path, and makes it idle; a failure is kept for the
// borrowers that have no other instance to wait for.
func (s *poolInstances) startInBackground(reason RecycleReason) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		in, err := s.start(s.bgCtx, reason)
		switch {
		case err == nil && !s.closed.Load():
			s.idleNow(in)
			return
		case err == nil:
			s.retire(in, ReasonClose)
		case !s.closed.Load():
			s.host.logger.Warn("plugin instance failed to start",
				"plugin", s.plugin.name, "version", s.plugin.shortVersion(), "reason", reason.String(), "error", err)
		}
		s.mu.Lock()
		s.live--
		if err != nil {
			s.startErr = err
			s.failures++
		}
		s.broadcast()
		s.mu.Unlock()
	}()
}

// get borrows an instance: an idle one, else the first to become idle. A
// borrower that finds none idle while the pool has fewer than its size
// starts one in the background, and takes whichever comes first: it or one
// returned meanwhile. When starting fails and no other instance is left to
// wait for, get returns that error.
func (p *Pool) get(ctx context.Context) (*Instance, error) {
	s := p.shared
	failures := uint64(0)
	started := false
	for {
		if p.closed.Load() || s.closed.Load() {
			return nil, ErrPoolClosed
		}
		s.mu.Lock()
		if n := len(s.idle); n > 0 {
			in := s.idle[n-1]
			s.idle[n-1] = nil
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			in.stage = int(p.stage.Load())
			return in, nil
		}
		if started && s.failures != failures && s.live == 0 {
			err := s.startErr
			s.mu.Unlock()
			return nil, err
		}
		if !started || s.live == 0 {
			if s.live < s.size {
				s.live++
				started, failures = true, s.failures
				s.startInBackground(ReasonDemand)
			}
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-s.bgCtx.Done(): // closed while waiting
			return nil, ErrPoolClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("plugin %q: waiting for an instance: %w", p.plugin.name, ctx.Err())
		}
	}
}

// put returns a borrowed instance: to the idle ones when healthy, else
// retired and replaced in the background.
func (p *Pool) put(in *Instance, err error) {
	s := p.shared
	reason := ReasonStart // means "keep"
	switch {
	case err != nil || in.broken:
		reason = ReasonError
	case in.calls >= s.lim.RecycleAfterCalls:
		reason = ReasonCalls
	case in.MemorySize() > s.lim.RecycleAboveBytes:
		reason = ReasonMemory
	}
	if s.closed.Load() {
		s.retire(in, ReasonClose)
		s.mu.Lock()
		s.live--
		s.broadcast()
		s.mu.Unlock()
		return
	}
	if reason == ReasonStart {
		s.idleNow(in)
		return
	}
	s.bg.Add(1)
	go func() { // its place in live passes to the replacement
		defer s.bg.Done()
		s.retire(in, reason)
		s.startInBackground(reason)
	}()
}

// reapIdle closes instances idle for longer than Limits.IdleTimeout until
// the pool closes, looking a few times per timeout.
func (s *poolInstances) reapIdle() {
	defer s.bg.Done()
	every := max(s.lim.IdleTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case now := <-t.C:
			var old []*Instance
			s.mu.Lock()
			// idle is ordered by return time: the stale ones are at the front.
			n := 0
			for n < len(s.idle) && now.Sub(s.idle[n].idleSince) >= s.lim.IdleTimeout {
				n++
			}
			if n > 0 {
				old = append(old, s.idle[:n]...)
				s.idle = append(s.idle[:0], s.idle[n:]...)
				clear(s.idle[len(s.idle) : len(s.idle)+n])
				s.live -= n
			}
			s.mu.Unlock()
			for _, in := range old {
				s.retire(in, ReasonIdle)
			}
		}
	}
}

// Do borrows an instance, runs fn with it and gives it back. fn must not
// keep the instance (or results from it) after returning. When fn returns an
// error the instance is closed and replaced, whatever the error.
//
// # Errors
//
// fn's error, ErrPoolClosed, ctx's error while waiting for an instance, or
// the error starting one when the pool has no other to wait for.
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

// Close stops lending instances through this handle. Closing the last
// handle (see [Pool.Share]) also waits until every borrowed instance is back
// (or ctx is done), closes them all and releases the pool's reference on the
// plugin's compiled code. Instances returned after a timed-out Close are
// closed on return. Close is idempotent.
func (p *Pool) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	s := p.shared
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if !last {
		return nil
	}
	s.closed.Store(true)
	defer s.releaseEntry()
	s.cancel()
	for { // until every instance is back; each is closed as it comes
		s.mu.Lock()
		idle := s.idle
		s.idle = nil
		s.live -= len(idle)
		left, wake := s.live, s.wake
		s.mu.Unlock()
		for _, in := range idle {
			s.retire(in, ReasonClose)
		}
		if left == 0 {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("plugin %q: closing pool: %d instances still borrowed: %w", p.plugin.name, left, ctx.Err())
		}
	}
	s.bg.Wait()
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
