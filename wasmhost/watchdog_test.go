package wasmhost

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestInstance_callerContextStopsGuest checks that the caller's context, not
// only Limits.CallTimeout, stops a looping guest: the watchdog sees the
// caller's deadline or cancellation while the guest runs. CallTimeout is a
// minute, so only the caller's context can end these calls in time.
func TestInstance_callerContextStopsGuest(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "canceled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	p := testGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := NewInstance(context.Background(), testHostV, p, nil, Limits{CallTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(context.Background())
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err = in.Handle(ctx, msgs("loop"))
			wantKind(t, err, Timeout)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v does not wrap %v", err, tc.want)
			}
			if _, err := in.Handle(context.Background(), msgs("ok")); !errors.Is(err, ErrInstanceClosed) {
				t.Fatalf("Handle after a timeout: %v, want ErrInstanceClosed", err)
			}
		})
	}
}

// TestCallWatch covers the watch's state machine without a guest: a call
// past its deadline is stopped once, with its cause; a call that ended is
// never stopped.
func TestCallWatch(t *testing.T) {
	t.Run("past deadline", func(t *testing.T) {
		w := newCallWatch()
		w.begin(context.Background(), 100)
		w.check(99)
		if w.Err() != nil {
			t.Fatalf("stopped before its deadline: %v", w.Err())
		}
		w.check(100)
		select {
		case <-w.Done():
		default:
			t.Fatal("Done not closed after the deadline")
		}
		if !errors.Is(w.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, want context.DeadlineExceeded", w.Err())
		}
		w.check(200) // a second look must not close Done again (that would panic)
		if err := w.end(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("end() = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("ended in time", func(t *testing.T) {
		w := newCallWatch()
		w.begin(context.Background(), 100)
		if err := w.end(); err != nil {
			t.Fatalf("end() = %v", err)
		}
		w.check(1000)
		if w.Err() != nil {
			t.Fatalf("a finished call was stopped: %v", w.Err())
		}
	})
	t.Run("caller canceled", func(t *testing.T) {
		w := newCallWatch()
		ctx, cancel := context.WithCancel(context.Background())
		w.begin(ctx, 100)
		w.check(1)
		if w.Err() != nil {
			t.Fatalf("stopped with a live context: %v", w.Err())
		}
		cancel()
		w.check(1)
		if err := w.end(); !errors.Is(err, context.Canceled) {
			t.Fatalf("end() = %v, want context.Canceled", err)
		}
	})
}
