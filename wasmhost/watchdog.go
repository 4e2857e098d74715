package wasmhost

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchdogTick is how often the watchdog looks for calls past their
// deadline: a timed-out guest is stopped at most about this much late.
const watchdogTick = 5 * time.Millisecond

// killed marks a callWatch whose call the watchdog stopped.
const killed = -1

// epoch is the origin of callWatch deadlines; time.Since(epoch) reads the
// monotonic clock.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// watchdog enforces Limits.CallTimeout and the caller's context for every
// instance of one Host with a single goroutine, instead of a
// context.WithTimeout (a timer and a cancelCtx) per guest call.
//
// Every instance registers a callWatch. Before a guest call the instance
// stores the call's deadline in it and clears it after. Every watchdogTick
// the watchdog stops the calls past their deadline, or whose caller's
// context is done, by closing the callWatch's Done channel; wazero (with
// WithCloseOnContextDone) then closes the module and the guest's next loop
// iteration or function entry exits. A plugin rewritten by instrumentLoops
// runs without wazero's checks: the watchdog sets its interrupt global
// instead, and the guest traps at its next loop header.
type watchdog struct {
	mu      sync.Mutex
	watches map[*callWatch]struct{}
	stop    chan struct{}
	stopped chan struct{}
}

func newWatchdog() *watchdog {
	wd := &watchdog{
		watches: make(map[*callWatch]struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go wd.run()
	return wd
}

func (wd *watchdog) add(w *callWatch) {
	wd.mu.Lock()
	wd.watches[w] = struct{}{}
	wd.mu.Unlock()
}

func (wd *watchdog) remove(w *callWatch) {
	wd.mu.Lock()
	delete(wd.watches, w)
	wd.mu.Unlock()
}

// close stops the watchdog goroutine and waits for it. It is idempotent.
func (wd *watchdog) close() {
	select {
	case <-wd.stop:
	default:
		close(wd.stop)
	}
	<-wd.stopped
}

func (wd *watchdog) run() {
	defer close(wd.stopped)
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	var busy []*callWatch
	for {
		select {
		case <-wd.stop:
			return
		case <-t.C:
		}
		busy = busy[:0]
		wd.mu.Lock()
		for w := range wd.watches {
			if w.deadline.Load() > 0 {
				busy = append(busy, w)
			}
		}
		wd.mu.Unlock()
		now := monoNow()
		for _, w := range busy {
			w.check(now)
		}
		clear(busy) // drop references to closed instances
	}
}

// callWatch is an Instance's link to the watchdog and the context its guest
// calls run under. Its Done channel is closed (once, for good) when the
// watchdog stops a call; the instance is broken from then on.
//
// A callWatch is a context.Context so that wazero, which watches the
// context of every call when WithCloseOnContextDone is on, closes the
// module itself: from its own goroutine, deferring the release of the
// module's resources to the calling goroutine, as it does for any context.
type callWatch struct {
	// deadline is the monotonic time (monoNow) at which the current call
	// times out, 0 between calls, or killed.
	deadline atomic.Int64

	mu     sync.Mutex
	parent context.Context // the caller's context for the current call

	done  chan struct{}
	cause error // written before deadline becomes killed and done is closed

	// interrupt, when set, stops a guest that runs without wazero's
	// termination checks (instrumentLoops) at its next loop header. Set
	// before the watch is added to the watchdog; called by the watchdog only.
	interrupt func()
}

func newCallWatch() *callWatch {
	return &callWatch{parent: context.Background(), done: make(chan struct{})}
}

// begin arms the watch for a call under parent that must end by deadline.
func (w *callWatch) begin(parent context.Context, deadline int64) {
	w.mu.Lock()
	w.parent = parent
	w.mu.Unlock()
	w.deadline.Store(deadline)
}

// end disarms the watch and reports why the call was stopped, or nil.
func (w *callWatch) end() error {
	if w.deadline.Swap(0) == killed {
		w.deadline.Store(killed) // stays killed: the instance is done
		return w.cause
	}
	return nil
}

// check stops the current call when it is past its deadline at now or its
// caller's context is done. Only the watchdog goroutine calls it.
func (w *callWatch) check(now int64) {
	d := w.deadline.Load()
	if d <= 0 {
		return
	}
	w.mu.Lock()
	parent := w.parent
	w.mu.Unlock()
	cause := parent.Err()
	if cause == nil && now < d {
		return
	}
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	w.cause = cause
	if w.deadline.CompareAndSwap(d, killed) { // else the call ended meanwhile
		close(w.done)
		if w.interrupt != nil {
			w.interrupt()
		}
	}
}

// Deadline reports none: the watchdog enforces it.
func (w *callWatch) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is closed when the watchdog stopped a call.
func (w *callWatch) Done() <-chan struct{} { return w.done }

// Err returns why the call was stopped (context.DeadlineExceeded or the
// caller's context error) once Done is closed, else nil.
func (w *callWatch) Err() error {
	select {
	case <-w.done:
		return w.cause
	default:
		return nil
	}
}

// Value returns the caller's context values. Only the calling goroutine
// (wazero's host functions) asks for them.
func (w *callWatch) Value(key any) any { return w.parent.Value(key) }

var _ context.Context = (*callWatch)(nil)
