package kafkasink

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Progress tracks whether a route's records reach Kafka. The gateway keeps one per route
// name for as long as it runs, so a route replaced by a reload keeps the records its
// predecessor left outstanding.
//
// A record is outstanding from the moment the route hands it to the sink (or its dead letter
// instead) until Kafka acknowledges it; a record the sink retries stays outstanding while it
// waits for its retry. The route is stalled while it has records outstanding and none has been
// acknowledged for longer than kafka.stall_timeout (counted from when records became
// outstanding, so that a route that was idle is not stalled by its first record).
//
// The zero value is ready to use. Safe for concurrent use: produce paths and promises call it
// on their own goroutines.
type Progress struct {
	outstanding atomic.Int64
	// since is when a record was last acknowledged or, if later, when records became
	// outstanding after none were, in nanoseconds of monoClock.
	since atomic.Int64
}

// monoStart anchors monoClock: readings are monotonic, immune to wall-clock steps.
var monoStart = time.Now()

// monoClock returns the monotonic time since the process started, in nanoseconds.
func monoClock() int64 { return int64(time.Since(monoStart)) }

// started counts one record of the route handed to the sink.
func (p *Progress) started() {
	if p.outstanding.Add(1) == 1 {
		p.since.Store(monoClock())
	}
}

// acked counts one record of the route acknowledged by Kafka.
func (p *Progress) acked() {
	p.since.Store(monoClock())
	p.outstanding.Add(-1)
}

// stalledFor returns how long the route has gone without an acknowledgement while it had
// records outstanding, and how many are outstanding; 0 and 0 when none are.
func (p *Progress) stalledFor() (time.Duration, int64) {
	n := p.outstanding.Load()
	if n <= 0 {
		return 0, 0
	}
	return time.Duration(monoClock() - p.since.Load()), n
}

// Stalled reports whether the route has had records outstanding for longer than limit
// without any acknowledgement, with how long and how many.
func (p *Progress) Stalled(limit time.Duration) (bool, time.Duration, int64) {
	d, n := p.stalledFor()
	return n > 0 && d > limit, d, n
}

// StallError describes a stalled route of tenant ("" for a top-level route) for /readyz: n
// records outstanding, none acknowledged for d, against kafka.stall_timeout limit.
func StallError(tenant, route string, d time.Duration, n int64, limit time.Duration) error {
	where := "route " + route
	if tenant != "" {
		where = "tenant " + tenant + ", route " + route
	}
	return fmt.Errorf("kafka (%s): stalled: %d records outstanding, none acknowledged for %s (kafka.stall_timeout %s)",
		where, n, d.Round(time.Second), limit)
}
