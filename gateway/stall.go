package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
)

// stalls returns one error per stalled route, nil when none is.
func (g *Gateway) stalls() error {
	limit := g.metrics.stallTimeout
	var errs []error
	for _, c := range g.metrics.snapshot() {
		if stalled, d, n := c.progress.Stalled(limit); stalled {
			errs = append(errs, kafkasink.StallError(c.tenant, c.name, d, n, limit))
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
			stalled, d, n := c.progress.Stalled(limit)
			if c.stallReported.Swap(stalled) == stalled {
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
