package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
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

	sink *kafkasink.Sink
	// schemas is the Schema Registry client (kafka.schema_registry), nil without a url.
	schemas *schemaenc.Registry

	// flows are the MQTT sessions by tenant ("" for the top-level routes). The map is
	// replaced, never edited, under flowsMu; reloads add and remove flows.
	flowsMu sync.RWMutex
	flows   map[string]*tenantFlow
	runCtx  context.Context // where flows added by a reload run; nil before Run

	kafkaUp   atomic.Bool
	adminAddr atomic.Pointer[string]
	adminH    *adminHandler                 // nil without admin.listen
	stores    pluginStores                  // the plugin store of each plugin folder, for the admin API and reloads
	hostMu    sync.Mutex                    // guards host
	host      *wasmhost.Host                // nil until a route has plugins or a plugin is validated
	current   atomic.Pointer[config.Config] // the configuration in force, as the last reload left it

	pluginMetrics *pluginMetrics
	reload        reloadState
	tenants       *tenantSet // every flow's lock and state, held and stale tenants included
	reverse       reverseSet // the reverse routes (Kafka → MQTT)

	// stopping is set when the drain begins; stopCtx is done then, ending reloads, uploads and
	// compilations in progress so that none of them holds the drain up.
	stopping atomic.Bool
	stopCtx  context.Context
	stopAll  context.CancelFunc
	// abortCtx is what plugin calls run under; it is done when the drain runs out of time,
	// which stops guests still running (their messages stay unacknowledged).
	abortCtx   context.Context
	abortCalls context.CancelFunc
	reloadPath string   // see WithReloadFrom
	reloadEnv  []string // see WithReloadFrom
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
		cfg:   cfg,
		log:   slog.Default(),
		now:   time.Now,
		flows: map[string]*tenantFlow{},
	}
	for _, o := range opts {
		o.apply(g)
	}
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
		g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	g.metrics = newMetrics(g.registry)
	g.metrics.stallTimeout = stallTimeout(cfg)

	g.pluginMetrics = newPluginMetrics(g.registry)
	newReloadMetrics(g.registry, &g.reload)
	g.tenants = newTenantSet(g.registry)
	g.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_plugin_cache_working",
		Help: "1 while plugins.cache_dir holds compiled plugins (or none is set); 0 when it cannot be created, read or written: plugins are then compiled in memory and again at each restart.",
	}, func() float64 {
		g.hostMu.Lock()
		defer g.hostMu.Unlock()
		if g.host != nil && g.host.CacheError() != nil {
			return 0
		}
		return 1
	}))
	g.stopCtx, g.stopAll = context.WithCancel(context.Background())
	g.abortCtx, g.abortCalls = context.WithCancel(context.Background())
	g.reload.trigger = make(chan struct{}, 1)
	g.current.Store(cfg)
	if err := adminAuth(cfg).Validate(); err != nil {
		return nil, err
	}
	if cfg.Admin.Listen != "" {
		g.adminH = &adminHandler{g: g}
		g.adminH.rebuild(cfg)
	}
	// The producer holds records made from the messages in flight, so its bound follows the
	// flows': twice flow.max_in_flight_bytes leaves room for a full flow's records plus
	// another flow's or a fan-out's. Beyond it a shard waits in Produce for Kafka, which is
	// backpressure too. It is at least two records of kafka.max_record_bytes (config
	// validation), as franz-go fails a record larger than the whole buffer.
	sink, err := kafkasink.New(kafkasink.Config{Kafka: cfg.Kafka, MaxBufferedBytes: producerBufferedBytes(cfg), Log: g.log,
		Metrics: kafkasink.Metrics{KafkaErrors: g.metrics.kafkaErrors, ProduceLatency: g.metrics.produceLatency}})
	if err != nil {
		return nil, err
	}
	// The flows hand their records to it.
	g.sink = sink
	if cfg.Kafka.SchemaRegistry.URL != "" {
		if g.schemas, err = schemaenc.New(cfg.Kafka.SchemaRegistry, g.log, g.metrics.schemas); err != nil {
			g.sink.Close()
			return nil, err
		}
	}
	// The top-level routes are the operator's: when they do not load, New fails, as a bad
	// configuration file does. A tenant that does not load is held alone (see applyFlow).
	ctx := context.Background()
	for _, spec := range flowSpecs(cfg) {
		if err := g.applyFlow(ctx, g.tenants.slot(spec.name), &spec, nil); err != nil && spec.name == "" {
			g.sink.Close()
			g.closeSchemas()
			g.closeRoutes()
			return nil, err
		}
	}
	for _, b := range cfg.BrokenTenants() {
		_ = g.holdBroken(b)
	}
	g.reverse.metrics = newReverseMetrics(g.registry)
	// As for routes: the top level's failing fails New, a tenant's holds that tenant alone.
	revErrs := g.applyReverse(ctx, cfg, nil, nil)
	top := revErrs[""]
	delete(revErrs, "")
	_ = g.reverseFailed(revErrs)
	if err := top; err != nil {
		_ = g.drainReverse(ctx)
		g.sink.Close()
		g.closeRoutes()
		return nil, err
	}

	return g, nil
}

// producerBufferedBytes is the Kafka producer's kgo.MaxBufferedBytes: twice
// flow.max_in_flight_bytes.
func producerBufferedBytes(cfg *config.Config) int { return 2 * cfg.Flow.MaxInFlightBytes }

// flowList returns the flows in force.
func (g *Gateway) flowList() []*tenantFlow {
	g.flowsMu.RLock()
	defer g.flowsMu.RUnlock()
	out := make([]*tenantFlow, 0, len(g.flows))
	for _, f := range g.flows {
		out = append(out, f)
	}
	return out
}

// Run connects to MQTT and Kafka and moves messages until ctx is done, then drains: it stops
// taking messages, finishes those in flight, flushes Kafka, sends the last acknowledgements and
// disconnects, all within flow.drain_timeout. Messages still unacknowledged after that are
// redelivered by the broker to the next session. Run returns nil after a clean drain.
func (g *Gateway) Run(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	var bgWG sync.WaitGroup
	retryStop := make(chan struct{})
	bgWG.Go(func() { g.sink.RunRetries(bg, retryStop) })
	bgWG.Go(func() { g.pingKafka(bg) })
	bgWG.Go(func() { g.watchStalls(bg) })
	bgWG.Go(func() { g.sink.RunPurger(bg) })

	var adminSrv *http.Server
	if g.cfg.Admin.Listen != "" {
		ln, err := net.Listen("tcp", g.cfg.Admin.Listen)
		if err != nil {
			g.abort(stopBG, &bgWG, retryStop)
			return fmt.Errorf("admin.listen: %w", err)
		}
		addr := ln.Addr().String()
		g.adminAddr.Store(&addr)
		// Every request is bounded (see adminapi.go): header, whole request (a module of
		// the maximum size), handler plus answer, idle keep-alive.
		adminSrv = &http.Server{Handler: g.adminH, ReadHeaderTimeout: adminReadHeaderTimeout,
			ReadTimeout: adminReadTimeout, WriteTimeout: adminWriteTimeout, IdleTimeout: adminIdleTimeout,
			MaxHeaderBytes: adminMaxHeaderBytes}
		bgWG.Go(func() {
			if err := adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("admin server stopped", slog.String("error", err.Error()))
			}
		})
		bgWG.Go(func() { g.adminH.watchTokens(bg) })
		g.log.Info("admin listening", slog.String("addr", addr))
	}

	if g.reloadPath != "" {
		bgWG.Go(func() { g.watch(bg) })
	}
	g.flowsMu.Lock()
	g.runCtx = bg
	routes := 0
	for _, f := range g.flows {
		routes += len(f.table.Load().routes)
		if err := f.Start(bg); err != nil {
			g.flowsMu.Unlock()
			g.abort(stopBG, &bgWG, retryStop)
			return err
		}
	}
	tenants := len(g.flows)
	if g.flows[""] != nil {
		tenants--
	}
	g.flowsMu.Unlock()
	if err := g.startReverse(bg); err != nil {
		g.abort(stopBG, &bgWG, retryStop)
		return err
	}
	g.log.Info("gateway running", slog.Int("routes", routes), slog.Int("tenants", tenants),
		slog.Int("tenants_degraded", len(g.degradedDetail())),
		slog.String("mqtt", g.cfg.MQTT.URL), slog.Any("kafka", g.cfg.Kafka.Brokers))

	<-ctx.Done()
	err := g.drainBounded()
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
func (g *Gateway) abort(stopBG context.CancelFunc, bg *sync.WaitGroup, retryStop chan struct{}) {
	for _, f := range g.flowList() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = f.Source().Disconnect(dctx)
		cancel()
		f.CloseIntake()
		f.WaitShards()
	}
	dctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = g.drainReverse(dctx)
	cancel()
	close(retryStop)
	stopBG()
	bg.Wait()
	g.sink.Close()
	g.closeSchemas()
	g.closeRoutes()
}

// closeSchemas stops the Schema Registry client's resolutions, if there is one.
func (g *Gateway) closeSchemas() {
	if g.schemas != nil {
		g.schemas.Close()
	}
}

// closeRoutes closes the chains of every flow's routes, waits for routes retired by reloads
// and, last, closes the plugin host.
func (g *Gateway) closeRoutes() {
	ctx := context.Background()
	for _, f := range g.flowList() {
		for _, r := range f.table.Load().routes {
			if r.Chain != nil {
				_ = r.Chain.Close(ctx)
			}
		}
	}
	g.reload.retiring.Wait()
	g.hostMu.Lock()
	if g.host != nil {
		_ = g.host.Close(ctx)
	}
	g.hostMu.Unlock()
}

// AdminAddr returns the address the admin server listens on, or "" before Run starts it.
func (g *Gateway) AdminAddr() string {
	if p := g.adminAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// drainBounded runs the drain and returns within flow.drain_timeout plus drainGrace whatever
// the drain is waiting for (a plugin call, a compilation, a Kafka flush): Run then returns and
// the process can exit; what was not acknowledged is redelivered by the broker.
func (g *Gateway) drainBounded() error {
	g.stopping.Store(true)
	g.stopAll()
	done := make(chan error, 1)
	go func() { done <- g.drain() }()
	t := time.NewTimer(g.cfg.Flow.DrainTimeout + drainGrace)
	defer t.Stop()
	defer g.abortCalls()
	select {
	case err := <-done:
		return err
	case <-t.C:
		g.log.Error("drain did not finish in flow.drain_timeout plus the grace; stopping anyway, the broker redelivers what was not acknowledged",
			slog.Duration("drain_timeout", g.cfg.Flow.DrainTimeout), slog.Duration("grace", drainGrace))
		return fmt.Errorf("drain did not finish within flow.drain_timeout %v plus %v", g.cfg.Flow.DrainTimeout, drainGrace)
	}
}

// drainGrace is how long past flow.drain_timeout Run waits for the drain's last steps
// (acknowledgements, disconnects, closing plugin instances) before it returns regardless.
const drainGrace = 5 * time.Second

// drain stops in order, for every flow at once, within flow.drain_timeout: intake (and the
// shared subscriptions), the shards, a Kafka flush, every message's acknowledgement (the
// delivery trackers' Wait), the acknowledgements written to the broker, the MQTT sessions.
// Nothing in it sleeps or polls: each step waits for the previous one to say it is done.
func (g *Gateway) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Flow.DrainTimeout)
	defer cancel()
	start := time.Now()
	flows := g.flowList()
	unacked := func() int {
		n := 0
		for _, f := range flows {
			n += f.Unacked()
		}
		return n
	}
	g.log.Info("draining", slog.Int("in_flight", unacked()))
	// Reverse routes finish their batches and commit beside the forward drain.
	reverseDone := make(chan error, 1)
	go func() { reverseDone <- g.drainReverse(ctx) }()
	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Go(func() { f.LeaveShares(ctx) })
	}
	wg.Wait()
	for _, f := range flows {
		f.CloseIntake()
	}
	shardsDone := make(chan struct{})
	go func() {
		for _, f := range flows {
			f.WaitShards()
		}
		close(shardsDone)
	}()

	var err error
	select {
	case <-shardsDone:
	case <-ctx.Done():
		err = errors.New("drain timeout: shards still busy")
		g.abortCalls() // stop plugin calls still running; their messages are redelivered
	}
	// Flush what the producer holds, then wait until every message is acknowledged: a record
	// that failed is produced again, or dead-lettered, after the flush, and its message is
	// acknowledged only then.
	if err == nil {
		if ferr := g.sink.Flush(ctx); ferr != nil {
			err = fmt.Errorf("drain timeout: flushing kafka: %w", ferr)
		}
	}
	for _, f := range flows {
		if err == nil && f.WaitAcked(ctx) != nil {
			err = errors.New("drain timeout: messages still unacknowledged")
		}
	}
	// The acknowledgements are queued in paho, which writes them every mqtt.ack_interval: wait
	// until each flow's connection has written them and the broker has read them, so that the
	// DISCONNECT follows them. Every flow's paho writes on its own ticker, so waiting for them
	// one after the other takes as long as waiting for all at once. After a timeout the
	// messages acknowledged so far still deserve their acknowledgements (or the next session
	// gets them again): that wait has its own short bound, within drainGrace.
	actx, acancel := ctx, context.CancelFunc(func() {})
	if err != nil {
		actx, acancel = context.WithTimeout(context.Background(), time.Second)
	}
	for _, f := range flows {
		if f.Source().AcksWritten(actx) != nil && err == nil {
			err = errors.New("drain timeout: acknowledgements not yet written to the broker")
		}
	}
	acancel()
	left := unacked()
	for _, f := range flows {
		wg.Go(func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer dcancel()
			if derr := f.Source().Disconnect(dctx); derr != nil {
				f.log.Debug("mqtt disconnect", slog.String("error", derr.Error()))
			}
		})
	}
	wg.Wait()
	if rerr := <-reverseDone; rerr != nil && err == nil {
		err = rerr
	}
	g.sink.Close()
	g.closeSchemas()
	g.closeRoutes()
	if err != nil {
		g.log.Warn("stopped before the drain finished; unacknowledged QoS 1/2 messages will be redelivered by the broker",
			slog.Int("unacknowledged", left), slog.String("error", err.Error()))
		return err
	}
	g.log.Info("stopped", slog.Duration("drain", time.Since(start).Round(time.Millisecond)))
	return nil
}

// readiness returns nil while every MQTT session is connected and subscribed, Kafka answers
// and no route is stalled (see kafka.stall_timeout).
func (g *Gateway) readiness() error {
	var errs []error
	for _, f := range g.flowList() {
		if f.Source().Ready() {
			continue
		}
		if f.tenant == "" {
			errs = append(errs, errors.New("mqtt: not connected and subscribed"))
		} else {
			errs = append(errs, fmt.Errorf("mqtt (tenant %s): not connected and subscribed", f.tenant))
		}
	}
	if !g.kafkaUp.Load() {
		errs = append(errs, errors.New("kafka: not answering"))
	}
	if err := g.stalls(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, g.schemasPending()...)
	if err := g.reverseReadiness(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// schemasPending names each route in force whose schemas are not resolved yet: it holds its
// messages until the Schema Registry answers.
func (g *Gateway) schemasPending() []error {
	if g.schemas == nil {
		return nil
	}
	var errs []error
	for _, f := range g.flowList() {
		for _, r := range f.table.Load().routes {
			if p := r.Sink.SchemasPending(); p != "" {
				name := r.Name
				if f.tenant != "" {
					name = f.tenant + "/" + name
				}
				errs = append(errs, fmt.Errorf("schema registry %s: route %s waits for its schema (%s)", g.schemas.URL(), name, p))
			}
		}
	}
	return errs
}

// pingKafka keeps kafkaUp current.
func (g *Gateway) pingKafka(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := g.sink.Ping(pctx)
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
		MQTTConnected: true,
		KafkaUp:       g.kafkaUp.Load(),
		Unrouted:      g.metrics.unroutedCount.Load(),
	}
	plugins := map[string][]PluginReport{}
	for _, f := range g.flowList() {
		s.MQTTConnected = s.MQTTConnected && f.Source().Connected()
		n, b := f.InFlight()
		s.InFlight += n
		s.InFlightBytes += b
		for _, r := range f.table.Load().routes {
			plugins[r.Tenant+"/"+r.Name] = r.plugins
		}
	}
	for _, r := range g.metrics.snapshot() {
		ps, current := plugins[r.tenant+"/"+r.name]
		s.Routes = append(s.Routes, RouteStats{
			Tenant: r.tenant, Name: r.name, Active: current, In: r.in.Load(), Out: r.out.Load(),
			Filtered: r.filtered.Load(), DeadLettered: r.deadLettered.Load(),
			Plugins: ps,
		})
		rs := &s.Routes[len(s.Routes)-1]
		var since time.Duration
		rs.Stalled, since, rs.RecordsOutstanding = r.progress.Stalled(g.metrics.stallTimeout)
		rs.SinceLastAckSeconds = since.Seconds()
	}
	s.LastReload = g.reload.last.Load()
	s.Tenants = g.tenants.statuses()
	s.ReverseRoutes = g.reverseStats()
	return s
}
