package flow

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Route is one compiled route as the flow runs it. Its builder sets the exported fields before
// the route is put in a Table; nothing changes them after, and a reload replaces routes whole.
type Route struct {
	Tenant  string // "" for top-level routes
	Name    string
	Filters []mqtttopic.Filter
	QoS     byte             // the highest QoS the route subscribes with
	Sink    *kafkasink.Route // the route's Kafka mapping: topic, key, envelope, dead letters
	Chain   *wasmhost.Chain  // nil when the route has no plugins
	// In counts messages that entered the route and Filtered those its chain dropped on
	// purpose; both are bumped on the message path and must not be nil.
	In, Filtered *atomic.Uint64

	// active counts messages matched to this route whose chain work is not finished; a route
	// replaced by a reload closes its chain when it reaches zero (see Retire).
	active work
}

// NewRoute returns the route name of tenant matching the MQTT filters from, subscribed at qos.
// The caller sets Sink, Chain, In and Filtered. It fails on a filter that does not parse,
// naming it as `route "name": from[i]: …`.
func NewRoute(tenant, name string, from []string, qos byte) (*Route, error) {
	r := &Route{Tenant: tenant, Name: name, QoS: qos}
	r.active.idle = make(chan struct{})
	for i, f := range from {
		flt, err := mqtttopic.ParseFilter(f)
		if err != nil {
			return nil, fmt.Errorf("route %q: from[%d]: %w", name, i, err)
		}
		r.Filters = append(r.Filters, flt)
	}
	return r, nil
}

// Matches reports whether any of the route's filters matches topic.
func (r *Route) Matches(topic string) bool {
	for i := range r.Filters {
		if r.Filters[i].Match(topic) {
			return true
		}
	}
	return false
}

// Retire marks a route a swap took out of its flow's table and returns a channel closed when
// no message it was matched to is still in its chain: at once if none is. Call it only after
// the swap returned; the route's chain may be closed once the channel is.
func (r *Route) Retire() <-chan struct{} { return r.active.retire() }

// Table is the set of routes in force in a flow. It is immutable; a flow swaps tables whole.
// The zero value is an empty table.
type Table struct {
	routes []*Route
	// index holds every route's filters, each with its route's position in routes, so that
	// matching takes time by the topic's levels, not by the number of routes.
	index *mqtttopic.Index
}

// NewTable returns a table of routes, in order. The table keeps the slice.
func NewTable(routes []*Route) *Table {
	x := mqtttopic.NewIndex()
	for i, r := range routes {
		for _, f := range r.Filters {
			x.Add(f, i)
		}
	}
	return &Table{routes: routes, index: x}
}

// Routes returns the table's routes, in order; the caller must not change the slice.
func (t *Table) Routes() []*Route { return t.routes }

// maxStackMatches is how many matched routes match finds room for without allocating.
const maxStackMatches = 16

// match appends the routes whose filters match topic to dst, in the table's order, once each
// however many of a route's filters match.
func (t *Table) match(topic string, dst []*Route) []*Route {
	if t.index == nil {
		return dst // the zero Table
	}
	var buf [maxStackMatches]int
	for _, i := range t.index.Match(topic, buf[:0]) {
		dst = append(dst, t.routes[i])
	}
	return dst
}

// Subscriptions returns the union of the routes' filters, each at the highest QoS a route asks
// for it, sorted for stable SUBSCRIBE packets.
func (t *Table) Subscriptions() []mqttsource.Subscription {
	byFilter := make(map[string]byte)
	for _, r := range t.routes {
		for _, f := range r.Filters {
			if q, ok := byFilter[f.String()]; !ok || r.QoS > q {
				byFilter[f.String()] = r.QoS
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
