// Package delivery tracks the messages a gateway flow holds between receiving them and
// acknowledging them: it bounds them by count and by bytes, counts the work each one still
// has outstanding, acknowledges a message when its last piece of work is done, and tells
// when nothing is left in flight.
//
// It exists so that one type owns these four concerns, which used to be spread over a slot
// channel, a per-message counter and a polling loop in the drain: the bounds are the
// gateway's backpressure (while they are reached, intake waits and the broker keeps the rest),
// and Wait is what a drain blocks on before it sends its last acknowledgements.
//
// The package knows nothing of MQTT or Kafka: a Tracker is parameterised by the message type
// and calls an acknowledgement function the gateway supplies. Nothing in it sleeps or polls;
// waiters block on channels that are closed when space frees up or the count reaches zero.
package delivery

import (
	"context"
	"sync"
	"sync/atomic"
)

// Tracker bounds and tracks the messages in flight of one flow. Each message holds one slot
// from Acquire until its Delivery's last Done (or Release), and its size in bytes counts
// against the byte bound for as long.
//
// A Tracker is safe for concurrent use.
type Tracker[M any] struct {
	maxCount int
	maxBytes int64
	ack      func(M)

	mu    sync.Mutex
	count int
	bytes int64
	freed chan struct{} // closed by the next Release when someone waits for space; nil otherwise
	idle  chan struct{} // closed when count reaches zero when someone waits; nil otherwise
}

// NewTracker returns a Tracker admitting at most maxCount messages and, together, at most
// maxBytes bytes of them; ack is called once per message, by the last Done of its Delivery,
// before its slot is released. maxCount and maxBytes must be greater than zero.
func NewTracker[M any](maxCount int, maxBytes int64, ack func(M)) *Tracker[M] {
	if maxCount <= 0 || maxBytes <= 0 {
		panic("delivery: NewTracker needs bounds greater than zero")
	}
	return &Tracker[M]{maxCount: maxCount, maxBytes: maxBytes, ack: ack}
}

// fits reports whether a message of size bytes may be admitted now. A message larger than the
// byte bound is admitted alone, when nothing else is in flight, so it cannot wait forever.
// The caller holds mu.
func (t *Tracker[M]) fits(size int64) bool {
	return t.count < t.maxCount && (t.count == 0 || t.bytes+size <= t.maxBytes)
}

// TryAcquire takes a slot for a message of size bytes if one is free now, without waiting.
func (t *Tracker[M]) TryAcquire(size int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.fits(size) {
		return false
	}
	t.count++
	t.bytes += size
	return true
}

// Acquire takes a slot for a message of size bytes, waiting while either bound is reached.
// It returns ctx's error, holding nothing, when ctx is done first.
func (t *Tracker[M]) Acquire(ctx context.Context, size int64) error {
	for {
		t.mu.Lock()
		if t.fits(size) {
			t.count++
			t.bytes += size
			t.mu.Unlock()
			return nil
		}
		if t.freed == nil {
			t.freed = make(chan struct{})
		}
		freed := t.freed
		t.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release frees the slot of a message of size bytes that was acquired and will not be
// acknowledged (intake stopped while it was being handed over, say).
func (t *Tracker[M]) Release(size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count == 0 {
		panic("delivery: Release without Acquire")
	}
	t.count--
	t.bytes -= size
	if t.freed != nil {
		close(t.freed)
		t.freed = nil
	}
	if t.count == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// InFlight returns the messages holding a slot and their bytes.
func (t *Tracker[M]) InFlight() (count int, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count, t.bytes
}

// Wait returns nil once no message holds a slot, at once when none does, or ctx's error when
// ctx is done first. Messages admitted while it waits are waited for too.
func (t *Tracker[M]) Wait(ctx context.Context) error {
	t.mu.Lock()
	if t.count == 0 {
		t.mu.Unlock()
		return nil
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Track readies d to count the outstanding work of msg, which holds a slot of size bytes
// (taken with Acquire or TryAcquire). d's count starts at zero: Add the work before the first
// piece of it can be Done.
func (t *Tracker[M]) Track(d *Delivery[M], msg M, size int64) {
	d.t, d.msg, d.size = t, msg, size
	d.pending.Store(0)
}

// Delivery counts the outstanding work of one message: the records produced from it on
// every route it matched, or their dead letters. The last Done acknowledges the message and
// releases its slot. Add every piece of work (or a token standing for work not yet known)
// before the first Done, so the count cannot reach zero early.
//
// A Delivery is a value embedded in the message; it is safe for concurrent use once Track
// has returned.
type Delivery[M any] struct {
	pending atomic.Int32
	t       *Tracker[M]
	msg     M
	size    int64
}

// Add counts n more pieces of outstanding work.
func (d *Delivery[M]) Add(n int) { d.pending.Add(int32(n)) }

// Done settles one piece of work; the last one acknowledges the message and releases its slot.
func (d *Delivery[M]) Done() {
	switch n := d.pending.Add(-1); {
	case n == 0:
		d.t.ack(d.msg)
		d.t.Release(d.size)
	case n < 0:
		panic("delivery: Done called more often than Add")
	}
}

// Size returns the bytes the message counts against the tracker's byte bound.
func (d *Delivery[M]) Size() int64 { return d.size }
