package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/sdktest"
)

func TestPool_hammer(t *testing.T) {
	const goroutines, calls = 8, 40
	pool := newTestPool(t, testGuest(t), `{"prefix":"p-"}`, Limits{RecycleAfterCalls: 25}, 3)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				payload := fmt.Sprintf("g%d-%d", g, i)
				batch := msgs(payload, "drop")
				if i%10 == 9 {
					batch = msgs(payload, "trap") // failures mixed in
				}
				rs, err := pool.Handle(context.Background(), batch)
				if i%10 == 9 {
					if pe, ok := AsPluginError(err); !ok || pe.Kind != Trap {
						errs <- fmt.Errorf("call %s: error %v, want a trap", payload, err)
						return
					}
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("call %s: %v", payload, err)
					return
				}
				if got := string(rs[0].Outputs[0].Payload); got != "p-"+payload || len(rs[1].Outputs) != 0 {
					errs <- fmt.Errorf("call %s: got %q and %d outputs", payload, got, len(rs[1].Outputs))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPool_recycleAfterCalls(t *testing.T) {
	p, err := testHostV.Compile(context.Background(), "recycled", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, p, "", Limits{RecycleAfterCalls: 3}, 1)
	seen := map[*Instance]int{}
	for range 10 {
		err := pool.Do(context.Background(), func(in *Instance) error {
			seen[in]++
			_, err := in.Handle(context.Background(), msgs("x"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("10 calls ran on %d instances, want 4 (3 calls each)", len(seen))
	}
	for in, n := range seen {
		if n > 3 {
			t.Fatalf("instance %s served %d calls, want at most 3", in.name, n)
		}
	}
	if got := testObs.recycledFor("recycled", ReasonCalls); got != 3 {
		t.Fatalf("observer saw %d recycles for calls, want 3", got)
	}
}

func TestPool_recycleAboveMemory(t *testing.T) {
	p, err := testHostV.Compile(context.Background(), "memhog", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, p, "", Limits{RecycleAboveBytes: 1}, 1) // every instance is above 1 byte
	var first *Instance
	for i := range 2 {
		_ = pool.Do(context.Background(), func(in *Instance) error {
			if i == 0 {
				first = in
			} else if in == first {
				t.Error("instance above RecycleAboveBytes was reused")
			}
			return nil
		})
	}
	if got := testObs.recycledFor("memhog", ReasonMemory); got < 1 {
		t.Fatalf("observer saw %d recycles for memory, want at least 1", got)
	}
}

func TestPool_errorReplaces(t *testing.T) {
	pool := newTestPool(t, testGuest(t), "", Limits{}, 1)
	var failed *Instance
	boom := errors.New("caller failed")
	err := pool.Do(context.Background(), func(in *Instance) error { failed = in; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want the callback's error", err)
	}
	_ = pool.Do(context.Background(), func(in *Instance) error {
		if in == failed {
			t.Error("instance returned after an error was reused")
		}
		return nil
	})
}

func TestPool_closeWaitsForBorrowed(t *testing.T) {
	ctx := context.Background()
	pool, err := NewPool(ctx, testHostV, testGuest(t), nil, Limits{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	borrowed, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = pool.Do(ctx, func(*Instance) error { close(borrowed); <-release; return nil })
	}()
	<-borrowed
	closed := make(chan error)
	go func() { closed <- pool.Close(ctx) }()
	waitFor(t, 10*time.Second, func() error {
		if _, err := pool.Handle(ctx, msgs("x")); !errors.Is(err, ErrPoolClosed) {
			return fmt.Errorf("Handle during Close = %v, want ErrPoolClosed", err)
		}
		return nil
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while an instance was borrowed", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := pool.Close(tctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestConformance runs the SDK's ABI conformance vectors against the SDK's
// conformance guest on a wasmhost Instance.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	wasm := readFile(t, sdktest.BuildConformanceGuest(t))
	p, err := testHostV.Compile(ctx, "conformance", wasm)
	if err != nil {
		t.Fatal(err)
	}
	// The default memory (16 MiB): the kit's 10,001-deep vector makes the Go guest validate
	// a document nested deeper than the limit in Go compiled to wasm, which must fit. The
	// call timeout is generous: the test checks results, not speed, on a loaded CI machine.
	in, err := NewInstance(ctx, testHostV, p, nil, Limits{CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	sdktest.Conformance(t, func(frame []byte) ([]byte, error) {
		if err := in.callFrame(ctx, frame); err != nil {
			return nil, err
		}
		return in.out, nil
	})
}

// TestPool_growsOnDemandUpToSize: a pool starts with one instance and starts more only while
// every one it has is borrowed, never more than its size.
func TestPool_growsOnDemandUpToSize(t *testing.T) {
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, "ondemand", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, p, "", Limits{IdleTimeout: -1}, 3)
	if got := pool.Idle(); got != 1 {
		t.Fatalf("new pool has %d idle instances, want 1", got)
	}
	for range 5 { // one borrower at a time: the one instance serves them all
		if _, err := pool.Handle(ctx, msgs("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := pool.Idle(); got != 1 {
		t.Fatalf("after sequential calls the pool has %d instances, want 1", got)
	}
	var held sync.WaitGroup
	release := make(chan struct{})
	borrowed := make(chan *Instance, 5)
	for range 5 { // 3 hold an instance each; 2 wait for one
		held.Go(func() {
			_ = pool.Do(ctx, func(in *Instance) error { borrowed <- in; <-release; return nil })
		})
	}
	distinct := map[*Instance]bool{}
	for range 3 {
		distinct[<-borrowed] = true
	}
	select {
	case in := <-borrowed:
		t.Fatalf("a fourth borrower got instance %s from a pool of size 3", in.name)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	held.Wait()
	for range 2 {
		distinct[<-borrowed] = true
	}
	if len(distinct) != 3 {
		t.Fatalf("5 borrowers got %d distinct instances, want 3", len(distinct))
	}
	if got := pool.Idle(); got != 3 {
		t.Fatalf("pool has %d idle instances after the borrowers, want 3", got)
	}
	if got := testObs.startedFor("ondemand"); got != 3 {
		t.Fatalf("observer saw %d instances started, want 3", got)
	}
}

// TestPool_releasesIdleInstances: instances not borrowed for IdleTimeout are closed, down to
// none, and the next borrower starts one.
func TestPool_releasesIdleInstances(t *testing.T) {
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, "idle", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, p, `{"prefix":"p-"}`, Limits{IdleTimeout: 20 * time.Millisecond}, 2)
	waitFor(t, 10*time.Second, func() error {
		if n := pool.Idle(); n != 0 {
			return fmt.Errorf("%d idle instances left", n)
		}
		return nil
	})
	if got := testObs.recycledFor("idle", ReasonIdle); got != 1 {
		t.Fatalf("observer saw %d instances released as idle, want 1", got)
	}
	rs, err := pool.Handle(ctx, msgs("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rs[0].Outputs[0].Payload); got != "p-x" {
		t.Fatalf("instance started after the idle release returned %q, want p-x (its config applied)", got)
	}
}

// TestPool_share: two handles borrow from the same instances; closing one leaves the other
// working, closing both closes the instances.
func TestPool_share(t *testing.T) {
	ctx := context.Background()
	p, err := testHostV.Compile(ctx, "shared", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewPool(ctx, testHostV, p, nil, Limits{IdleTimeout: -1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Share()
	if err != nil {
		t.Fatal(err)
	}
	var first, second *Instance
	_ = a.Do(ctx, func(in *Instance) error { first = in; return nil })
	_ = b.Do(ctx, func(in *Instance) error { second = in; return nil })
	if first != second {
		t.Fatal("handles of one pool of size 1 lent different instances")
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Handle(ctx, msgs("x")); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("closed handle: Handle = %v, want ErrPoolClosed", err)
	}
	if _, err := b.Handle(ctx, msgs("x")); err != nil {
		t.Fatalf("the other handle after the first closed: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testObs.recycledFor("shared", ReasonClose); got != 1 {
		t.Fatalf("observer saw %d instances closed with the pool, want 1", got)
	}
	if _, err := b.Share(); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Share after every handle closed = %v, want ErrPoolClosed", err)
	}
}
