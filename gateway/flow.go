package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/flow"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
)

// tenantFlow is one running flow (gateway/internal/flow) as the gateway holds it: the
// flow.Flow on the message path, and the routes it runs with what the gateway built them
// from. The top-level routes are one flow (tenant "") and each tenant another.
type tenantFlow struct {
	*flow.Flow
	tenant string // "" for the top-level routes
	log    *slog.Logger
	// table is the gateway's view of the flow's routes; it changes with the flow's own table,
	// under the tenant's slot lock (see applyFlow).
	table atomic.Pointer[routeTable]
}

// newFlow builds a flow over table for the tenant of spec; nothing runs until Start.
func (g *Gateway) newFlow(spec *flowSpec, table *routeTable) *tenantFlow {
	tf := &tenantFlow{tenant: spec.name, log: g.log}
	if spec.name != "" {
		tf.log = g.log.With(slog.String("tenant", spec.name))
	}
	tf.table.Store(table)
	mc := g.cfg.MQTT
	if spec.name != "" {
		mc.ClientID = mc.ClientID + "." + spec.name
	}
	tf.Flow = flow.New(flow.Config{
		Log:  tf.log,
		Flow: g.cfg.Flow,
		Source: mqttsource.Config{
			MQTT: mc,
			Log:  tf.log,
			Metrics: mqttsource.Metrics{
				Connected:   g.metrics.mqttConnected.WithLabelValues(spec.name),
				Connects:    g.metrics.mqttConnects,
				ConnErrors:  g.metrics.mqttConnErrors,
				CopyDropped: g.metrics.copiesDropped,
			},
		},
		Sink: g.sink,
		Metrics: flow.Metrics{
			InFlight:        g.metrics.inFlight.WithLabelValues(spec.name),
			InFlightBytes:   g.metrics.inFlightBytes.WithLabelValues(spec.name),
			ReceivedByQoS:   g.metrics.receivedByQoS,
			Unrouted:        &g.metrics.unroutedCount,
			DeliveryLatency: g.metrics.deliveryLatency,
		},
		Now:   g.now,
		Calls: g.abortCtx,
	}, table.flow)
	tf.Flow.SetRateLimit(rateLimit(spec.tenant))
	return tf
}

// rateLimit is a tenant's limits.messages_per_second; 0 (no cap) for the top-level routes.
func rateLimit(t *config.Tenant) float64 {
	if t == nil {
		return 0
	}
	return t.Limits.MessagesPerSecond
}

// swap puts next in force: the gateway's view, then the flow's table under the write side of
// its intake lock. The caller holds the tenant's slot lock.
func (tf *tenantFlow) swap(next *routeTable) {
	tf.table.Store(next)
	tf.Flow.Swap(next.flow)
}

// removeFlow drains and stops a flow whose tenant a reload removed: it unsubscribes, finishes
// the messages it holds, waits for their acknowledgements and disconnects, within
// flow.drain_timeout. Messages still unacknowledged after that are redelivered by the broker.
func (g *Gateway) removeFlow(tf *tenantFlow) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Flow.DrainTimeout)
	defer cancel()
	src := tf.Source()
	src.Resubscribe(ctx, tf.table.Load().flow.Subscriptions(), nil)
	tf.CloseIntake()
	err := tf.WaitIdle(ctx)
	if err == nil {
		err = src.AcksWritten(ctx)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = src.Disconnect(dctx)
	dcancel()
	for _, r := range tf.table.Load().routes {
		g.retire(r)
	}
	g.metrics.mqttConnected.DeleteLabelValues(tf.tenant)
	if err != nil {
		tf.log.Warn("tenant removed before its drain finished; the broker keeps its unacknowledged messages",
			slog.Int("unacknowledged", tf.Unacked()), slog.String("error", err.Error()))
		return
	}
	tf.log.Info("tenant removed")
}
