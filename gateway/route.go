package gateway

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
	"github.com/tributary-gw/tributary/wasmhost"
)

// route is one compiled, immutable route. A reload replaces routes whole; nothing edits one
// in place.
type route struct {
	tenant   string // "" for top-level routes
	name     string
	filters  []mqtttopic.Filter
	qos      byte
	sink     *kafkasink.Route // the route's Kafka mapping: topic, key, envelope, dead letters
	counters *routeCounters
	chain    *wasmhost.Chain // nil when the route has no plugins
	plugins  []PluginReport  // the chain's stages as built
	conf     config.Route    // what the route was built from, to spot changes on reload
	limits   config.Plugins  // the plugin settings its chain was built with
	// active counts messages matched to this route whose chain work is not finished; a route
	// replaced by a reload closes its chain when it reaches zero.
	active work
}

// buildRoute compiles a validated route configuration of tenant t (nil for a top-level route).
func buildRoute(rc config.Route, t *config.Tenant, m *metrics) (*route, error) {
	var tenant string
	if t != nil {
		tenant = t.Name
	}
	r := &route{
		tenant:   tenant,
		name:     rc.Name,
		qos:      byte(rc.QoS),
		counters: m.route(tenant, rc.Name),
		conf:     rc,
	}
	r.active.idle = make(chan struct{})
	for i, f := range rc.From {
		flt, err := mqtttopic.ParseFilter(f)
		if err != nil {
			return nil, fmt.Errorf("route %q: from[%d]: %w", rc.Name, i, err)
		}
		r.filters = append(r.filters, flt)
	}
	var err error
	if r.sink, err = kafkasink.NewRoute(rc, t, r.counters, &r.counters.progress); err != nil {
		return nil, err
	}
	return r, nil
}

// matches reports whether any of the route's filters matches topic.
func (r *route) matches(topic string) bool {
	for i := range r.filters {
		if r.filters[i].Match(topic) {
			return true
		}
	}
	return false
}

// routeTable is the set of routes in force. It is immutable and swapped whole through an
// atomic pointer.
type routeTable struct {
	routes []*route
}

// match appends the routes whose filters match topic to dst.
func (t *routeTable) match(topic string, dst []*route) []*route {
	for _, r := range t.routes {
		if r.matches(topic) {
			dst = append(dst, r)
		}
	}
	return dst
}

// subscriptions returns the union of the routes' filters, sorted for stable SUBSCRIBE packets.
func (t *routeTable) subscriptions() []mqttsource.Subscription {
	byFilter := make(map[string]byte)
	for _, r := range t.routes {
		for _, f := range r.filters {
			if q, ok := byFilter[f.String()]; !ok || r.qos > q {
				byFilter[f.String()] = r.qos
			}
		}
	}
	subs := make([]mqttsource.Subscription, 0, len(byFilter))
	for f, q := range byFilter {
		subs = append(subs, mqttsource.Subscription{Filter: f, QoS: q})
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Filter < subs[j].Filter })
	return subs
}

// work counts a route's messages whose chain work is not finished, and tells a reload that
// retired the route when none is left, without polling: the route is out of the route table
// by then (the swap waited for every hand-over), so the count only goes down.
type work struct {
	n       atomic.Int64
	retired atomic.Bool
	once    sync.Once
	idle    chan struct{} // closed once the route is retired and n is zero
}

// Add adds d (negative when work finishes) to the count.
func (w *work) Add(d int64) {
	if w.n.Add(d) == 0 && w.retired.Load() {
		w.once.Do(func() { close(w.idle) })
	}
}

// retire returns a channel closed when the count is zero: at once if it already is, else
// when the last message still in the route's chain finishes.
func (w *work) retire() <-chan struct{} {
	w.retired.Store(true)
	if w.n.Load() == 0 {
		w.once.Do(func() { close(w.idle) })
	}
	return w.idle
}
