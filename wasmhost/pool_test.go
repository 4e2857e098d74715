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
