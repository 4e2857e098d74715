package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/wasmhost"
)

// reloadState serialises reloads and remembers the last outcome.
type reloadState struct {
	mu       sync.Mutex // held for a whole reload; never taken on the message path
	last     atomic.Pointer[ReloadStatus]
	retiring sync.WaitGroup // routes replaced by a reload, closing once idle
	trigger  chan struct{}  // TriggerReload's requests, for the watcher

	successes, failures prometheus.Counter
	lastOK              prometheus.Gauge
}

// ReloadStatus is the outcome of the last reload.
type ReloadStatus struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
	Changed []string  `json:"changed,omitempty"` // routes built anew, as "route" or "tenant/route"
	Removed []string  `json:"removed,omitempty"`
	// TenantsAdded and TenantsRemoved name the tenants the reload started and stopped.
	TenantsAdded   []string `json:"tenants_added,omitempty"`
	TenantsRemoved []string `json:"tenants_removed,omitempty"`
	// Serving lists the stages of the routes built anew with the plugin version each now
	// serves (the sha256 hex the plugin store and dead letters name).
	Serving []PluginReport `json:"serving,omitempty"`
}

// servingAttr is Serving for a log line: "route[stage]=plugin@version" (the version's first
// 12 hex digits), routes as "tenant/route".
func (st *ReloadStatus) servingAttr() slog.Attr {
	out := make([]string, len(st.Serving))
	for i, p := range st.Serving {
		out[i] = fmt.Sprintf("%s[%d]=%s", qualified(p.Tenant, p.Route), p.Stage, p.Short())
	}
	return slog.Any("serving", out)
}

// buildTable builds the routes of one flow. A route whose configuration, namespace, plugin
// limits and plugin files are unchanged from a route of old is reused as it is, so a reload
// disturbs only what changed. It returns the new table and the routes it built anew (closed
// again on failure).
func (g *Gateway) buildTable(ctx context.Context, spec *flowSpec, old *routeTable) (*routeTable, []*route, error) {
	reuse := make(map[string]*route, len(old.routes))
	for _, r := range old.routes {
		reuse[r.Name] = r
	}
	var built []*route
	fail := func(err error) (*routeTable, []*route, error) {
		closeChains(ctx, built)
		return nil, nil, err
	}
	var host *wasmhost.Host
	if specHasChains(spec) {
		var err error
		if host, err = g.pluginHost(ctx); err != nil {
			return fail(err)
		}
	}
	chains := &chainBuilder{host: host, metrics: g.pluginMetrics, compiled: map[string]*wasmhost.Plugin{}, read: map[string][]byte{}}
	defer chains.release()
	var next []*route
	for i, rc := range spec.routes {
		if prev := reuse[rc.Name]; prev != nil && unchanged(prev, spec, rc) {
			next = append(next, prev)
			continue
		}
		r, err := buildRoute(rc, spec.tenant, g.metrics, g.schemas)
		if err != nil && spec.name != "" {
			err = fmt.Errorf("tenant %s: %w", spec.name, err)
		}
		if err == nil {
			r.limits = spec.plugins
			r.Chain, r.plugins, err = chains.build(ctx, spec, i, rc) // its errors name the tenant
		}
		if err == nil && rc.To.Lineage {
			stages := make([]kafkasink.LineageStage, len(r.plugins))
			for k, p := range r.plugins {
				stages[k] = kafkasink.LineageStage{Plugin: p.Plugin, Version: p.Version}
			}
			r.Sink.SetLineage(stages)
		}
		if err != nil {
			return fail(err)
		}
		built = append(built, r)
		next = append(next, r)
		for _, rep := range r.plugins {
			g.log.Info("plugin ready", slog.String("tenant", rep.Tenant), slog.String("route", rep.Route), slog.Int("stage", rep.Stage),
				slog.String("plugin", rep.Plugin), slog.String("version", rep.Version[:12]),
				slog.Duration("compile", rep.CompileTime.Round(time.Millisecond)))
		}
	}
	g.recordServing(spec, chains.read)
	return newRouteTable(next), built, nil
}

// recordServing tells the plugin store of each folder which module of each plugin the routes
// just built serve (read: the bytes compiled, by file), so that a version dropped into the
// folder by hand keeps the one it replaced in the history and rollback works as after an
// upload (pluginstore.Store.Serving). A folder where the store cannot write (read-only) only
// loses that history: the failure is logged at debug level.
func (g *Gateway) recordServing(spec *flowSpec, read map[string][]byte) {
	for path, wasm := range read {
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		st, err := g.stores.get(filepath.Dir(path), false)
		if err == nil {
			var changed bool
			changed, err = st.Serving(name, wasm)
			if err == nil && changed {
				g.log.Info("plugin file replaced outside the admin API: the version it replaced is kept for rollback",
					slog.String("tenant", spec.name), slog.String("plugin", name), slog.String("file", path),
					slog.String("version", pluginstore.Hash(wasm)[:12]))
			}
		}
		if err != nil {
			g.log.Debug("plugin history not kept", slog.String("plugin", name), slog.String("file", path), slog.String("error", err.Error()))
		}
	}
}

// specHasChains reports whether any route of spec has plugins.
func specHasChains(spec *flowSpec) bool {
	for _, r := range spec.routes {
		if len(r.Chain) > 0 {
			return true
		}
	}
	return false
}

// closeChains closes the chains of routes that will not serve.
func closeChains(ctx context.Context, routes []*route) {
	for _, r := range routes {
		if r.Chain != nil {
			_ = r.Chain.Close(ctx)
		}
	}
}

// unchanged reports whether route r can serve rc of spec as it is.
func unchanged(r *route, spec *flowSpec, rc config.Route) bool {
	if !reflect.DeepEqual(r.conf, rc) {
		return false
	}
	if spec.tenant != nil {
		ns := *spec.tenant
		ns.Routes, ns.ReverseRoutes = nil, nil
		if cur := r.Sink.Namespace(); cur == nil || !reflect.DeepEqual(*cur, ns) {
			return false
		}
	}
	if len(rc.Chain) == 0 {
		return true
	}
	if !reflect.DeepEqual(r.limits, spec.plugins) {
		return false
	}
	versions, err := stageVersions(spec.path, spec.dir(), ModuleLimits(spec.plugins.Limits), rc)
	if err != nil {
		return false // build it, and report the error from there
	}
	for k, v := range versions {
		if r.plugins[k].Version != v {
			return false
		}
	}
	return true
}

// Reload applies cfg to the running gateway without a restart: build beside, validate, swap,
// retire (see the package documentation), one flow at a time: the top-level routes, then each
// tenant. Routes whose configuration and plugins did not change keep running untouched;
// changed routes are built anew (plugins compiled and one instance per stage started, so a
// broken plugin or config fails here) and swapped in at once. Every message received before
// the swap finishes on the old route, every message after it uses the new one; a replaced
// route's chain is closed once its last message is done. Subscriptions for new filters are
// made before those no longer needed are dropped. A new tenant starts its own MQTT session; a
// removed tenant unsubscribes, drains and disconnects.
//
// # Errors
//
// Each flow succeeds or fails on its own: a flow whose routes or plugins do not load keeps
// serving what it had (its tenant is stale), or, when it was not running, stays held without
// an MQTT session (the broker keeps its messages); every other flow applies the new
// configuration. The tenant states show in Stats().Tenants, /readyz and
// tributary_tenant_degraded. Reload returns the failures joined, each naming its tenant, and
// counts the reload as failed (tributary_reloads_total{result="failure"}, Stats().LastReload).
// Sections that cannot change live (mqtt, kafka, flow, admin, log, plugins.cache_dir,
// plugins.compile) reject the whole reload, in the form "reload not supported for
// mqtt.client_id: old=…, new=…"; nothing changes then.
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config) error {
	ctx, cancel := g.reloadContext(ctx)
	defer cancel()
	g.reload.mu.Lock()
	defer g.reload.mu.Unlock()
	st := &ReloadStatus{At: g.now()}
	err := g.reloadLocked(ctx, cfg, st)
	if err != nil {
		st.Error = err.Error()
		g.reload.failures.Inc()
		g.reload.lastOK.Set(0)
		g.log.Error("reload failed; what did not load keeps its previous version", slog.String("error", err.Error()),
			slog.Any("changed", st.Changed), st.servingAttr(), slog.Any("removed", st.Removed),
			slog.Any("tenants_added", st.TenantsAdded), slog.Any("tenants_removed", st.TenantsRemoved))
	} else {
		st.OK = true
		g.reload.successes.Inc()
		g.reload.lastOK.Set(1)
		g.log.Info("reloaded", slog.Any("changed", st.Changed), st.servingAttr(), slog.Any("removed", st.Removed),
			slog.Any("tenants_added", st.TenantsAdded), slog.Any("tenants_removed", st.TenantsRemoved))
	}
	g.reload.last.Store(st)
	return err
}

// reloadContext returns ctx, also done when the gateway starts to stop: a reload or upload
// compiling or starting plugins then gives up at once instead of holding the drain.
func (g *Gateway) reloadContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.stopCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// qualified names a route in reload reports: "route" or "tenant/route".
func qualified(tenant, route string) string {
	if tenant == "" {
		return route
	}
	return tenant + "/" + route
}

func (g *Gateway) reloadLocked(ctx context.Context, cfg *config.Config, st *ReloadStatus) error {
	if g.stopping.Load() {
		return errors.New("reload rejected: the gateway is stopping")
	}
	if err := reloadable(g.cfg, cfg); err != nil {
		return err
	}
	if err := adminAuth(cfg).Validate(); err != nil {
		return fmt.Errorf("reload rejected: %w", err)
	}
	var errs []error
	keep := map[string]bool{}
	for _, spec := range flowSpecs(cfg) {
		keep[spec.name] = true
		if err := g.applyFlow(ctx, g.tenants.slot(spec.name), &spec, st); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range cfg.BrokenTenants() {
		keep[b.Name] = true
		errs = append(errs, g.holdBroken(b))
	}
	if err := g.reverseFailed(g.applyReverse(ctx, cfg, st, nil)); err != nil {
		errs = append(errs, err)
	}

	// Tenants no longer configured: forget them (under their own lock, so an upload to one
	// cannot bring it back), then drain and stop their flows.
	var removed []*tenantFlow
	for _, name := range g.tenants.names() {
		if keep[name] {
			continue
		}
		sl := g.tenants.lookup(name)
		sl.mu.Lock()
		g.tenants.drop(name)
		g.flowsMu.Lock()
		if f := g.flows[name]; f != nil {
			flows := maps.Clone(g.flows)
			delete(flows, name)
			g.flows = flows
			removed = append(removed, f)
			st.TenantsRemoved = append(st.TenantsRemoved, name)
			for _, r := range f.table.Load().routes {
				st.Removed = append(st.Removed, qualified(r.Tenant, r.Name))
			}
		}
		g.flowsMu.Unlock()
		sl.mu.Unlock()
	}
	slices.Sort(st.TenantsRemoved)
	g.current.Store(cfg)
	if g.adminH != nil {
		g.adminH.rebuild(cfg)
	}
	for _, f := range removed {
		if f.Started() {
			g.reload.retiring.Go(func() { g.removeFlow(f) })
		} else {
			closeChains(ctx, f.table.Load().routes)
		}
	}
	return errors.Join(errs...)
}

// retire closes r's chain once no message uses it any more.
func (g *Gateway) retire(r *route) {
	if r.Chain == nil {
		return
	}
	g.reload.retiring.Go(func() {
		<-r.Retire()
		_ = r.Chain.Close(context.Background())
	})
}

// reloadable returns why cfg cannot replace old live, naming the first key that differs in
// each section that needs a restart.
func reloadable(old, cfg *config.Config) error {
	var errs []error
	sections := []struct {
		key      string
		old, new any
	}{
		{"mqtt", old.MQTT, cfg.MQTT},
		{"kafka", old.Kafka, cfg.Kafka},
		{"flow", old.Flow, cfg.Flow},
		{"admin", old.Admin, cfg.Admin},
		{"log", old.Log, cfg.Log},
		{"plugins.cache_dir", old.Plugins.CacheDir, cfg.Plugins.CacheDir},
		{"plugins.compile", old.Plugins.Compile, cfg.Plugins.Compile},
	}
	for _, s := range sections {
		if key, o, n, ok := firstDiff(s.key, reflect.ValueOf(s.old), reflect.ValueOf(s.new)); ok {
			errs = append(errs, fmt.Errorf("reload not supported for %s: old=%v, new=%v (restart to change it)", key, o, n))
		}
	}
	return errors.Join(errs...)
}

// firstDiff finds the first field that differs between a and b, naming it by its koanf tags.
// Secrets print redacted.
func firstDiff(key string, a, b reflect.Value) (string, any, any, bool) {
	if a.Kind() == reflect.Struct {
		for i := 0; i < a.NumField(); i++ {
			tag := a.Type().Field(i).Tag.Get("koanf")
			if k, o, n, ok := firstDiff(key+"."+tag, a.Field(i), b.Field(i)); ok {
				return k, o, n, true
			}
		}
		return "", nil, nil, false
	}
	if reflect.DeepEqual(a.Interface(), b.Interface()) {
		return "", nil, nil, false
	}
	if a.Type() == reflect.TypeOf(config.Secret("")) {
		return key, "[redacted]", "[redacted]", true
	}
	return key, a.Interface(), b.Interface(), true
}

func newReloadMetrics(reg prometheus.Registerer, st *reloadState) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_reloads_total",
		Help: "Configuration and plugin reloads by result: success or failure (the old routes kept serving).",
	}, []string{"result"})
	st.successes, st.failures = v.WithLabelValues("success"), v.WithLabelValues("failure")
	st.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tributary_config_last_reload_successful",
		Help: "1 when the last reload succeeded (or none happened yet), 0 after a failed one.",
	})
	st.lastOK.Set(1)
	reg.MustRegister(v, st.lastOK)
}
