package gateway

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
)

// routeCounters are the per-route message counters. They live as long as the gateway (a route
// replaced by a reload keeps counting where its predecessor stopped), are bumped with atomics on
// the hot path, and are read both by the Prometheus collector and by Stats.
type routeCounters struct {
	tenant       string // "" for top-level routes
	name         string
	in           atomic.Uint64      // messages that entered the route
	out          atomic.Uint64      // records acknowledged by Kafka
	filtered     atomic.Uint64      // messages a plugin chain dropped on purpose
	deadLettered atomic.Uint64      // dead-letter records acknowledged by Kafka
	byKind       sync.Map           // kind string -> *atomic.Uint64, dead letters by error kind
	progress     kafkasink.Progress // records waiting for Kafka
	// stallReported is the stalled state last logged by watchStalls.
	stallReported atomic.Bool
}

// Produced counts one record of the route acknowledged by Kafka (kafkasink.Counters).
func (c *routeCounters) Produced() { c.out.Add(1) }

// DeadLettered counts one dead-letter record of the route, of kind, acknowledged by Kafka
// (kafkasink.Counters).
func (c *routeCounters) DeadLettered(kind string) {
	c.deadLettered.Add(1)
	v, ok := c.byKind.Load(kind)
	if !ok {
		v, _ = c.byKind.LoadOrStore(kind, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

var _ kafkasink.Counters = (*routeCounters)(nil)

// metrics holds the gateway's Prometheus instruments.
type metrics struct {
	mu     sync.Mutex
	routes map[string]*routeCounters

	received        *prometheus.CounterVec
	receivedByQoS   [3]prometheus.Counter // received's children, looked up once
	unroutedCount   atomic.Uint64
	inFlight        *prometheus.GaugeVec // by tenant
	inFlightBytes   *prometheus.GaugeVec // by tenant
	mqttConnected   *prometheus.GaugeVec // by tenant
	mqttConnects    prometheus.Counter
	mqttConnErrors  prometheus.Counter
	copiesDropped   prometheus.Counter
	kafkaErrors     *prometheus.CounterVec
	schemas         schemaenc.Metrics
	produceLatency  prometheus.Histogram
	deliveryLatency prometheus.Histogram
	kafkaUp         prometheus.Gauge
	// stallTimeout is kafka.stall_timeout, for tributary_route_stalled.
	stallTimeout time.Duration
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		routes: make(map[string]*routeCounters),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_messages_received_total",
			Help: "MQTT PUBLISH packets received, by QoS.",
		}, []string{"qos"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_messages_in_flight",
			Help: "Messages received from MQTT and not yet acknowledged, by tenant (\"\" for top-level routes).",
		}, []string{"tenant"}),
		inFlightBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_messages_in_flight_bytes",
			Help: "Bytes (payload, topic and properties) of the messages received from MQTT and not yet acknowledged, by tenant (\"\" for top-level routes); bounded by flow.max_in_flight_bytes.",
		}, []string{"tenant"}),
		mqttConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_mqtt_connected",
			Help: "1 while the MQTT connection of a tenant (\"\" for top-level routes) is up.",
		}, []string{"tenant"}),
		mqttConnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_connects_total",
			Help: "Successful MQTT connections, including reconnections.",
		}),
		mqttConnErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_connection_errors_total",
			Help: "Failed MQTT connection attempts and dropped connections.",
		}),
		copiesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_duplicate_copies_total",
			Help: "Extra copies of one MQTT message the broker sent because several subscribed filters matched it; acknowledged and not processed again.",
		}),
		kafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_kafka_errors_total",
			Help: "Kafka produce failures by kind: record (Kafka refused the record; it was dead-lettered), retried (a connection-level failure; the record is produced again), dead_letter (a dead-letter record failed and is retried).",
		}, []string{"kind"}),
		produceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_kafka_produce_latency_seconds",
			Help:    "Time from handing a record to the producer to Kafka's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
		deliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_delivery_latency_seconds",
			Help:    "Time from receiving an MQTT message to acknowledging it, after all its records are in Kafka.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
		kafkaUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_kafka_up",
			Help: "1 while the last Kafka ping succeeded.",
		}),
	}
	m.schemas = schemaenc.Metrics{
		Encoded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_schema_encoded_total",
			Help: "Record values and keys encoded through the Schema Registry, by subject.",
		}, []string{"subject"}),
		Invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_schema_invalid_total",
			Help: "Record values and keys that did not fit their schema, by subject; their messages were dead-lettered (kind schema_invalid).",
		}, []string{"subject"}),
		RegistryErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_schema_registry_errors_total",
			Help: "Failed attempts to resolve a schema at the Schema Registry; the routes using it hold their messages meanwhile.",
		}),
	}
	unrouted := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tributary_messages_unrouted_total",
		Help: "Messages that matched no route; they are acknowledged without a record.",
	}, func() float64 { return float64(m.unroutedCount.Load()) })
	for q := range m.receivedByQoS {
		m.receivedByQoS[q] = m.received.WithLabelValues(string(rune('0' + q)))
	}
	reg.MustRegister(m.received, unrouted, m.inFlight, m.inFlightBytes, m.mqttConnected, m.mqttConnects,
		m.mqttConnErrors, m.copiesDropped, m.kafkaErrors, m.produceLatency, m.deliveryLatency, m.kafkaUp,
		m.schemas.Encoded, m.schemas.Invalid, m.schemas.RegistryErrors, routeCollector{m})
	return m
}

// route returns the counters of a tenant's named route, creating them on first use.
func (m *metrics) route(tenant, name string) *routeCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := tenant + "/" + name
	c, ok := m.routes[key]
	if !ok {
		c = &routeCounters{tenant: tenant, name: name}
		m.routes[key] = c
	}
	return c
}

func (m *metrics) snapshot() []*routeCounters {
	m.mu.Lock()
	out := make([]*routeCounters, 0, len(m.routes))
	for _, c := range m.routes {
		out = append(out, c)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].tenant != out[j].tenant {
			return out[i].tenant < out[j].tenant
		}
		return out[i].name < out[j].name
	})
	return out
}

var (
	descRouteIn = prometheus.NewDesc("tributary_route_messages_in_total",
		"Messages that entered a route.", []string{"tenant", "route"}, nil)
	descRouteOut = prometheus.NewDesc("tributary_route_records_out_total",
		"Records of a route acknowledged by Kafka.", []string{"tenant", "route"}, nil)
	descRouteFiltered = prometheus.NewDesc("tributary_route_messages_filtered_total",
		"Messages a route's plugin chain filtered out.", []string{"tenant", "route"}, nil)
	descRouteDead = prometheus.NewDesc("tributary_route_dead_letters_total",
		"Dead-letter records of a route acknowledged by Kafka, by error kind.", []string{"tenant", "route", "kind"}, nil)
	descRouteStalled = prometheus.NewDesc("tributary_route_stalled",
		"1 while a route has records waiting for Kafka and none has been acknowledged for longer than kafka.stall_timeout; 0 otherwise.",
		[]string{"tenant", "route"}, nil)
)

// routeCollector exports routeCounters at scrape time.
type routeCollector struct{ m *metrics }

func (c routeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRouteIn
	ch <- descRouteOut
	ch <- descRouteFiltered
	ch <- descRouteDead
	ch <- descRouteStalled
}

func (c routeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.m.snapshot() {
		ch <- prometheus.MustNewConstMetric(descRouteIn, prometheus.CounterValue, float64(r.in.Load()), r.tenant, r.name)
		ch <- prometheus.MustNewConstMetric(descRouteOut, prometheus.CounterValue, float64(r.out.Load()), r.tenant, r.name)
		ch <- prometheus.MustNewConstMetric(descRouteFiltered, prometheus.CounterValue, float64(r.filtered.Load()), r.tenant, r.name)
		stalled, _, _ := r.progress.Stalled(c.m.stallTimeout)
		ch <- prometheus.MustNewConstMetric(descRouteStalled, prometheus.GaugeValue, float64(b2i(stalled)), r.tenant, r.name)
		r.byKind.Range(func(k, v any) bool {
			ch <- prometheus.MustNewConstMetric(descRouteDead, prometheus.CounterValue,
				float64(v.(*atomic.Uint64).Load()), r.tenant, r.name, k.(string))
			return true
		})
	}
}

// Stats is a point-in-time view of the gateway's counters, for embedding and the dev view.
type Stats struct {
	// MQTTConnected is true while every MQTT session (one per tenant) is up.
	MQTTConnected bool `json:"mqtt_connected"`
	// KafkaUp is true while the last Kafka ping succeeded.
	KafkaUp bool `json:"kafka_up"`
	// InFlight counts messages received and not yet acknowledged.
	InFlight int `json:"in_flight"`
	// InFlightBytes is what those messages count against flow.max_in_flight_bytes.
	InFlightBytes int64 `json:"in_flight_bytes"`
	// Unrouted counts messages that matched no route.
	Unrouted uint64 `json:"unrouted"`
	// Routes holds one entry per route ever configured, sorted by tenant and name.
	Routes []RouteStats `json:"routes"`
	// LastReload is the outcome of the last reload, nil before the first.
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
	// Tenants is every tenant's state, "" being the top-level routes: serving, held (does
	// not load, not subscribed) or stale (serving its previous version).
	Tenants []TenantStatus `json:"tenants"`
	// ReverseRoutes holds one entry per reverse route in force (Kafka → MQTT), sorted by
	// tenant and name.
	ReverseRoutes []ReverseRouteStats `json:"reverse_routes"`
}

// RouteStats counts one route's messages since the gateway started.
type RouteStats struct {
	// Tenant owns the route; "" for top-level routes.
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	// Active is false for a route a reload removed (its counters remain).
	Active bool `json:"active"`
	// In counts messages that entered the route.
	In uint64 `json:"in"`
	// Out counts records acknowledged by Kafka.
	Out uint64 `json:"out"`
	// Filtered counts messages the chain dropped on purpose.
	Filtered uint64 `json:"filtered"`
	// DeadLettered counts dead-letter records acknowledged by Kafka.
	DeadLettered uint64 `json:"dead_lettered"`
	// Plugins are the stages of the route's chain in force, with the versions serving.
	Plugins []PluginReport `json:"stages,omitempty"`
	// Stalled is true while the route has records waiting for Kafka and none has been
	// acknowledged for longer than kafka.stall_timeout.
	Stalled bool `json:"stalled"`
	// RecordsOutstanding counts the route's records handed to Kafka (or waiting for a retry)
	// and not yet acknowledged.
	RecordsOutstanding int64 `json:"records_outstanding"`
	// SinceLastAckSeconds is how long the route has had records outstanding without an
	// acknowledgement; 0 when none are outstanding.
	SinceLastAckSeconds float64 `json:"since_last_ack_seconds,omitempty"`
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
