package gateway

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/wasmhost"
)

// pluginMetrics adapts wasmhost's Observer to Prometheus.
type pluginMetrics struct {
	calls     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	messages  *prometheus.CounterVec
	instances *prometheus.GaugeVec
	recycles  *prometheus.CounterVec
	tenants   sync.Map // *wasmhost.Plugin -> tenant name, for the tenant label

	liveMu sync.Mutex
	live   map[*wasmhost.Plugin]int // instances running, to forget a plugin with its last
}

var _ wasmhost.Observer = (*pluginMetrics)(nil)

func newPluginMetrics(reg prometheus.Registerer) *pluginMetrics {
	m := &pluginMetrics{
		live: map[*wasmhost.Plugin]int{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_calls_total",
			Help: "Calls into a plugin (one call carries a batch of messages).",
		}, []string{"tenant", "plugin"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_errors_total",
			Help: "Failed plugin calls by kind: trap, timeout, out_of_memory, bad_result.",
		}, []string{"tenant", "plugin", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_plugin_call_seconds",
			Help:    "Duration of one plugin call.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 3, 14),
		}, []string{"tenant", "plugin"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_messages_total",
			Help: "Messages handed to a plugin.",
		}, []string{"tenant", "plugin"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_plugin_instances",
			Help: "Live plugin instances.",
		}, []string{"tenant", "plugin"}),
		recycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_recycles_total",
			Help: "Plugin instances retired, by reason: calls, memory, error, idle (unused for plugins.idle_timeout), close.",
		}, []string{"tenant", "plugin", "reason"}),
	}
	reg.MustRegister(m.calls, m.errors, m.duration, m.messages, m.instances, m.recycles)
	return m
}

// owns records that plugin p was compiled for tenant ("" for top-level routes).
func (m *pluginMetrics) owns(p *wasmhost.Plugin, tenant string) {
	if m != nil {
		m.tenants.Store(p, tenant)
	}
}

// disownIfIdle forgets p unless a pool runs instances of it; InstanceRecycled forgets it
// when its last instance closes.
func (m *pluginMetrics) disownIfIdle(p *wasmhost.Plugin) {
	if m == nil {
		return
	}
	m.liveMu.Lock()
	defer m.liveMu.Unlock()
	if m.live[p] == 0 {
		m.tenants.Delete(p)
	}
}

// tenant returns the tenant p was compiled for.
func (m *pluginMetrics) tenant(p *wasmhost.Plugin) string {
	t, _ := m.tenants.Load(p)
	s, _ := t.(string)
	return s
}

// PluginCall implements wasmhost.Observer.
func (m *pluginMetrics) PluginCall(p *wasmhost.Plugin, _ int, msgs int, d time.Duration, err error) {
	tenant, name := m.tenant(p), p.Name()
	m.calls.WithLabelValues(tenant, name).Inc()
	m.messages.WithLabelValues(tenant, name).Add(float64(msgs))
	m.duration.WithLabelValues(tenant, name).Observe(d.Seconds())
	if pe, ok := wasmhost.AsPluginError(err); ok {
		m.errors.WithLabelValues(tenant, name, pe.Kind.String()).Inc()
	}
}

// InstanceStarted implements wasmhost.Observer.
func (m *pluginMetrics) InstanceStarted(p *wasmhost.Plugin, _ wasmhost.RecycleReason) {
	m.liveMu.Lock()
	m.live[p]++
	m.liveMu.Unlock()
	m.instances.WithLabelValues(m.tenant(p), p.Name()).Inc()
}

// InstanceRecycled implements wasmhost.Observer. When a pool closes the last instance of p,
// p is forgotten: the map of plugins to tenants holds only plugins that run.
func (m *pluginMetrics) InstanceRecycled(p *wasmhost.Plugin, reason wasmhost.RecycleReason) {
	tenant := m.tenant(p)
	m.instances.WithLabelValues(tenant, p.Name()).Dec()
	m.recycles.WithLabelValues(tenant, p.Name(), reason.String()).Inc()
	m.liveMu.Lock()
	defer m.liveMu.Unlock()
	if m.live[p]--; m.live[p] <= 0 {
		delete(m.live, p)
		if reason == wasmhost.ReasonClose {
			m.tenants.Delete(p)
		}
	}
}
