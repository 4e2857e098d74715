package gateway

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
)

// flow is one MQTT session with its own routes, in-flight budget and ordered shards. The
// top-level routes form one flow and each tenant another, so one tenant's backlog, rate cap,
// slow Kafka topic or stuck plugin holds only its own messages: the broker keeps the rest of
// that tenant's messages, and every other tenant's session keeps flowing.
type flow struct {
	g      *Gateway
	tenant string // "" for the top-level routes
	log    *slog.Logger

	table  atomic.Pointer[routeTable]
	src    *mqttsource.Source
	shards []chan *message
	seed   maphash.Seed

	// tracker bounds the messages in flight by count and bytes: the MQTT callback takes a
	// slot, the last Done of a message's delivery acknowledges it and returns the slot.
	tracker       *delivery.Tracker[*message]
	inFlight      prometheus.Gauge
	inFlightBytes prometheus.Gauge
	intakeMu      sync.RWMutex
	stopping      atomic.Bool
	stopIntake    chan struct{}
	intakeCtx     context.Context // done when intake stops; ends a rate-limit wait
	endIntake     context.CancelFunc
	limiter       atomic.Pointer[rate.Limiter] // nil: no messages_per_second cap
	holding       atomic.Bool                  // onPublish waits for a slot or the rate cap
	shardsWG      sync.WaitGroup
	started       bool
}

// newFlow builds a flow over table for the tenant of spec; nothing runs until start.
func (g *Gateway) newFlow(spec *flowSpec, table *routeTable) *flow {
	f := &flow{
		g:             g,
		tenant:        spec.name,
		log:           g.log,
		seed:          maphash.MakeSeed(),
		inFlight:      g.metrics.inFlight.WithLabelValues(spec.name),
		inFlightBytes: g.metrics.inFlightBytes.WithLabelValues(spec.name),
		stopIntake:    make(chan struct{}),
	}
	f.tracker = delivery.NewTracker(g.cfg.Flow.MaxInFlight, int64(g.cfg.Flow.MaxInFlightBytes), f.ack)
	if spec.name != "" {
		f.log = g.log.With(slog.String("tenant", spec.name))
	}
	f.intakeCtx, f.endIntake = context.WithCancel(context.Background())
	f.table.Store(table)
	f.setLimits(spec.tenant)
	mc := g.cfg.MQTT
	if spec.name != "" {
		mc.ClientID = mc.ClientID + "." + spec.name
	}
	f.src = mqttsource.New(mqttsource.Config{
		MQTT: mc,
		Log:  f.log,
		Metrics: mqttsource.Metrics{
			Connected:   g.metrics.mqttConnected.WithLabelValues(spec.name),
			Connects:    g.metrics.mqttConnects,
			ConnErrors:  g.metrics.mqttConnErrors,
			CopyDropped: g.metrics.copiesDropped,
		},
		OnMessage:     f.onPublish,
		Holding:       f.holding.Load,
		Subscriptions: func() []mqttsource.Subscription { return f.table.Load().subscriptions() },
	})
	f.shards = make([]chan *message, g.cfg.Flow.Shards)
	for i := range f.shards {
		// A message holds a slot from intake to ack, so a shard never queues more than
		// MaxInFlight messages and the callback's send never blocks.
		f.shards[i] = make(chan *message, g.cfg.Flow.MaxInFlight)
	}
	return f
}

// setLimits applies a tenant's messages_per_second cap (nil or 0: none). Safe while running.
func (f *flow) setLimits(t *config.Tenant) {
	if t == nil || t.Limits.MessagesPerSecond <= 0 {
		f.limiter.Store(nil)
		return
	}
	r := t.Limits.MessagesPerSecond
	burst := int(math.Max(1, math.Min(r, float64(f.g.cfg.Flow.MaxBatch))))
	if l := f.limiter.Load(); l != nil {
		l.SetLimit(rate.Limit(r))
		l.SetBurst(burst)
		return
	}
	f.limiter.Store(rate.NewLimiter(rate.Limit(r), burst))
}

// start runs the shards and connects the flow's MQTT session.
func (f *flow) start(ctx context.Context) error {
	f.started = true
	for _, ch := range f.shards {
		f.shardsWG.Go(func() { f.runShard(ch) })
	}
	return f.src.Start(ctx)
}

// onPublish is paho's callback. It never blocks on Kafka: it waits for the tenant's rate cap,
// takes an in-flight slot (which only waits when max_in_flight messages, or
// max_in_flight_bytes of them, are unacknowledged: the backpressure) and hands the message to
// its shard. While it waits, paho reads no more
// of this session's messages and the broker holds them.
func (f *flow) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if f.stopping.Load() {
		return true, nil // not acknowledged: the broker redelivers it to the next session
	}
	if l := f.limiter.Load(); l != nil && !l.Allow() {
		f.holding.Store(true)
		err := l.Wait(f.intakeCtx)
		f.holding.Store(false)
		if err != nil {
			return true, nil
		}
	}
	size := messageSize(p)
	if !f.tracker.TryAcquire(size) {
		f.holding.Store(true)
		f.src.HoldReads() // or paho reads on into its queue
		err := f.tracker.Acquire(f.intakeCtx, size)
		f.src.ReleaseReads()
		f.holding.Store(false)
		if err != nil {
			return true, nil
		}
	}
	g := f.g
	f.inFlight.Inc()
	f.inFlightBytes.Add(float64(size))
	g.metrics.receivedByQoS[p.QoS%3].Inc()
	m := &message{
		Message: kafkasink.Message{
			MQTTTopic:  p.Topic,
			TopicBytes: []byte(p.Topic),
			Payload:    p.Payload,
			QoS:        p.QoS,
			Retain:     p.Retain,
			ArrivedAt:  g.now(),
		},
		ack: f.src.AckOf(pr),
	}
	m.Delivery = &m.delivery
	if p.Properties != nil {
		m.ContentType = p.Properties.ContentType
		m.UserProperties = userProperties(p.Properties.User)
	}
	f.tracker.Track(&m.delivery, m, size)
	// The read lock spans matching and handing over, so a reload's swap (write lock) sees every
	// message either entirely before it, on the old routes, or after it, on the new ones.
	f.intakeMu.RLock()
	if f.stopping.Load() {
		f.intakeMu.RUnlock()
		f.release(size)
		return true, nil
	}
	m.routes = f.table.Load().match(m.MQTTTopic, m.routeBuf[:0])
	if len(m.routes) == 0 {
		f.intakeMu.RUnlock()
		g.metrics.unroutedCount.Add(1)
		m.delivery.Add(1)
		m.delivery.Done() // acknowledges it
		return true, nil
	}
	m.delivery.Add(len(m.routes))
	for _, r := range m.routes {
		r.active.Add(1)
	}
	f.shards[maphash.String(f.seed, m.MQTTTopic)%uint64(len(f.shards))] <- m
	f.intakeMu.RUnlock()
	return true, nil
}

// userProperties copies MQTT v5 user properties into the sink's form; nil when there are none.
func userProperties(ps []paho.UserProperty) []kafkasink.Property {
	if len(ps) == 0 {
		return nil
	}
	out := make([]kafkasink.Property, len(ps))
	for i, p := range ps {
		out[i] = kafkasink.Property{Key: p.Key, Value: p.Value}
	}
	return out
}

// ack acknowledges m to the broker (paho sends PUBACKs in receive order). The tracker calls
// it on m's last Done and frees m's slot after it returns.
func (f *flow) ack(m *message) {
	if err := m.ack.Send(); err != nil {
		// The connection that delivered m is gone; the broker redelivers it.
		f.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", m.MQTTTopic), slog.String("error", err.Error()))
	}
	f.g.metrics.deliveryLatency.Observe(f.g.now().Sub(m.ArrivedAt).Seconds())
	f.inFlight.Dec()
	f.inFlightBytes.Sub(float64(m.delivery.Size()))
}

// release frees the slot of a message that will not be acknowledged.
func (f *flow) release(size int64) {
	f.tracker.Release(size)
	f.inFlight.Dec()
	f.inFlightBytes.Sub(float64(size))
}

// runShard processes one shard's messages in arrival order, in batches of what is ready.
func (f *flow) runShard(ch chan *message) {
	maxBatch := max(f.g.cfg.Flow.MaxBatch, 1)
	batch := make([]*message, 0, maxBatch)
	for m := range ch {
		batch = append(batch[:0], m)
	fill:
		for len(batch) < maxBatch {
			select {
			case m, ok := <-ch:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		f.g.process(batch)
		clear(batch)
	}
}

// closeShards ends intake for good and lets the shards finish their queues.
func (f *flow) closeShards() {
	if f.stopping.Swap(true) {
		return
	}
	close(f.stopIntake)
	f.endIntake()
	f.intakeMu.Lock() // waits for callbacks handing a message over
	for _, ch := range f.shards {
		close(ch)
	}
	f.intakeMu.Unlock()
}

// leaveShares unsubscribes the flow's filters when it is a member of a shared-subscription
// group: the broker keeps dealing new messages to a member's session even while it is away,
// so an instance that stops without unsubscribing would hold its share until it comes back.
// Messages already sent to it are still processed.
func (f *flow) leaveShares(ctx context.Context) {
	f.src.LeaveShares(ctx, f.table.Load().subscriptions())
}

// remove drains and stops a flow whose tenant a reload removed: it unsubscribes, finishes
// the messages it holds, waits for their acknowledgements and disconnects, within
// flow.drain_timeout. Messages still unacknowledged after that are redelivered by the broker.
func (f *flow) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), f.g.cfg.Flow.DrainTimeout)
	defer cancel()
	f.src.Resubscribe(ctx, f.table.Load().subscriptions(), nil)
	f.closeShards()
	err := f.waitIdle(ctx)
	if err == nil {
		err = f.src.AcksWritten(ctx)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = f.src.Disconnect(dctx)
	dcancel()
	for _, r := range f.table.Load().routes {
		f.g.retire(r)
	}
	f.g.metrics.mqttConnected.DeleteLabelValues(f.tenant)
	if err != nil {
		f.log.Warn("tenant removed before its drain finished; the broker keeps its unacknowledged messages",
			slog.Int("unacknowledged", f.unacked()), slog.String("error", err.Error()))
		return
	}
	f.log.Info("tenant removed")
}

// waitIdle waits for the shards to finish and every message to be acknowledged.
func (f *flow) waitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { f.shardsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.New("drain timeout: shards still busy")
	}
	if f.tracker.Wait(ctx) != nil {
		return errors.New("drain timeout")
	}
	return nil
}

// unacked returns the messages received and not yet acknowledged.
func (f *flow) unacked() int {
	n, _ := f.tracker.InFlight()
	return n
}
