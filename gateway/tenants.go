package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
)

// Tenant states, as Stats and /api/v1/status report them.
const (
	// TenantServing: the tenant's routes are the ones its configuration and plugin files ask
	// for.
	TenantServing = "serving"
	// TenantHeld: the tenant's configuration or plugins could not be loaded and it never
	// served them: it has no MQTT session, so the broker keeps its messages (for
	// mqtt.session_expiry). Every reload tries it again.
	TenantHeld = "held"
	// TenantStale: the tenant serves the routes it had, because its last change could not be
	// loaded. Every reload tries the change again.
	TenantStale = "stale"
)

// TenantStatus is one tenant's state. The operator's top-level routes are the tenant "".
type TenantStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Error says why the tenant is held or stale: the first problem names the file, key,
	// route, stage or plugin.
	Error string `json:"error,omitempty"`
	// Since is when the tenant entered its state.
	Since time.Time `json:"since"`
}

// tenantSlot is the gateway's place for one flow (the operator's top-level routes, "", or a
// tenant) across reloads: the lock that serialises building and swapping that flow, the
// specification last asked for, and whether it loaded.
//
// Each flow is built under its own slot's lock, never under another's, so a tenant whose
// plugins take long to compile or start (up to the compile budget and call_timeout) delays
// only its own changes: another tenant's upload builds and swaps its own flow meanwhile.
type tenantSlot struct {
	name string

	mu   sync.Mutex // held while building and swapping this flow
	spec *flowSpec  // what the last reload asked for; nil for a tenant whose tenant.yaml does not load

	// stateMu guards state, err and since. It is held only to copy or set them, never
	// while building, so status reads do not wait for a build.
	stateMu sync.Mutex
	state   string
	err     error
	since   time.Time
}

// tenantSet holds the slots and the tributary_tenant_degraded gauge.
type tenantSet struct {
	mu       sync.Mutex
	slots    map[string]*tenantSlot
	degraded *prometheus.GaugeVec
}

func newTenantSet(reg prometheus.Registerer) *tenantSet {
	s := &tenantSet{
		slots: map[string]*tenantSlot{},
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_tenant_degraded",
			Help: "1 while a tenant (\"\" for the top-level routes) is held (its configuration or plugins do not load; not subscribed) or stale (serving its previous version because a change does not load), else 0.",
		}, []string{"tenant", "state"}),
	}
	reg.MustRegister(s.degraded)
	return s
}

// slot returns the slot of name, creating it.
func (s *tenantSet) slot(name string) *tenantSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[name]
	if sl == nil {
		sl = &tenantSlot{name: name}
		s.slots[name] = sl
	}
	return sl
}

// lookup returns the slot of name, or nil.
func (s *tenantSet) lookup(name string) *tenantSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[name]
}

// drop forgets a tenant a reload removed.
func (s *tenantSet) drop(name string) {
	s.mu.Lock()
	delete(s.slots, name)
	s.mu.Unlock()
	s.degraded.DeletePartialMatch(prometheus.Labels{"tenant": name})
}

// names returns the slots' names.
func (s *tenantSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.slots))
	for n := range s.slots {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// setState records sl's state (sl.stateMu held) and updates the gauge.
func (s *tenantSet) setState(sl *tenantSlot, state string, err error, now time.Time) {
	if sl.state != state || (err == nil) != (sl.err == nil) {
		sl.since = now
	}
	sl.state, sl.err = state, err
	for _, st := range []string{TenantHeld, TenantStale} {
		v := 0.0
		if st == state {
			v = 1
		}
		s.degraded.WithLabelValues(sl.name, st).Set(v)
	}
}

// statuses returns every tenant's state, sorted by name.
func (s *tenantSet) statuses() []TenantStatus {
	s.mu.Lock()
	slots := make([]*tenantSlot, 0, len(s.slots))
	for _, sl := range s.slots {
		slots = append(slots, sl)
	}
	s.mu.Unlock()
	out := make([]TenantStatus, 0, len(slots))
	for _, sl := range slots {
		out = append(out, sl.status())
	}
	slices.SortFunc(out, func(a, b TenantStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// status reads sl's state.
func (sl *tenantSlot) status() TenantStatus {
	sl.stateMu.Lock()
	defer sl.stateMu.Unlock()
	st := TenantStatus{Name: sl.name, State: sl.state, Since: sl.since}
	if sl.err != nil {
		st.Error = sl.err.Error()
	}
	return st
}

// applyFlow builds the flow of spec (nil: the spec last asked for in the slot of name, for an
// upload that re-reads that tenant's plugin files) beside the running one and swaps it in, all
// under the tenant's own lock. On failure a running flow keeps serving its routes (stale) and a
// tenant that was not running stays held: it has no MQTT session. st, when set, collects what
// changed. It returns the failure, naming the tenant.
func (g *Gateway) applyFlow(ctx context.Context, sl *tenantSlot, spec *flowSpec, st *ReloadStatus) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	name := sl.name
	if spec == nil {
		if g.tenants.lookup(name) != sl {
			return fmt.Errorf("tenant %q not found", name)
		}
		spec = sl.spec
		if spec == nil {
			return fmt.Errorf("tenant %s: its tenant.yaml does not load; fix it first", name)
		}
	}
	sl.spec = spec
	f := g.flowOf(name)
	if len(spec.routes) == 0 {
		g.reverseOnly(ctx, sl, f, st)
		return nil
	}
	old := newRouteTable(nil)
	if f != nil {
		old = f.table.Load()
	}
	next, built, err := g.buildTable(ctx, spec, old)
	if err == nil && g.stopping.Load() {
		closeChains(ctx, built)
		err = errors.New("the gateway is stopping")
	}
	if err != nil {
		g.setTenantState(sl, f != nil, err)
		return err
	}
	for _, r := range built {
		if st != nil {
			st.Changed = append(st.Changed, qualified(r.Tenant, r.Name))
			st.Serving = append(st.Serving, r.plugins...)
		}
	}
	g.setTenantState(sl, true, nil)
	if f == nil {
		f = g.newFlow(spec, next)
		g.flowsMu.Lock()
		flows := maps.Clone(g.flows)
		flows[name] = f
		g.flows = flows
		runCtx := g.runCtx
		g.flowsMu.Unlock()
		if st != nil {
			st.TenantsAdded = append(st.TenantsAdded, name)
		}
		if runCtx != nil {
			if err := f.Start(runCtx); err != nil {
				f.log.Error("tenant's mqtt session did not start", slog.String("error", err.Error()))
			}
		}
		return nil
	}
	f.swap(next) // waits for callbacks between matching and handing over
	f.SetRateLimit(rateLimit(spec.tenant))
	f.Source().Resubscribe(ctx, old.flow.Subscriptions(), next.flow.Subscriptions())
	for _, r := range old.routes {
		if !slices.Contains(next.routes, r) {
			if st != nil && !slices.ContainsFunc(next.routes, func(n *route) bool { return n.Name == r.Name }) {
				st.Removed = append(st.Removed, qualified(r.Tenant, r.Name))
			}
			g.retire(r)
		}
	}
	return nil
}

// reverseOnly serves sl, a tenant with reverse routes only (applyFlow, its lock held): it has
// no forward flow, as an MQTT session subscribing to nothing would be one more connection
// for nothing. A flow it had (a reload removed its last route) drains and stops as a removed
// tenant's does. Its reverse routes are applyReverse's.
func (g *Gateway) reverseOnly(ctx context.Context, sl *tenantSlot, f *tenantFlow, st *ReloadStatus) {
	was := sl.status().State
	g.setTenantState(sl, true, nil)
	if f == nil {
		if st != nil && was != TenantServing && was != TenantStale {
			st.TenantsAdded = append(st.TenantsAdded, sl.name)
		}
		return
	}
	g.flowsMu.Lock()
	flows := maps.Clone(g.flows)
	delete(flows, sl.name)
	g.flows = flows
	g.flowsMu.Unlock()
	routes := f.table.Load().routes
	if st != nil {
		for _, r := range routes {
			st.Removed = append(st.Removed, qualified(r.Tenant, r.Name))
		}
	}
	if f.Started() {
		g.reload.retiring.Go(func() { g.removeFlow(f) })
	} else {
		closeChains(ctx, routes)
	}
}

// holdBroken records a folder tenant whose tenant.yaml does not load: a running one goes on
// serving its routes (stale), any other is held.
func (g *Gateway) holdBroken(b config.BrokenTenant) error {
	sl := g.tenants.slot(b.Name)
	err := fmt.Errorf("tenant %s: %w", b.Name, b.Err)
	g.setTenantState(sl, g.flowOf(b.Name) != nil, err)
	return err
}

// setTenantState sets sl's state from whether it serves and the last error, logging a change.
func (g *Gateway) setTenantState(sl *tenantSlot, serving bool, err error) {
	state := TenantServing
	switch {
	case err != nil && serving:
		state = TenantStale
	case err != nil:
		state = TenantHeld
	}
	sl.stateMu.Lock()
	was := sl.state
	g.tenants.setState(sl, state, err, g.now())
	sl.stateMu.Unlock()
	log := g.log
	if sl.name != "" {
		log = log.With(slog.String("tenant", sl.name))
	}
	switch {
	case state == TenantHeld:
		log.Error("tenant held: its configuration or plugins do not load; not subscribed, the broker keeps its messages; retried on the next reload",
			slog.String("error", err.Error()))
	case state == TenantStale:
		log.Error("tenant keeps serving its previous routes: the change does not load; retried on the next reload",
			slog.String("error", err.Error()))
	case was == TenantHeld || was == TenantStale:
		log.Info("tenant serving again")
	}
}

// flowOf returns the running flow of name, or nil.
func (g *Gateway) flowOf(name string) *tenantFlow {
	g.flowsMu.RLock()
	defer g.flowsMu.RUnlock()
	return g.flows[name]
}

// ReloadTenant builds one tenant's routes and reverse routes again from the configuration in force, re-reading
// its plugin files, and swaps them in ("" names the top-level routes). Other tenants are not
// touched and their failures never show here. It is what a plugin upload, rollback or delete
// applies. It returns the tenant's error, or nil when it serves the new version.
func (g *Gateway) ReloadTenant(ctx context.Context, name string) error {
	if g.stopping.Load() {
		return errors.New("reload rejected: the gateway is stopping")
	}
	cfg := g.current.Load()
	sl := g.tenants.lookup(name)
	if sl == nil && (name != "" || len(cfg.ReverseRoutes) == 0) {
		return fmt.Errorf("tenant %q not found", name)
	}
	ctx, cancel := g.reloadContext(ctx)
	defer cancel()
	st := &ReloadStatus{}
	var err error
	if sl != nil {
		err = g.applyFlow(ctx, sl, nil, st)
	}
	// Its reverse routes read the same plugin files.
	err = errors.Join(err, g.reverseFailed(g.applyReverse(ctx, cfg, st, &name)))
	if err == nil && len(st.Changed) > 0 {
		g.log.Info("tenant reloaded: its plugin files changed", slog.String("tenant", name), slog.Any("changed", st.Changed), st.servingAttr())
	}
	return err
}

// TenantStatuses returns every tenant's state ("" is the top-level routes), sorted by name.
func (g *Gateway) TenantStatuses() []TenantStatus { return g.tenants.statuses() }

// degradedDetail describes held and stale tenants for /readyz, or "".
func (g *Gateway) degradedDetail() []string {
	var out []string
	for _, st := range g.tenants.statuses() {
		if st.State == TenantServing || st.State == "" {
			continue
		}
		name := st.Name
		if name == "" {
			name = "(top-level routes)"
		}
		out = append(out, fmt.Sprintf("tenant %s %s since %s: %s", name, st.State, st.Since.UTC().Format(time.RFC3339), st.Error))
	}
	return out
}
