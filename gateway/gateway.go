package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/admin"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Gateway moves messages from MQTT to Kafka. Build one with New and start it with Run.
// A Gateway runs once: after Run returns, build a new one.
type Gateway struct {
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	now      func() time.Time

	table  atomic.Pointer[routeTable]
	src    *source
	sink   *sink
	retry  *deadLetterRetrier
	shards []chan *message
	seed   maphash.Seed

	// slots bounds the messages in flight: the MQTT callback takes a slot, the ack returns it.
	slots      chan struct{}
	intakeMu   sync.RWMutex
	stopping   atomic.Bool
	stopIntake chan struct{}
	kafkaUp    atomic.Bool
	adminAddr  atomic.Pointer[string]
	ackFunc    func(*message)
	host       *wasmhost.Host // nil until a route has plugins

	pluginMetrics *pluginMetrics
	reload        reloadState
	reloadPath    string   // see WithReloadFrom
	reloadEnv     []string // see WithReloadFrom
}

// Option changes how a Gateway is built. Options exist for tests and embedding, not for
// settings users put in YAML.
type Option interface{ apply(*Gateway) }

type optionFunc func(*Gateway)

func (f optionFunc) apply(g *Gateway) { f(g) }

// WithLogger sets the logger. Defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return optionFunc(func(g *Gateway) { g.log = l }) }

// WithRegistry registers the gateway's metrics in r and serves r on /metrics. Defaults to a
// fresh registry holding the gateway's metrics plus the Go and process collectors.
func WithRegistry(r *prometheus.Registry) Option {
	return optionFunc(func(g *Gateway) { g.registry = r })
}

// WithClock replaces time.Now for arrival stamps. Defaults to time.Now.
func WithClock(now func() time.Time) Option { return optionFunc(func(g *Gateway) { g.now = now }) }

// New builds a gateway from a validated configuration. It compiles the routes and creates the
// clients but connects nothing; Run does.
func New(cfg *config.Config, opts ...Option) (*Gateway, error) {
	g := &Gateway{
		cfg:        cfg,
		log:        slog.Default(),
		now:        time.Now,
		seed:       maphash.MakeSeed(),
		stopIntake: make(chan struct{}),
		retry:      newDeadLetterRetrier(),
	}
	for _, o := range opts {
		o.apply(g)
	}
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
		g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	g.metrics = newMetrics(g.registry)
	g.ackFunc = g.ack

	g.pluginMetrics = newPluginMetrics(g.registry)
	newReloadMetrics(g.registry, &g.reload)
	g.reload.trigger = make(chan struct{}, 1)
	table, _, err := g.buildTable(context.Background(), cfg, &routeTable{})
	if err != nil {
		if g.host != nil {
			_ = g.host.Close(context.Background())
		}
		return nil, err
	}
	g.table.Store(table)

	var kopts []kgo.Opt
	kopts, err = kafkaOptions(cfg.Kafka)
	if err != nil {
		g.closeRoutes(table)
		return nil, err
	}
	kopts = append(kopts, kgo.WithLogger(kgoLogger{g.log}))
	client, err := kgo.NewClient(kopts...)
	if err != nil {
		g.closeRoutes(table)
		return nil, fmt.Errorf("kafka: %w", err)
	}
	g.sink = &sink{client: client, maxBytes: cfg.Kafka.MaxRecordBytes, log: g.log, metrics: g.metrics, retry: g.retry}

	g.src = &source{
		cfg:     cfg.MQTT,
		log:     g.log,
		metrics: g.metrics,
		onMsg:   g.onPublish,
		subs:    func() []subscription { return g.table.Load().subscriptions() },
	}

	g.slots = make(chan struct{}, cfg.Flow.MaxInFlight)
	g.shards = make([]chan *message, cfg.Flow.Shards)
	for i := range g.shards {
		// A message holds a slot from intake to ack, so a shard never queues more than
		// MaxInFlight messages and the callback's send never blocks.
		g.shards[i] = make(chan *message, cfg.Flow.MaxInFlight)
	}
	return g, nil
}

// Run connects to MQTT and Kafka and moves messages until ctx is done, then drains: it stops
// taking messages, finishes those in flight, flushes Kafka, sends the last acknowledgements and
// disconnects, all within flow.drain_timeout. Messages still unacknowledged after that are
// redelivered by the broker to the next session. Run returns nil after a clean drain.
func (g *Gateway) Run(ctx context.Context) error {
	var shardsWG sync.WaitGroup
	for _, ch := range g.shards {
		shardsWG.Go(func() { g.runShard(ch) })
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	var bgWG sync.WaitGroup
	retryStop := make(chan struct{})
	bgWG.Go(func() { g.retry.run(bg, g.sink, retryStop) })
	bgWG.Go(func() { g.pingKafka(bg) })

	var adminSrv *http.Server
	if g.cfg.Admin.Listen != "" {
		ln, err := net.Listen("tcp", g.cfg.Admin.Listen)
		if err != nil {
			g.abort(&shardsWG, stopBG, &bgWG, retryStop)
			return fmt.Errorf("admin.listen: %w", err)
		}
		addr := ln.Addr().String()
		g.adminAddr.Store(&addr)
		adminSrv = &http.Server{Handler: admin.Handler(admin.Options{
			Gatherer: g.registry,
			Ready:    g.readiness,
			Status:   func() any { return g.Stats() },
		}), ReadHeaderTimeout: 10 * time.Second}
		bgWG.Go(func() {
			if err := adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("admin server stopped", slog.String("error", err.Error()))
			}
		})
		g.log.Info("admin listening", slog.String("addr", addr))
	}

	if g.reloadPath != "" {
		bgWG.Go(func() { g.watch(bg) })
	}
	if err := g.src.start(bg); err != nil {
		g.abort(&shardsWG, stopBG, &bgWG, retryStop)
		return err
	}
	g.log.Info("gateway running", slog.Int("routes", len(g.table.Load().routes)),
		slog.String("mqtt", g.cfg.MQTT.URL), slog.Any("kafka", g.cfg.Kafka.Brokers))

	<-ctx.Done()
	err := g.drain(&shardsWG)
	if adminSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = adminSrv.Shutdown(sctx)
		cancel()
	}
	close(retryStop)
	stopBG()
	bgWG.Wait()
	return err
}

// abort undoes a partial start.
func (g *Gateway) abort(shards *sync.WaitGroup, stopBG context.CancelFunc, bg *sync.WaitGroup, retryStop chan struct{}) {
	g.closeShards()
	shards.Wait()
	close(retryStop)
	stopBG()
	bg.Wait()
	g.sink.client.Close()
	g.closeRoutes(g.table.Load())
}

// closeRoutes closes the routes' chains, waits for routes retired by reloads and, last,
// closes the plugin host.
func (g *Gateway) closeRoutes(t *routeTable) {
	ctx := context.Background()
	for _, r := range t.routes {
		if r.chain != nil {
			_ = r.chain.Close(ctx)
		}
	}
	g.reload.retiring.Wait()
	if g.host != nil {
		_ = g.host.Close(ctx)
	}
}

// AdminAddr returns the address the admin server listens on, or "" before Run starts it.
func (g *Gateway) AdminAddr() string {
	if p := g.adminAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// onPublish is paho's callback. It never blocks on Kafka: it takes an in-flight slot (which
// only waits when max_in_flight messages are unacknowledged, the backpressure) and hands the
// message to its shard.
func (g *Gateway) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if g.stopping.Load() {
		return true, nil // not acknowledged: the broker redelivers it to the next session
	}
	select {
	case g.slots <- struct{}{}:
	case <-g.stopIntake:
		return true, nil
	}
	g.metrics.inFlight.Inc()
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
	m.delivery.ack = g.ackFunc
	// The read lock spans matching and handing over, so a reload's swap (write lock) sees every
	// message either entirely before it, on the old routes, or after it, on the new ones.
	g.intakeMu.RLock()
	if g.stopping.Load() {
		g.intakeMu.RUnlock()
		g.release()
		return true, nil
	}
	m.routes = g.table.Load().match(m.topic, m.routeBuf[:0])
	if len(m.routes) == 0 {
		g.intakeMu.RUnlock()
		g.metrics.unroutedCount.Add(1)
		g.ack(m)
		return true, nil
	}
	m.delivery.add(len(m.routes))
	for _, r := range m.routes {
		r.active.Add(1)
	}
	g.shards[maphash.String(g.seed, m.topic)%uint64(len(g.shards))] <- m
	g.intakeMu.RUnlock()
	return true, nil
}

// ack acknowledges m to the broker (paho sends PUBACKs in receive order) and frees its slot.
func (g *Gateway) ack(m *message) {
	if m.qos > 0 && m.client != nil {
		if err := m.client.Ack(m.packet); err != nil {
			// The connection that delivered m is gone; the broker redelivers it.
			g.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", m.topic), slog.String("error", err.Error()))
		}
	}
	g.metrics.deliveryLatency.Observe(g.now().Sub(m.arrivedAt).Seconds())
	g.release()
}

func (g *Gateway) release() {
	<-g.slots
	g.metrics.inFlight.Dec()
}

// runShard processes one shard's messages in arrival order, in batches of what is ready.
func (g *Gateway) runShard(ch chan *message) {
	maxBatch := max(g.cfg.Flow.MaxBatch, 1)
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
		g.process(batch)
		clear(batch)
	}
}

// chainBatch gathers one route's messages of a shard batch for one call of its chain.
type chainBatch struct {
	r    *route
	msgs []*message
}

// process sends a batch of one shard's messages through their routes. Routes without plugins
// produce at once; each route with a chain gets the batch's messages in one Process call.
// Either way one topic's messages keep their order on every route.
func (g *Gateway) process(batch []*message) {
	ctx := context.Background()
	var chained []chainBatch
	for _, m := range batch {
		for _, r := range m.routes {
			r.counters.in.Add(1)
			if r.chain == nil {
				g.emit(ctx, r, m, &output{payload: m.payload})
				m.delivery.done() // the route's token
				r.active.Add(-1)
				continue
			}
			i := 0
			for i < len(chained) && chained[i].r != r {
				i++
			}
			if i == len(chained) {
				chained = append(chained, chainBatch{r: r})
			}
			chained[i].msgs = append(chained[i].msgs, m)
		}
	}
	for _, cb := range chained {
		g.runChain(ctx, cb.r, cb.msgs)
	}
}

// emit produces one output of m on r, or its dead letter when it cannot be mapped.
func (g *Gateway) emit(ctx context.Context, r *route, m *message, o *output) {
	m.delivery.add(1)
	rec, why := r.record(m, o, g.sink.maxBytes)
	if why != nil {
		g.sink.deadLetter(ctx, r, m, why)
		return
	}
	g.sink.produce(ctx, r, m, rec)
}

// closeShards ends intake for good and lets the shards finish their queues.
func (g *Gateway) closeShards() {
	if g.stopping.Swap(true) {
		return
	}
	close(g.stopIntake)
	g.intakeMu.Lock() // waits for callbacks handing a message over
	for _, ch := range g.shards {
		close(ch)
	}
	g.intakeMu.Unlock()
}

// drain stops in order: intake, shards, Kafka, acknowledgements, MQTT.
func (g *Gateway) drain(shards *sync.WaitGroup) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Flow.DrainTimeout)
	defer cancel()
	start := time.Now()
	g.log.Info("draining", slog.Int("in_flight", len(g.slots)))
	if g.cfg.MQTT.SharedGroup != "" {
		// Leave the share group first: the broker keeps dealing new messages to a member's
		// session even while it is away, so an instance that stops without unsubscribing would
		// hold its share until it comes back. Messages already sent to it are still processed.
		g.src.resubscribe(ctx, g.table.Load().subscriptions(), nil)
	}
	g.closeShards()
	shardsDone := make(chan struct{})
	go func() { shards.Wait(); close(shardsDone) }()

	var err error
	select {
	case <-shardsDone:
	case <-ctx.Done():
		err = errors.New("drain timeout: shards still busy")
	}
	// Flush until every delivery is acknowledged: dead letters may be produced after a flush.
	for err == nil && len(g.slots) > 0 {
		if ferr := g.sink.client.Flush(ctx); ferr != nil {
			err = fmt.Errorf("drain timeout: flushing kafka: %w", ferr)
			break
		}
		if len(g.slots) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			err = errors.New("drain timeout")
		case <-time.After(10 * time.Millisecond):
		}
	}
	// paho sends pending acknowledgements every mqtt.ack_interval: give it time to.
	time.Sleep(3 * g.cfg.MQTT.AckInterval)
	left := len(g.slots)
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	if derr := g.src.disconnect(dctx); derr != nil {
		g.log.Debug("mqtt disconnect", slog.String("error", derr.Error()))
	}
	dcancel()
	g.sink.client.Close()
	g.closeRoutes(g.table.Load())
	if err != nil {
		g.log.Warn("stopped before the drain finished; unacknowledged QoS 1/2 messages will be redelivered by the broker",
			slog.Int("unacknowledged", left), slog.String("error", err.Error()))
		return err
	}
	g.log.Info("stopped", slog.Duration("drain", time.Since(start).Round(time.Millisecond)))
	return nil
}

// readiness returns nil while MQTT is connected and subscribed and Kafka answers.
func (g *Gateway) readiness() error {
	var errs []error
	if !g.src.ready() {
		errs = append(errs, errors.New("mqtt: not connected and subscribed"))
	}
	if !g.kafkaUp.Load() {
		errs = append(errs, errors.New("kafka: not answering"))
	}
	return errors.Join(errs...)
}

// pingKafka keeps kafkaUp current.
func (g *Gateway) pingKafka(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := g.sink.client.Ping(pctx)
		cancel()
		g.kafkaUp.Store(err == nil)
		g.metrics.kafkaUp.Set(float64(b2i(err == nil)))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stats returns the gateway's counters. Safe for concurrent use.
func (g *Gateway) Stats() Stats {
	s := Stats{
		MQTTConnected: g.src.connected.Load(),
		KafkaUp:       g.kafkaUp.Load(),
		InFlight:      len(g.slots),
		Unrouted:      g.metrics.unroutedCount.Load(),
	}
	plugins := map[string][]PluginReport{}
	for _, r := range g.table.Load().routes {
		plugins[r.name] = r.plugins
	}
	for _, r := range g.metrics.snapshot() {
		_, current := plugins[r.name]
		s.Routes = append(s.Routes, RouteStats{
			Name: r.name, Active: current, In: r.in.Load(), Out: r.out.Load(),
			Filtered: r.filtered.Load(), DeadLettered: r.deadLettered.Load(),
			Plugins: plugins[r.name],
		})
	}
	s.LastReload = g.reload.last.Load()
	return s
}
