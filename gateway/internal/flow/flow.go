package flow

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
)

// Config is what a Flow is built from.
type Config struct {
	// Log receives the flow's events, with the tenant's name when it has one. Defaults to
	// slog.Default().
	Log *slog.Logger
	// Flow holds the shard count, batch size and in-flight bounds (the flow section).
	Flow config.Flow
	// Source configures the flow's MQTT session; New sets its OnMessage, Holding and
	// Subscriptions to the flow's own.
	Source mqttsource.Config
	// Sink takes each message's outputs and dead letters.
	Sink Sink
	// Metrics are the instruments the flow keeps current.
	Metrics Metrics
	// Now stamps each message's arrival. Defaults to time.Now.
	Now func() time.Time
	// Calls is what plugin calls run under: when it is done (a drain out of time), running
	// guests stop and their messages stay unacknowledged. Defaults to context.Background().
	Calls context.Context
}

// Metrics are the Prometheus handles a Flow updates; the registry holding them is the
// caller's. Every field must be set.
type Metrics struct {
	InFlight        prometheus.Gauge      // messages received and not yet acknowledged
	InFlightBytes   prometheus.Gauge      // what those count against max_in_flight_bytes
	ReceivedByQoS   [3]prometheus.Counter // messages received, by MQTT QoS
	Unrouted        *atomic.Uint64        // messages that matched no route
	DeliveryLatency prometheus.Observer   // seconds from arrival to acknowledgement
}

// Flow is one MQTT session with its own routes, in-flight budget and ordered shards. The
// top-level routes form one flow and each tenant another, so one tenant's backlog, rate cap,
// slow Kafka topic or stuck plugin holds only its own messages: the broker keeps the rest of
// that tenant's messages, and every other tenant's session keeps flowing.
//
// Its methods are safe for concurrent use, except Start, which is called once.
//
// # Lock
//
// intakeMu (RW): read by the MQTT callback while it matches a message and hands it to its
// shard; written, briefly, by Swap and CloseIntake. No other lock is taken while it is held.
type Flow struct {
	log     *slog.Logger
	now     func() time.Time
	metrics Metrics

	table  atomic.Pointer[Table]
	src    mqttsource.Source
	shards []*shard
	seed   maphash.Seed

	// tracker bounds the messages in flight by count and bytes: the MQTT callback takes a
	// slot, the last Done of a message's delivery acknowledges it and returns the slot.
	tracker   *delivery.Tracker[*message]
	intakeMu  sync.RWMutex
	stopping  atomic.Bool
	intakeCtx context.Context // done when intake stops; ends a rate-limit or slot wait
	endIntake context.CancelFunc
	limiter   atomic.Pointer[rate.Limiter] // nil: no messages_per_second cap
	maxBatch  int
	holding   atomic.Bool // onPublish waits for a slot or the rate cap
	shardsWG  sync.WaitGroup
	started   atomic.Bool
}

// New builds a flow over table; nothing runs until Start.
func New(c Config, table *Table) *Flow {
	f := &Flow{
		log:      c.Log,
		now:      c.Now,
		metrics:  c.Metrics,
		seed:     maphash.MakeSeed(),
		maxBatch: max(c.Flow.MaxBatch, 1),
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.now == nil {
		f.now = time.Now
	}
	calls := c.Calls
	if calls == nil {
		calls = context.Background()
	}
	f.tracker = delivery.NewTracker(c.Flow.MaxInFlight, int64(c.Flow.MaxInFlightBytes), f.ack)
	f.intakeCtx, f.endIntake = context.WithCancel(context.Background())
	f.table.Store(table)
	sc := c.Source
	sc.OnMessage = f.onPublish
	sc.Holding = f.holding.Load
	sc.Subscriptions = func() []mqttsource.Subscription { return f.table.Load().Subscriptions() }
	f.src = mqttsource.New(sc)
	f.shards = make([]*shard, c.Flow.Shards)
	for i := range f.shards {
		// A message holds a slot from intake to ack, so a shard never queues more than
		// MaxInFlight messages and the callback's send never blocks.
		f.shards[i] = &shard{in: make(chan *message, c.Flow.MaxInFlight), maxBatch: f.maxBatch,
			sink: c.Sink, calls: calls}
	}
	return f
}

// SetRateLimit caps intake at perSecond messages a second (0 or less: no cap), with a burst of
// up to flow.max_batch. Safe while running.
func (f *Flow) SetRateLimit(perSecond float64) {
	if perSecond <= 0 {
		f.limiter.Store(nil)
		return
	}
	burst := int(math.Max(1, math.Min(perSecond, float64(f.maxBatch))))
	if l := f.limiter.Load(); l != nil {
		l.SetLimit(rate.Limit(perSecond))
		l.SetBurst(burst)
		return
	}
	f.limiter.Store(rate.NewLimiter(rate.Limit(perSecond), burst))
}

// Start runs the shards and connects the flow's MQTT session. Call it once.
func (f *Flow) Start(ctx context.Context) error {
	f.started.Store(true)
	for _, s := range f.shards {
		f.shardsWG.Go(s.run)
	}
	return f.src.Start(ctx)
}

// Started reports whether Start was called.
func (f *Flow) Started() bool { return f.started.Load() }

// Source returns the flow's MQTT session.
func (f *Flow) Source() mqttsource.Source { return f.src }

// Table returns the route table in force.
func (f *Flow) Table() *Table { return f.table.Load() }

// Swap puts next in force and returns the table it replaced. It takes the write side of the
// intake lock, so it waits for callbacks between matching and handing over: every message is
// matched entirely before the swap, on the old routes, or after it, on the new ones. It does
// not change subscriptions (see mqttsource.Source.Resubscribe) nor retire the old routes.
func (f *Flow) Swap(next *Table) *Table {
	f.intakeMu.Lock()
	old := f.table.Swap(next)
	f.intakeMu.Unlock()
	return old
}

// onPublish is the source's callback (mqttsource.Config.OnMessage). It never blocks on Kafka:
// it waits for the tenant's rate cap, takes an in-flight slot (which only waits when
// max_in_flight messages, or max_in_flight_bytes of them, are unacknowledged: the
// backpressure) and hands the message to its shard. While it waits, the source reads no more
// of this session's messages and the broker holds them.
func (f *Flow) onPublish(p mqttsource.Message) {
	if f.stopping.Load() {
		return // not acknowledged: the broker redelivers it to the next session
	}
	if l := f.limiter.Load(); l != nil && !l.Allow() {
		f.holding.Store(true)
		err := l.Wait(f.intakeCtx)
		f.holding.Store(false)
		if err != nil {
			return
		}
	}
	size := messageSize(&p)
	if !f.tracker.TryAcquire(size) {
		f.holding.Store(true)
		f.src.HoldReads() // or the client reads on into its queue
		err := f.tracker.Acquire(f.intakeCtx, size)
		f.src.ReleaseReads()
		f.holding.Store(false)
		if err != nil {
			return
		}
	}
	f.metrics.InFlight.Inc()
	f.metrics.InFlightBytes.Add(float64(size))
	f.metrics.ReceivedByQoS[p.QoS%3].Inc()
	m := &message{
		Message: kafkasink.Message{
			MQTTTopic:  p.Topic,
			TopicBytes: []byte(p.Topic),
			Payload:    p.Payload,
			QoS:        p.QoS,
			Retain:     p.Retain,
			ArrivedAt:  f.now(),

			ContentType:    p.ContentType,
			UserProperties: userProperties(p.UserProperties),
		},
		ack: p.Ack,
	}
	m.Delivery = &m.delivery
	f.tracker.Track(&m.delivery, m, size)
	// The read lock spans matching and handing over, so a reload's swap (write lock) sees every
	// message either entirely before it, on the old routes, or after it, on the new ones.
	f.intakeMu.RLock()
	if f.stopping.Load() {
		f.intakeMu.RUnlock()
		f.release(size)
		return
	}
	m.routes = f.table.Load().match(m.MQTTTopic, m.routeBuf[:0])
	if len(m.routes) == 0 {
		f.intakeMu.RUnlock()
		f.metrics.Unrouted.Add(1)
		m.delivery.Add(1)
		m.delivery.Done() // acknowledges it
		return
	}
	m.delivery.Add(len(m.routes))
	for _, r := range m.routes {
		r.active.Add(1)
	}
	f.shards[maphash.String(f.seed, m.MQTTTopic)%uint64(len(f.shards))].in <- m
	f.intakeMu.RUnlock()
}

// ack acknowledges m to the broker (the source sends PUBACKs in receive order). The tracker calls
// it on m's last Done and frees m's slot after it returns.
func (f *Flow) ack(m *message) {
	if err := m.ack.Send(); err != nil {
		// The connection that delivered m is gone; the broker redelivers it.
		f.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", m.MQTTTopic), slog.String("error", err.Error()))
	}
	f.metrics.DeliveryLatency.Observe(f.now().Sub(m.ArrivedAt).Seconds())
	f.metrics.InFlight.Dec()
	f.metrics.InFlightBytes.Sub(float64(m.delivery.Size()))
}

// release frees the slot of a message that will not be acknowledged.
func (f *Flow) release(size int64) {
	f.tracker.Release(size)
	f.metrics.InFlight.Dec()
	f.metrics.InFlightBytes.Sub(float64(size))
}

// CloseIntake ends intake for good and lets the shards finish their queues: later messages
// are left unacknowledged (the broker redelivers them to the next session), and a callback
// waiting for the rate cap or a slot gives up. It takes the write side of the intake lock,
// waiting for callbacks handing a message over. Later calls do nothing.
func (f *Flow) CloseIntake() {
	if f.stopping.Swap(true) {
		return
	}
	f.endIntake()
	f.intakeMu.Lock() // waits for callbacks handing a message over
	for _, s := range f.shards {
		close(s.in)
	}
	f.intakeMu.Unlock()
}

// WaitShards blocks until every shard has finished its queue after CloseIntake (at once when
// the flow was never started).
func (f *Flow) WaitShards() { f.shardsWG.Wait() }

// WaitAcked returns nil when no message is in flight, or ctx's error first.
func (f *Flow) WaitAcked(ctx context.Context) error { return f.tracker.Wait(ctx) }

// LeaveShares unsubscribes the flow's filters when it is a member of a shared-subscription
// group: the broker keeps dealing new messages to a member's session even while it is away,
// so an instance that stops without unsubscribing would hold its share until it comes back.
// Messages already sent to it are still processed.
func (f *Flow) LeaveShares(ctx context.Context) {
	f.src.LeaveShares(ctx, f.table.Load().Subscriptions())
}

// WaitIdle waits, after CloseIntake, for the shards to finish and every message to be
// acknowledged; it returns an error naming what was still busy when ctx is done.
func (f *Flow) WaitIdle(ctx context.Context) error {
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

// InFlight returns the messages received and not yet acknowledged, and their bytes.
func (f *Flow) InFlight() (int, int64) { return f.tracker.InFlight() }

// Unacked returns the messages received and not yet acknowledged.
func (f *Flow) Unacked() int {
	n, _ := f.tracker.InFlight()
	return n
}
