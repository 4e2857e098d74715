package delivery

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type msg struct {
	id int
	d  Delivery[*msg]
}

// settle is how long a test lets a goroutine run before it checks that the goroutine is
// still blocked. It only bounds how soon a wrong wake-up is noticed, never correctness.
const settle = 20 * time.Millisecond

func blocked(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s returned (%v) while it should wait", what, err)
	case <-time.After(settle):
	}
}

func returned(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still waiting", what)
		return nil
	}
}

func TestDeliveryAcksOnceAtZero(t *testing.T) {
	var acks []int
	tr := NewTracker(10, 1<<20, func(m *msg) { acks = append(acks, m.id) })
	m := &msg{id: 7}
	if !tr.TryAcquire(100) {
		t.Fatal("TryAcquire failed on an empty tracker")
	}
	tr.Track(&m.d, m, 100)
	m.d.Add(2) // two routes
	m.d.Add(3) // records of route one
	for range 3 {
		m.d.Done()
	}
	m.d.Done() // route one's token
	if len(acks) != 0 {
		t.Fatal("acked before route two finished")
	}
	if n, b := tr.InFlight(); n != 1 || b != 100 {
		t.Fatalf("in flight %d messages, %d bytes; want 1, 100", n, b)
	}
	m.d.Add(1)
	m.d.Done()
	m.d.Done()
	if len(acks) != 1 || acks[0] != 7 {
		t.Fatalf("acks = %v, want [7]", acks)
	}
	if n, b := tr.InFlight(); n != 0 || b != 0 {
		t.Fatalf("in flight %d messages, %d bytes after the ack; want 0, 0", n, b)
	}
}

func TestDoneBelowZeroPanics(t *testing.T) {
	tr := NewTracker(1, 1, func(*msg) {})
	m := &msg{}
	tr.TryAcquire(1)
	tr.Track(&m.d, m, 1)
	m.d.Add(1)
	m.d.Done()
	defer func() {
		if recover() == nil {
			t.Fatal("a second Done did not panic")
		}
	}()
	m.d.Done()
}

func TestAcquireBoundByCount(t *testing.T) {
	tr := NewTracker(2, 1<<30, func(*msg) {})
	ctx := context.Background()
	for range 2 {
		if err := tr.Acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if tr.TryAcquire(1) {
		t.Fatal("TryAcquire took a third slot of two")
	}
	done := make(chan error, 1)
	go func() { done <- tr.Acquire(ctx, 1) }()
	blocked(t, done, "Acquire at max count")
	tr.Release(1)
	if err := returned(t, done, "Acquire after a release"); err != nil {
		t.Fatal(err)
	}
	if n, _ := tr.InFlight(); n != 2 {
		t.Fatalf("in flight %d, want 2", n)
	}
}

func TestAcquireBoundByBytes(t *testing.T) {
	tr := NewTracker(1000, 100, func(*msg) {})
	ctx := context.Background()
	if err := tr.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if !tr.TryAcquire(40) {
		t.Fatal("40 more bytes up to the bound of 100 were refused")
	}
	done := make(chan error, 1)
	go func() { done <- tr.Acquire(ctx, 1) }()
	blocked(t, done, "Acquire at max bytes")
	tr.Release(40) // 60 held: 1 more fits
	if err := returned(t, done, "Acquire after bytes were released"); err != nil {
		t.Fatal(err)
	}
	// 61 held: 50 does not fit until the 60 goes.
	go func() { done <- tr.Acquire(ctx, 50) }()
	blocked(t, done, "Acquire of 50 with 61 of 100 held")
	tr.Release(1) // a release that frees too little wakes the waiter, which waits again
	blocked(t, done, "Acquire of 50 with 60 of 100 held")
	tr.Release(60)
	if err := returned(t, done, "Acquire after enough was released"); err != nil {
		t.Fatal(err)
	}
	if n, b := tr.InFlight(); n != 1 || b != 50 {
		t.Fatalf("in flight %d messages, %d bytes; want 1, 50", n, b)
	}
}

// A message larger than the byte bound is admitted alone, or it would wait forever.
func TestOversizedMessageAdmittedAlone(t *testing.T) {
	tr := NewTracker(10, 100, func(*msg) {})
	ctx := context.Background()
	if err := tr.Acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Acquire(ctx, 500) }()
	blocked(t, done, "Acquire of 500 bytes beside another message")
	tr.Release(10)
	if err := returned(t, done, "Acquire of 500 bytes alone"); err != nil {
		t.Fatal(err)
	}
	if tr.TryAcquire(1) {
		t.Fatal("a message was admitted beside one above the byte bound")
	}
	tr.Release(500)
	if !tr.TryAcquire(1) {
		t.Fatal("nothing in flight, yet a message of 1 byte was refused")
	}
}

func TestAcquireInterruptedByContext(t *testing.T) {
	tr := NewTracker(1, 100, func(*msg) {})
	ctx, cancel := context.WithCancel(context.Background())
	if err := tr.Acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Acquire(ctx, 1) }()
	blocked(t, done, "Acquire at max count")
	cancel()
	if err := returned(t, done, "Acquire after cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	if n, b := tr.InFlight(); n != 1 || b != 1 {
		t.Fatalf("an interrupted Acquire holds something: %d messages, %d bytes", n, b)
	}
}

func TestWait(t *testing.T) {
	tr := NewTracker(10, 100, func(*msg) {})
	if err := tr.Wait(context.Background()); err != nil {
		t.Fatalf("Wait on an empty tracker = %v", err)
	}
	m := &msg{}
	tr.TryAcquire(5)
	tr.Track(&m.d, m, 5)
	m.d.Add(1)
	done := make(chan error, 1)
	go func() { done <- tr.Wait(context.Background()) }()
	blocked(t, done, "Wait with a message in flight")
	m.d.Done()
	if err := returned(t, done, "Wait after the last ack"); err != nil {
		t.Fatal(err)
	}

	tr.TryAcquire(5)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- tr.Wait(ctx) }()
	blocked(t, done, "Wait with a message in flight")
	cancel()
	if err := returned(t, done, "Wait after cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

// Many producers and ackers at once: the bounds always hold, every message is acknowledged
// once, and Wait returns when the last one is. Run with -race.
func TestConcurrentBoundsHold(t *testing.T) {
	const (
		maxCount = 8
		maxBytes = 1000
		msgs     = 4000
		workers  = 4
	)
	var acked atomic.Int64
	tr := NewTracker(maxCount, maxBytes, func(*msg) { acked.Add(1) })
	// The held counts are checked by whoever changes them, under the tracker's own lock,
	// through InFlight right after Acquire.
	var violations atomic.Int64
	work := make(chan *msg, msgs)
	var ackers sync.WaitGroup
	for range workers {
		ackers.Go(func() {
			for m := range work {
				m.d.Done() // a record
				m.d.Done() // the route token
			}
		})
	}
	ctx := context.Background()
	for i := range msgs {
		size := int64(1 + i%300)
		if err := tr.Acquire(ctx, size); err != nil {
			t.Fatal(err)
		}
		if n, b := tr.InFlight(); n > maxCount || b > maxBytes {
			violations.Add(1)
		}
		m := &msg{id: i}
		tr.Track(&m.d, m, size)
		m.d.Add(2)
		work <- m
	}
	if err := tr.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	close(work)
	ackers.Wait()
	if v := violations.Load(); v > 0 {
		t.Fatalf("bounds exceeded %d times", v)
	}
	if a := acked.Load(); a != msgs {
		t.Fatalf("acked %d, want %d", a, msgs)
	}
	if n, b := tr.InFlight(); n != 0 || b != 0 {
		t.Fatalf("after Wait: %d messages, %d bytes in flight", n, b)
	}
}
