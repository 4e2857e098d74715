package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/reverse"
	"github.com/tributary-gw/tributary/wasmhost"
)

// reverseRoute is one reverse route as the gateway built it: its configuration, tenant,
// chain, plugin reports and the running route.
type reverseRoute struct {
	key     string // "name" or "tenant/name"
	flow    string // the tenant's name, "" at the top level
	conf    config.ReverseRoute
	tenant  *config.Tenant // its namespace, without routes; nil at the top level
	limits  config.Plugins
	plugins []PluginReport
	chain   *wasmhost.Chain
	run     *reverse.Route
}

// reverseSet holds the gateway's reverse routes. Its lock is taken by the reload that builds,
// starts and stops them (under reloadState.mu), by Run and by the drain; never on the message
// path.
type reverseSet struct {
	mu      sync.Mutex
	routes  map[string]*reverseRoute
	started bool // Run started them: later ones start as they are built
	metrics reverseMetrics
	// running is a copy of routes for readiness, which must not wait for a reload.
	running atomic.Pointer[[]*reverseRoute]
	// listed is a copy of routes, started or not, for Stats.
	listed atomic.Pointer[[]*reverseRoute]
	// counts are each route's counters by key, kept across rebuilds as the metrics are.
	countsMu sync.Mutex
	counts   map[string]*reverse.Counts
}

// countsOf returns the counters of the route named key, creating them.
func (s *reverseSet) countsOf(key string) *reverse.Counts {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	if s.counts == nil {
		s.counts = map[string]*reverse.Counts{}
	}
	c := s.counts[key]
	if c == nil {
		c = &reverse.Counts{}
		s.counts[key] = c
	}
	return c
}

// reverseMetrics are the counters of every reverse route, by tenant and route.
type reverseMetrics struct {
	consumed, published, deadLettered, committed *prometheus.CounterVec
	lag                                          *prometheus.GaugeVec
}

func newReverseMetrics(reg prometheus.Registerer) reverseMetrics {
	vec := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"tenant", "route"})
		reg.MustRegister(v)
		return v
	}
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_reverse_lag_records",
		Help: "Records of a reverse route's partitions not yet committed: high watermark of the last fetch less the committed offset, summed over the partitions this gateway owns."},
		[]string{"tenant", "route"})
	reg.MustRegister(lag)
	return reverseMetrics{lag: lag,
		consumed:     vec("tributary_reverse_consumed_total", "Records a reverse route polled from Kafka (again after a redelivery)."),
		published:    vec("tributary_reverse_published_total", "Publishes of a reverse route the MQTT broker acknowledged (QoS 0: written)."),
		deadLettered: vec("tributary_reverse_dead_letters_total", "Records or outputs of a reverse route sent to its dead-letter topic."),
		committed:    vec("tributary_reverse_committed_total", "Records of a reverse route whose offsets were committed."),
	}
}

// reverseSpec is where the reverse routes of the top level or one tenant come from.
type reverseSpec struct {
	flow   flowSpec // plugins, paths and tenant; key names the reverse routes
	routes []config.ReverseRoute
}

// reverseSpecs lists the reverse routes of cfg: the top level's, then each tenant's, with the
// plugin settings their chains are built with.
func reverseSpecs(cfg *config.Config) []reverseSpec {
	var specs []reverseSpec
	if len(cfg.ReverseRoutes) > 0 {
		specs = append(specs, reverseSpec{flow: flowSpec{plugins: cfg.Plugins, key: "reverse_routes", path: cfg.PluginPath},
			routes: cfg.ReverseRoutes})
	}
	for _, fs := range flowSpecs(cfg) {
		if fs.tenant == nil || len(fs.tenant.ReverseRoutes) == 0 {
			continue
		}
		fs.key = "tenant " + fs.name + ": reverse_routes"
		specs = append(specs, reverseSpec{flow: fs, routes: fs.tenant.ReverseRoutes})
	}
	return specs
}

// reverseKey names a reverse route in logs and reload reports: "name" or "tenant/name".
func reverseKey(tenant, name string) string { return qualified(tenant, name) }

// buildReverse builds one reverse route (its chain and its consumer) without starting it.
func (g *Gateway) buildReverse(ctx context.Context, cfg *config.Config, spec *reverseSpec, i int) (*reverseRoute, error) {
	rc := spec.routes[i]
	rr := &reverseRoute{key: reverseKey(spec.flow.name, rc.Name), flow: spec.flow.name, conf: rc, limits: spec.flow.plugins}
	if t := spec.flow.tenant; t != nil {
		ns := *t
		ns.Routes, ns.ReverseRoutes = nil, nil
		rr.tenant = &ns
	}
	if len(rc.Chain) > 0 {
		host, err := g.pluginHost(ctx)
		if err != nil {
			return nil, err
		}
		b := &chainBuilder{host: host, metrics: g.pluginMetrics, compiled: map[string]*wasmhost.Plugin{}}
		defer b.release()
		rr.chain, rr.plugins, err = b.build(ctx, &spec.flow, i, config.Route{Name: rc.Name, Chain: rc.Chain})
		if err != nil {
			return nil, err
		}
	}
	labels := prometheus.Labels{"tenant": spec.flow.name, "route": rc.Name}
	m := g.reverse.metrics
	clientID := cfg.MQTT.ClientID + "-rev-" + rc.Name
	if spec.flow.name != "" {
		clientID = cfg.MQTT.ClientID + "-rev-" + spec.flow.name + "-" + rc.Name
	}
	run, err := reverse.New(reverse.Config{
		Route: rc, Tenant: rr.tenant, Chain: rr.chain, MaxBatch: cfg.Flow.MaxBatch,
		Kafka: cfg.Kafka, MQTT: cfg.MQTT, ClientID: clientID, Log: g.log, Calls: g.abortCtx,
		Metrics: reverse.Metrics{
			Consumed: m.consumed.With(labels), Published: m.published.With(labels),
			DeadLettered: m.deadLettered.With(labels), Committed: m.committed.With(labels),
			Lag: m.lag.With(labels),
		},
		Counts: g.reverse.countsOf(rr.key),
	})
	if err != nil {
		if rr.chain != nil {
			_ = rr.chain.Close(ctx)
		}
		return nil, fmt.Errorf("%s[%d] (%s): %w", spec.flow.key, i, rc.Name, err)
	}
	rr.run = run
	return rr, nil
}

// unchangedReverse reports whether rr was built from the same configuration, namespace,
// plugin limits and plugin files as rc would be.
func unchangedReverse(rr *reverseRoute, spec *reverseSpec, rc config.ReverseRoute) bool {
	if !reflect.DeepEqual(rr.conf, rc) || !reflect.DeepEqual(rr.limits, spec.flow.plugins) {
		return false
	}
	if t := spec.flow.tenant; t != nil {
		ns := *t
		ns.Routes, ns.ReverseRoutes = nil, nil
		if rr.tenant == nil || !reflect.DeepEqual(*rr.tenant, ns) {
			return false
		}
	}
	if len(rc.Chain) == 0 {
		return true
	}
	versions, err := stageVersions(spec.flow.path, spec.flow.dir(), ModuleLimits(spec.flow.plugins.Limits), config.Route{Chain: rc.Chain})
	if err != nil {
		return false
	}
	for k, v := range versions {
		if rr.plugins[k].Version != v {
			return false
		}
	}
	return true
}

// applyReverse makes the reverse routes those of cfg: unchanged ones keep running, changed
// ones are built beside the old, which then finishes its batch, commits and leaves the group
// before the new one starts (its consumer group takes over from the committed offsets), and
// removed ones stop the same way. A route that fails to build keeps its previous version.
// It returns the failures by tenant ("" the top level).
// With only set, the reverse routes of that tenant alone ("" the top level) are applied,
// every other one is kept as it is (a plugin upload to one tenant).
func (g *Gateway) applyReverse(ctx context.Context, cfg *config.Config, st *ReloadStatus, only *string) map[string]error {
	s := &g.reverse
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := map[string]error{}
	next := map[string]*reverseRoute{}
	if only != nil {
		for key, rr := range s.routes {
			if rr.flow != *only {
				next[key] = rr
			}
		}
	}
	for _, spec := range reverseSpecs(cfg) {
		if only != nil && spec.flow.name != *only {
			continue
		}
		for i, rc := range spec.routes {
			key := reverseKey(spec.flow.name, rc.Name)
			old := s.routes[key]
			if old != nil && unchangedReverse(old, &spec, rc) {
				next[key] = old
				continue
			}
			rr, err := g.buildReverse(ctx, cfg, &spec, i)
			if err != nil {
				errs[spec.flow.name] = errors.Join(errs[spec.flow.name], err)
				if old != nil {
					next[key] = old
				}
				continue
			}
			if st != nil {
				st.Changed = append(st.Changed, "reverse:"+key)
			}
			if old != nil {
				g.stopReverse(old)
			}
			if s.started {
				if err := rr.run.Start(context.Background()); err != nil {
					errs[spec.flow.name] = errors.Join(errs[spec.flow.name], err)
					_ = rr.run.Stop(ctx)
					g.closeReverse(rr)
					continue
				}
			}
			next[key] = rr
		}
	}
	for key, old := range s.routes {
		if next[key] == nil {
			if st != nil {
				st.Removed = append(st.Removed, "reverse:"+key)
			}
			g.stopReverse(old)
			s.metrics.lag.DeleteLabelValues(old.flow, old.conf.Name)
		}
	}
	s.routes = next
	s.publish()
	return errs
}

// reverseFailed records the failures of applyReverse: a tenant whose reverse routes do not
// build is stale while it serves anything (its forward routes, or the previous versions of
// its reverse routes), else held, as a tenant whose routes do not build. It returns the
// failures joined, top level included.
func (g *Gateway) reverseFailed(errs map[string]error) error {
	var all []error
	for name, err := range errs {
		if err == nil {
			continue
		}
		all = append(all, err)
		if name == "" {
			continue
		}
		if sl := g.tenants.lookup(name); sl != nil {
			serving := g.flowOf(name) != nil
			if list := g.reverse.listed.Load(); list != nil {
				serving = serving || slices.ContainsFunc(*list, func(rr *reverseRoute) bool { return rr.flow == name })
			}
			g.setTenantState(sl, serving, err)
		}
	}
	return errors.Join(all...)
}

// stopReverse stops rr within flow.drain_timeout and closes its chain.
func (g *Gateway) stopReverse(rr *reverseRoute) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Flow.DrainTimeout)
	defer cancel()
	if err := rr.run.Stop(ctx); err != nil {
		g.log.Warn("reverse route stopped", slog.String("reverse_route", rr.key), slog.String("error", err.Error()))
	}
	g.closeReverse(rr)
}

func (g *Gateway) closeReverse(rr *reverseRoute) {
	if rr.chain != nil {
		_ = rr.chain.Close(context.Background())
	}
}

// startReverse starts every reverse route built so far; later ones start as they are built.
func (g *Gateway) startReverse(ctx context.Context) error {
	s := &g.reverse
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	defer s.publish()
	for _, rr := range s.routes {
		if err := rr.run.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// drainReverse stops every reverse route at once, each finishing its batch within ctx.
func (g *Gateway) drainReverse(ctx context.Context) error {
	s := &g.reverse
	s.mu.Lock()
	defer s.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, rr := range s.routes {
		wg.Go(func() {
			err := rr.run.Stop(ctx)
			g.closeReverse(rr)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	s.routes = nil
	s.publish()
	return errors.Join(errs...)
}

// publish stores the lists of routes readiness and Stats read. Called with s.mu held.
func (s *reverseSet) publish() {
	all := make([]*reverseRoute, 0, len(s.routes))
	for _, rr := range s.routes {
		all = append(all, rr)
	}
	running := all
	if !s.started {
		running = nil
	}
	s.running.Store(&running)
	s.listed.Store(&all)
}

// ReverseRouteStats is one reverse route's state and counters. The counters run since the
// gateway started, across reloads that rebuild the route.
type ReverseRouteStats struct {
	// Tenant owns the route; "" for top-level reverse routes.
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	// From are the Kafka topics consumed; Group the consumer group.
	From  []string `json:"from"`
	Group string   `json:"group"`
	// To is the MQTT topic template; DeadLetter the Kafka dead-letter topic.
	To         string `json:"to"`
	DeadLetter string `json:"dead_letter"`
	// State is "running" once Run started the route, else "stopped".
	State string `json:"state"`
	// Ready is true while the route runs and its MQTT session is up.
	Ready bool `json:"ready"`
	// Consumed counts records polled (again after a redelivery), Published publishes the
	// broker acknowledged, DeadLettered dead letters written, Committed records committed.
	Consumed     uint64 `json:"consumed"`
	Published    uint64 `json:"published"`
	DeadLettered uint64 `json:"dead_lettered"`
	Committed    uint64 `json:"committed"`
	// Lag is the records of the route's partitions not committed yet, as of its last
	// fetch (see tributary_reverse_lag_records).
	Lag int64 `json:"lag"`
	// Plugins are the stages of the route's chain, with the versions serving.
	Plugins []PluginReport `json:"stages,omitempty"`
}

// reverseStats returns every reverse route's stats, sorted by tenant and name.
func (g *Gateway) reverseStats() []ReverseRouteStats {
	list := g.reverse.listed.Load()
	if list == nil {
		return nil
	}
	var running map[*reverseRoute]bool
	if r := g.reverse.running.Load(); r != nil {
		running = make(map[*reverseRoute]bool, len(*r))
		for _, rr := range *r {
			running[rr] = true
		}
	}
	out := make([]ReverseRouteStats, 0, len(*list))
	for _, rr := range *list {
		c := g.reverse.countsOf(rr.key)
		st := ReverseRouteStats{Tenant: rr.flow, Name: rr.conf.Name, From: rr.conf.From, Group: rr.run.Group(),
			To: rr.conf.To.Topic, DeadLetter: rr.conf.DeadLetter, State: "stopped",
			Consumed: c.Consumed.Load(), Published: c.Published.Load(), DeadLettered: c.DeadLettered.Load(),
			Committed: c.Committed.Load(), Lag: rr.run.Lag(), Plugins: rr.plugins}
		if running[rr] {
			st.State = "running"
			st.Ready = rr.run.Connected()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ReverseRouteStats) int {
		if c := cmp.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// reverseReadiness names the started reverse routes whose MQTT session is down.
func (g *Gateway) reverseReadiness() error {
	var down []string
	if list := g.reverse.running.Load(); list != nil {
		for _, rr := range *list {
			if !rr.run.Connected() {
				down = append(down, rr.key)
			}
		}
	}
	if len(down) == 0 {
		return nil
	}
	slices.Sort(down)
	return fmt.Errorf("mqtt (reverse routes %v): not connected", down)
}
