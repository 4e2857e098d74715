package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// progress tracks whether a route's records reach Kafka. It lives in the route's
// routeCounters, so a route replaced by a reload keeps the records its predecessor left
// outstanding.
//
// A record is outstanding from the moment the route hands it to the sink (or its dead letter
// instead) until Kafka acknowledges it; a record the sink retries stays outstanding while it
// waits for its retry. The route is stalled while it has records outstanding and none has been
// acknowledged for longer than kafka.stall_timeout (counted from when records became
// outstanding, so that a route that was idle is not stalled by its first record).
//
// Safe for concurrent use: produce paths and promises call it on their own goroutines.
type progress struct {
	outstanding atomic.Int64
	// since is when a record was last acknowledged or, if later, when records became
	// outstanding after none were, in nanoseconds of monoClock.
	since atomic.Int64
	// reported is the stalled state last logged by watchStalls.
	reported atomic.Bool
}

// monoStart anchors monoClock: readings are monotonic, immune to wall-clock steps.
var monoStart = time.Now()

// monoClock returns the monotonic time since the process started, in nanoseconds.
func monoClock() int64 { return int64(time.Since(monoStart)) }

// started counts one record of the route handed to the sink.
func (p *progress) started() {
	if p.outstanding.Add(1) == 1 {
		p.since.Store(monoClock())
	}
}

// acked counts one record of the route acknowledged by Kafka.
func (p *progress) acked() {
	p.since.Store(monoClock())
	p.outstanding.Add(-1)
}

// stalledFor returns how long the route has gone without an acknowledgement while it had
// records outstanding, and how many are outstanding; 0 and 0 when none are.
func (p *progress) stalledFor() (time.Duration, int64) {
	n := p.outstanding.Load()
	if n <= 0 {
		return 0, 0
	}
	return time.Duration(monoClock() - p.since.Load()), n
}

// stalled reports whether the route has had records outstanding for longer than limit
// without any acknowledgement, with how long and how many.
func (p *progress) stalled(limit time.Duration) (bool, time.Duration, int64) {
	d, n := p.stalledFor()
	return n > 0 && d > limit, d, n
}

// stallError describes a stalled route for /readyz.
func stallError(c *routeCounters, d time.Duration, n int64, limit time.Duration) error {
	where := "route " + c.name
	if c.tenant != "" {
		where = "tenant " + c.tenant + ", route " + c.name
	}
	return fmt.Errorf("kafka (%s): stalled: %d records outstanding, none acknowledged for %s (kafka.stall_timeout %s)",
		where, n, d.Round(time.Second), limit)
}

// stalls returns one error per stalled route, nil when none is.
func (g *Gateway) stalls() error {
	limit := g.metrics.stallTimeout
	var errs []error
	for _, c := range g.metrics.snapshot() {
		if stalled, d, n := c.progress.stalled(limit); stalled {
			errs = append(errs, stallError(c, d, n, limit))
		}
	}
	return errors.Join(errs...)
}

// stallTimeout returns cfg's kafka.stall_timeout, or its default when unset (an embedder's
// configuration not built on config.Default).
func stallTimeout(cfg *config.Config) time.Duration {
	if cfg.Kafka.StallTimeout > 0 {
		return cfg.Kafka.StallTimeout
	}
	return config.Default().Kafka.StallTimeout
}

// stallCheckEvery is how often watchStalls looks for routes that stalled or recovered.
const stallCheckEvery = time.Second

// watchStalls logs each route that becomes stalled (a warning) and each that recovers, until
// ctx is done. Readiness, Stats and the metric evaluate the state themselves when asked.
func (g *Gateway) watchStalls(ctx context.Context) {
	t := time.NewTicker(stallCheckEvery)
	defer t.Stop()
	limit := g.metrics.stallTimeout
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range g.metrics.snapshot() {
			stalled, d, n := c.progress.stalled(limit)
			if c.progress.reported.Swap(stalled) == stalled {
				continue
			}
			if stalled {
				g.log.LogAttrs(ctx, slog.LevelWarn, "route stalled: Kafka acknowledges none of its records; not ready until it does (the messages stay unacknowledged)",
					slog.String("tenant", c.tenant), slog.String("route", c.name), slog.Int64("outstanding", n),
					slog.Duration("since_last_ack", d.Round(time.Millisecond)), slog.Duration("stall_timeout", limit))
			} else {
				g.log.LogAttrs(ctx, slog.LevelInfo, "route producing again",
					slog.String("tenant", c.tenant), slog.String("route", c.name))
			}
		}
	}
}
