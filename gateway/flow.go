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

	// slots bounds the messages in flight: the MQTT callback takes a slot, the ack returns it.
	slots      chan struct{}
	inFlight   prometheus.Gauge
	intakeMu   sync.RWMutex
	stopping   atomic.Bool
	stopIntake chan struct{}
	intakeCtx  context.Context // done when intake stops; ends a rate-limit wait
	endIntake  context.CancelFunc
	limiter    atomic.Pointer[rate.Limiter] // nil: no messages_per_second cap
	holding    atomic.Bool                  // onPublish waits for a slot or the rate cap
	ackFunc    func(*message)
	shardsWG   sync.WaitGroup
	started    bool
}

// newFlow builds a flow over table for the tenant of spec; nothing runs until start.
func (g *Gateway) newFlow(spec *flowSpec, table *routeTable) *flow {
	f := &flow{
		g:          g,
		tenant:     spec.name,
		log:        g.log,
		seed:       maphash.MakeSeed(),
		slots:      make(chan struct{}, g.cfg.Flow.MaxInFlight),
		inFlight:   g.metrics.inFlight.WithLabelValues(spec.name),
		stopIntake: make(chan struct{}),
	}
	if spec.name != "" {
		f.log = g.log.With(slog.String("tenant", spec.name))
	}
	f.intakeCtx, f.endIntake = context.WithCancel(context.Background())
	f.ackFunc = f.ack
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
// takes an in-flight slot (which only waits when max_in_flight messages are unacknowledged,
// the backpressure) and hands the message to its shard. While it waits, paho reads no more
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
	select {
	case f.slots <- struct{}{}:
	default:
		f.holding.Store(true)
		select {
		case f.slots <- struct{}{}:
			f.holding.Store(false)
		case <-f.stopIntake:
			f.holding.Store(false)
			return true, nil
		}
	}
	g := f.g
	f.inFlight.Inc()
	g.metrics.receivedByQoS[p.QoS%3].Inc()
	m := &message{
		topic:      p.Topic,
		topicBytes: []byte(p.Topic),
		payload:    p.Payload,
		qos:        p.QoS,
		retain:     p.Retain,
		arrivedAt:  g.now(),
		client:     pr.Client,
		packet:     p,
	}
	if p.Properties != nil {
		m.contentType = p.Properties.ContentType
		m.userProperties = p.Properties.User
	}
	m.delivery.msg = m
	m.delivery.ack = f.ackFunc
	// The read lock spans matching and handing over, so a reload's swap (write lock) sees every
	// message either entirely before it, on the old routes, or after it, on the new ones.
	f.intakeMu.RLock()
	if f.stopping.Load() {
		f.intakeMu.RUnlock()
		f.release()
		return true, nil
	}
	m.routes = f.table.Load().match(m.topic, m.routeBuf[:0])
	if len(m.routes) == 0 {
		f.intakeMu.RUnlock()
		g.metrics.unroutedCount.Add(1)
		f.ack(m)
		return true, nil
	}
	m.delivery.add(len(m.routes))
	for _, r := range m.routes {
		r.active.Add(1)
	}
	f.shards[maphash.String(f.seed, m.topic)%uint64(len(f.shards))] <- m
	f.intakeMu.RUnlock()
	return true, nil
}

// ack acknowledges m to the broker (paho sends PUBACKs in receive order) and frees its slot.
func (f *flow) ack(m *message) {
	if m.qos > 0 && m.client != nil {
		if err := m.client.Ack(m.packet); err != nil {
			// The connection that delivered m is gone; the broker redelivers it.
			f.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", m.topic), slog.String("error", err.Error()))
		}
	}
	f.g.metrics.deliveryLatency.Observe(f.g.now().Sub(m.arrivedAt).Seconds())
	f.release()
}

func (f *flow) release() {
	<-f.slots
	f.inFlight.Dec()
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
	f.g.sleepForAcks()
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = f.src.Disconnect(dctx)
	dcancel()
	for _, r := range f.table.Load().routes {
		f.g.retire(r)
	}
	f.g.metrics.mqttConnected.DeleteLabelValues(f.tenant)
	if err != nil {
		f.log.Warn("tenant removed before its drain finished; the broker keeps its unacknowledged messages",
			slog.Int("unacknowledged", len(f.slots)), slog.String("error", err.Error()))
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
	for len(f.slots) > 0 {
		select {
		case <-ctx.Done():
			return errors.New("drain timeout")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
