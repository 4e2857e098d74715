package gateway

import (
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
}

var _ wasmhost.Observer = (*pluginMetrics)(nil)

func newPluginMetrics(reg prometheus.Registerer) *pluginMetrics {
	m := &pluginMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_calls_total",
			Help: "Calls into a plugin (one call carries a batch of messages).",
		}, []string{"plugin"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_errors_total",
			Help: "Failed plugin calls by kind: trap, timeout, out_of_memory, bad_result.",
		}, []string{"plugin", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_plugin_call_seconds",
			Help:    "Duration of one plugin call.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 3, 14),
		}, []string{"plugin"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_messages_total",
			Help: "Messages handed to a plugin.",
		}, []string{"plugin"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_plugin_instances",
			Help: "Live plugin instances.",
		}, []string{"plugin"}),
		recycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_plugin_recycles_total",
			Help: "Plugin instances retired, by reason: calls, memory, error, close.",
		}, []string{"plugin", "reason"}),
	}
	reg.MustRegister(m.calls, m.errors, m.duration, m.messages, m.instances, m.recycles)
	return m
}

// PluginCall implements wasmhost.Observer.
func (m *pluginMetrics) PluginCall(p *wasmhost.Plugin, _ int, msgs int, d time.Duration, err error) {
	name := p.Name()
	m.calls.WithLabelValues(name).Inc()
	m.messages.WithLabelValues(name).Add(float64(msgs))
	m.duration.WithLabelValues(name).Observe(d.Seconds())
	if pe, ok := wasmhost.AsPluginError(err); ok {
		m.errors.WithLabelValues(name, pe.Kind.String()).Inc()
	}
}

// InstanceStarted implements wasmhost.Observer.
func (m *pluginMetrics) InstanceStarted(p *wasmhost.Plugin, _ wasmhost.RecycleReason) {
	m.instances.WithLabelValues(p.Name()).Inc()
}

// InstanceRecycled implements wasmhost.Observer.
func (m *pluginMetrics) InstanceRecycled(p *wasmhost.Plugin, reason wasmhost.RecycleReason) {
	m.instances.WithLabelValues(p.Name()).Dec()
	m.recycles.WithLabelValues(p.Name(), reason.String()).Inc()
}
