package gateway

import (
	"fmt"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/flow"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
)

// route is one compiled, immutable route: the flow.Route the message path runs, plus what the
// gateway built it from. A reload replaces routes whole; nothing edits one in place.
type route struct {
	*flow.Route
	counters *routeCounters
	plugins  []PluginReport // the chain's stages as built
	conf     config.Route   // what the route was built from, to spot changes on reload
	limits   config.Plugins // the plugin settings its chain was built with
}

// buildRoute compiles a validated route configuration of tenant t (nil for a top-level route),
// without its chain.
// A route with a value or key schema encodes through schemas, the gateway's registry client.
func buildRoute(rc config.Route, t *config.Tenant, m *metrics, schemas *schemaenc.Registry) (*route, error) {
	var tenant string
	if t != nil {
		tenant = t.Name
	}
	fr, err := flow.NewRoute(tenant, rc.Name, rc.From, byte(rc.QoS))
	if err != nil {
		return nil, err
	}
	r := &route{Route: fr, counters: m.route(tenant, rc.Name), conf: rc}
	r.In, r.Filtered = &r.counters.in, &r.counters.filtered
	if r.Sink, err = kafkasink.NewRoute(rc, t, r.counters, &r.counters.progress); err != nil {
		return nil, err
	}
	if rc.To.ValueSchema.IsSet() || rc.To.KeySchema.IsSet() {
		if schemas == nil {
			return nil, fmt.Errorf("route %q: to.value_schema/to.key_schema need kafka.schema_registry.url (a restart is needed to set it)", rc.Name)
		}
		r.Sink.UseSchemas(schemas)
	}
	return r, nil
}

// routeTable is a flow's routes as the gateway built them, and the flow.Table of the same
// routes that the flow runs. It is immutable and swapped whole.
type routeTable struct {
	routes []*route
	flow   *flow.Table
}

// newRouteTable returns the table of routes.
func newRouteTable(routes []*route) *routeTable {
	frs := make([]*flow.Route, len(routes))
	for i, r := range routes {
		frs[i] = r.Route
	}
	return &routeTable{routes: routes, flow: flow.NewTable(frs)}
}
