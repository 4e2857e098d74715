package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestWaitFor_ReturnsOnceTrue(t *testing.T) {
	calls := 0
	WaitFor(t, 10*time.Second, func() error {
		calls++
		if calls < 5 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if calls != 5 {
		t.Fatalf("f called %d times, want 5 (WaitFor must stop at the first nil)", calls)
	}
}

func TestPoll(t *testing.T) {
	stop := errors.New("gone for good")
	tests := []struct {
		name    string
		f       func(calls int) error
		timeout time.Duration
		want    error
		maxCall int
	}{
		{"times out with last error", func(n int) error { return fmt.Errorf("try %d", n) }, 20 * time.Millisecond, nil, 0},
		{"permanent error ends early", func(int) error { return &permanentError{stop} }, time.Minute, stop, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			calls := 0
			err := poll(ctx, func() error { calls++; return tc.f(calls) })
			if err == nil {
				t.Fatal("poll returned nil for a condition that never holds")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && err.Error() != fmt.Sprintf("try %d", calls) {
				t.Fatalf("err = %v, want the last error (try %d)", err, calls)
			}
			if tc.maxCall > 0 && calls > tc.maxCall {
				t.Fatalf("f called %d times, want at most %d", calls, tc.maxCall)
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("FreePort() = %d, cannot listen on it: %v", port, err)
	}
	ln.Close()
}
