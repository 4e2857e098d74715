package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// Polling backoff for WaitFor and the internal waits: start short so fast
// conditions return quickly, cap so slow ones do not spin.
const (
	pollMin = time.Millisecond
	pollMax = 50 * time.Millisecond
)

// WaitFor calls f until it returns nil, backing off from 1ms to 50ms between
// calls. If f has not returned nil within timeout, WaitFor fails the test with
// f's last error. It never sleeps a fixed time: it returns as soon as f
// succeeds.
//
// f runs on the calling goroutine, so it may call t.Fatal itself. WaitFor must
// be called from the test goroutine, like t.Fatal.
func WaitFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := poll(ctx, f); err != nil {
		t.Fatalf("condition not met within %v: %v", timeout, err)
	}
}

// permanentError stops a poll early: the condition can no longer become true.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// poll calls f until it returns nil or ctx is done; then it returns f's last
// error. An error wrapped in *permanentError ends the poll at once.
func poll(ctx context.Context, f func() error) error {
	backoff := pollMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		err := f()
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		timer.Reset(backoff)
		select {
		case <-ctx.Done():
			return err
		case <-timer.C:
		}
		backoff = min(2*backoff, pollMax)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0, notes the port and closes the listener. Another process
// may take the port before the caller binds it; helpers that start servers
// retry on a bind failure for that reason.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen on 127.0.0.1:0: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitPort waits until addr accepts a TCP connection, or until ctx is done or
// exited is closed (the server process died).
func waitPort(ctx context.Context, addr string, exited <-chan struct{}) error {
	return poll(ctx, func() error {
		select {
		case <-exited:
			return &permanentError{fmt.Errorf("process exited before %s accepted connections", addr)}
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}
