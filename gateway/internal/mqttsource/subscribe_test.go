package mqttsource

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestSubscribeUntil: a failed SUBSCRIBE is tried again while the connection lasts (a SUBACK
// can wait unread behind a backlog the flow holds), and given up once the connection is gone
// or the source stops.
func TestSubscribeUntil(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tries := 0
	ok := subscribeUntil(func() bool { tries++; return tries == 3 }, func() bool { return true }, nil,
		time.Millisecond, 4*time.Millisecond, log)
	if !ok || tries != 3 {
		t.Errorf("subscribeUntil = %v after %d tries, want true after 3", ok, tries)
	}

	tries = 0
	alive := 2
	ok = subscribeUntil(func() bool { tries++; return false }, func() bool { alive--; return alive > 0 }, nil,
		time.Millisecond, time.Millisecond, log)
	if ok || tries != 1 {
		t.Errorf("connection gone: subscribeUntil = %v after %d tries, want false after 1", ok, tries)
	}

	done := make(chan struct{})
	close(done)
	start := time.Now()
	ok = subscribeUntil(func() bool { return false }, func() bool { return true }, done, time.Hour, time.Hour, log)
	if ok || time.Since(start) > 10*time.Second {
		t.Errorf("stopped: subscribeUntil = %v after %v, want false at once", ok, time.Since(start))
	}
}
