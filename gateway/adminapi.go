package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-gw/tributary/gateway/admin"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Limits of the admin endpoint's HTTP server and requests (README, "Admin API").
const (
	// adminRequestTimeout bounds one /api/v1 request from its handler's start: reading the
	// body, compiling, waiting for the folder's change lock, reloading.
	adminRequestTimeout = admin.DefaultRequestTimeout
	// adminReadHeaderTimeout bounds reading a request's header.
	adminReadHeaderTimeout = 10 * time.Second
	// adminReadTimeout bounds reading a whole request, a 32 MiB module included (at
	// about 550 KiB/s or faster).
	adminReadTimeout = adminRequestTimeout
	// adminWriteTimeout bounds a request from the end of its header to the end of its
	// answer: longer than adminRequestTimeout, so that a 503 "gave up" can still be sent.
	adminWriteTimeout = adminRequestTimeout + 15*time.Second
	// adminIdleTimeout closes a kept-alive connection idle this long.
	adminIdleTimeout = 2 * time.Minute
	// adminMaxHeaderBytes bounds a request's header.
	adminMaxHeaderBytes = 64 << 10
)

// adminAuth returns the bearer tokens of cfg as it was loaded: the operator's and each
// tenant's. The admin handler reads the token files afresh instead (see adminHandler.auth).
func adminAuth(cfg *config.Config) admin.Auth {
	a := admin.Auth{Operator: cfg.Admin.Token.Value(), Tenants: map[string]string{}}
	for _, t := range cfg.AllTenants() {
		if t.AdminToken != "" {
			a.Tenants[t.Name] = t.AdminToken.Value()
		}
	}
	return a
}

// adminHandler serves the admin endpoint. Its handler is rebuilt on every successful reload,
// so tokens of tenants added or changed take effect at once, and whenever a token file
// changes (see watchTokens), whether or not a reload succeeds.
type adminHandler struct {
	g *Gateway
	h atomic.Pointer[http.Handler]

	mu        sync.Mutex        // serialises building the handler
	cfg       *config.Config    // the configuration the handler is built for
	tokenErrs map[string]string // token file -> the error last logged for it
	refresh   chan struct{}     // asks watchTokens to read the token files again
	turns     chan struct{}     // admin.Options.ModuleTurns, one bound across rebuilds
	built     admin.Auth        // the tokens of the handler in force
}

func (a *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*a.h.Load()).ServeHTTP(w, r)
}

// rebuild makes a handler for cfg, reading its token files afresh, and has watchTokens
// watch the files cfg names.
func (a *adminHandler) rebuild(cfg *config.Config) {
	a.mu.Lock()
	if a.refresh == nil { // the first call, from New, before watchTokens runs
		a.refresh = make(chan struct{}, 1)
		a.turns = make(chan struct{}, admin.DefaultMaxModuleRequests)
	}
	a.cfg = cfg
	a.buildLocked(a.auth(cfg))
	a.mu.Unlock()
	a.refreshTokens()
}

// refreshTokens asks watchTokens to read the token files again (and watch the folders the
// configuration in force names). It returns at once.
func (a *adminHandler) refreshTokens() {
	select {
	case a.refresh <- struct{}{}:
	default: // one is pending already
	}
}

// rereadTokens rebuilds the handler from the configuration in force with the token files as
// they are now.
func (a *adminHandler) rereadTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if au := a.auth(a.cfg); !sameAuth(au, a.built) {
		a.buildLocked(au)
		a.g.log.Info("admin tokens changed: token files read again")
	}
}

// sameAuth reports whether x and y hold the same tokens.
func sameAuth(x, y admin.Auth) bool {
	return x.Operator == y.Operator && x.OperatorUnavailable == y.OperatorUnavailable && maps.Equal(x.Tenants, y.Tenants)
}

// buildLocked makes the handler for a.cfg with tokens au. a.mu must be held.
func (a *adminHandler) buildLocked(au admin.Auth) {
	a.built = au
	g, cfg := a.g, a.cfg
	h := admin.Handler(admin.Options{
		Gatherer:       g.registry,
		ProtectMetrics: cfg.Admin.ProtectMetrics,
		Ready:          g.readiness,
		Detail:         g.degradedDetail,
		Status:         func() any { return g.Stats() },
		Auth:           au,
		Backend:        adminBackend{g},
		Log:            g.log,
		RequestTimeout: adminRequestTimeout,
		ModuleTurns:    a.turns,
	})
	a.h.Store(&h)
}

// adminBackend implements admin.Backend over a running gateway.
type adminBackend struct{ g *Gateway }

var _ admin.Backend = adminBackend{}

// Tenants implements admin.Backend: the top level and every tenant of the configuration in
// force, with route counters and the plugin files of each plugin folder.
func (b adminBackend) Tenants() []admin.TenantInfo {
	g := b.g
	cfg := g.current.Load()
	stats := g.Stats()
	// By tenant and name: a scan of every route's stats for each route is quadratic, seconds
	// for each call at ten thousand routes.
	type routeKey struct{ tenant, name string }
	byRoute := make(map[routeKey]*RouteStats, len(stats.Routes))
	for i := range stats.Routes {
		byRoute[routeKey{stats.Routes[i].Tenant, stats.Routes[i].Name}] = &stats.Routes[i]
	}
	info := func(tenant string, routes []config.Route, dir string) admin.TenantInfo {
		ti := admin.TenantInfo{Name: tenant, Routes: []admin.RouteInfo{}, Plugins: []admin.PluginInfo{}}
		for _, rc := range routes {
			ri := admin.RouteInfo{Name: rc.Name, From: rc.From, To: rc.To.Topic, DeadLetter: rc.DeadLetter}
			if rs := byRoute[routeKey{tenant, rc.Name}]; rs != nil {
				ri.Active, ri.In, ri.Out, ri.Filtered, ri.DeadLettered = rs.Active, rs.In, rs.Out, rs.Filtered, rs.DeadLettered
				for _, p := range rs.Plugins {
					ri.Stages = append(ri.Stages, admin.StageInfo{Plugin: p.Plugin, Version: p.Version})
				}
			}
			ti.Routes = append(ti.Routes, ri)
		}
		if st, err := b.g.stores.get(dir, false); err == nil {
			list, _ := st.List()
			for _, p := range list {
				ti.Plugins = append(ti.Plugins, admin.PluginInfo{Name: p.Name, Version: p.Hash, Size: p.Size,
					Modified: p.ModTime, Previous: p.Previous})
			}
		}
		return ti
	}
	out := []admin.TenantInfo{info("", cfg.Routes, cfg.Plugins.Dir)}
	for _, t := range cfg.AllTenants() {
		out = append(out, info(t.Name, t.Routes, t.Dir))
	}
	return out
}

// LastReload implements admin.Backend.
func (b adminBackend) LastReload() any {
	if st := b.g.reload.last.Load(); st != nil {
		return st
	}
	return nil
}

// store returns the plugin store of tenant's folder ("" for plugins.dir), creating the
// folder.
func (b adminBackend) store(tenant string) (*folderStore, error) {
	cfg := b.g.current.Load()
	dir := cfg.Plugins.Dir
	if tenant != "" {
		t := cfg.Tenant(tenant)
		if t == nil {
			return nil, admin.NotFound(fmt.Errorf("tenant %q not found", tenant))
		}
		dir = t.Dir
	}
	return b.g.stores.get(dir, true)
}

// compile compiles and checks wasm as plugin name of tenant on the gateway's host, with the
// tenant's module limits. The caller closes the Plugin.
func (b adminBackend) compile(ctx context.Context, tenant, name string, wasm []byte) (*wasmhost.Plugin, error) {
	host, err := b.g.pluginHost(ctx)
	if err != nil {
		return nil, err
	}
	p, err := host.CompileWithLimits(ctx, name, wasm, b.moduleLimits(tenant))
	if err != nil {
		if ctx.Err() != nil {
			return nil, admin.Unavailable(err)
		}
		return nil, admin.Invalid(err)
	}
	return p, nil
}

// moduleLimits returns what tenant's modules may declare ("" for the top level).
func (b adminBackend) moduleLimits(tenant string) wasmhost.ModuleLimits {
	cfg := b.g.current.Load()
	for _, spec := range flowSpecs(cfg) {
		if spec.name == tenant {
			return ModuleLimits(spec.plugins.Limits)
		}
	}
	return ModuleLimits(cfg.Plugins.Limits)
}

// PutPlugin implements admin.Backend: compile and check, then, holding the folder's change
// lock, store (the replaced file becomes the previous version) and apply the tenant. When the
// tenant's new version does not load (the plugin's init refuses a route's config, say) the
// folder is restored exactly as it was and the error says why. See change.
func (b adminBackend) PutPlugin(ctx context.Context, tenant, name string, wasm []byte) (admin.PluginVersion, error) {
	p, err := b.compile(ctx, tenant, name, wasm)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	defer p.Close() // held until applied: the reload finds the compiled module by its hash
	return b.change(ctx, tenant, name, "upload", func(st *folderStore) (pluginstore.Version, error) {
		return st.Put(name, wasm)
	})
}

// RollbackPlugin implements admin.Backend: the previous file comes back and is applied; when
// the tenant does not load it, the rollback is undone. See change.
func (b adminBackend) RollbackPlugin(ctx context.Context, tenant, name string) (admin.PluginVersion, error) {
	return b.change(ctx, tenant, name, "rollback", func(st *folderStore) (pluginstore.Version, error) {
		return st.Rollback(name)
	})
}

// change makes one change of plugin name in tenant's folder and applies it, as one step for
// every other upload, rollback and delete of that folder: it holds the folder's change lock
// (waiting for it at most until ctx is done: 503) across snapshot, change, apply and undo.
//
// When applyTenant reports that the tenant's new version did not load, Restore puts back the
// exact bytes that were current before (or removes a file that did not exist) and the
// history as it was, so the version on disk is again the version serving and the refused
// one is not even a previous version. A reload the file watcher starts between the change
// and the undo reads the same folder: it either refuses the same version (nothing changes)
// or, when the version loads there but did not here (a flaky init, our request's time limit
// ran out), applies it for a moment; the undo's own file event reloads the folder again, and
// change itself re-applies the tenant when what serves differs from the disk after the undo.
func (b adminBackend) change(ctx context.Context, tenant, name, what string, do func(*folderStore) (pluginstore.Version, error)) (admin.PluginVersion, error) {
	st, err := b.store(tenant)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	if err := st.lock(ctx); err != nil {
		return admin.PluginVersion{}, err
	}
	defer st.unlock()
	before, err := st.Snapshot(name)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	v, err := do(st)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	if v.Hash == before.Hash {
		return b.version(st, v, nil), nil // nothing changed on disk, nothing to apply
	}
	status, aerr := b.applyTenant(ctx, tenant, name)
	if aerr == nil {
		return b.version(st, v, status), nil
	}
	if uerr := b.undo(ctx, tenant, st, before); uerr != nil {
		return admin.PluginVersion{}, fmt.Errorf("%s of plugin %q not applied (%w), and putting the previous version back failed: %w", what, name, aerr, uerr)
	}
	err = fmt.Errorf("%s of plugin %q not applied, the previous version is back: %w", what, name, aerr)
	if ctx.Err() != nil {
		return admin.PluginVersion{}, admin.Unavailable(err)
	}
	return admin.PluginVersion{}, admin.Invalid(err)
}

// undoApplyTimeout bounds re-applying a tenant after an undo, which runs even when the
// request's context is done.
const undoApplyTimeout = 30 * time.Second

// undo restores plugin before.Name of tenant's folder to before and applies the tenant again:
// that puts back the version a watcher's reload may have applied meanwhile, and clears the
// stale state the refused change left.
func (b adminBackend) undo(ctx context.Context, tenant string, st *folderStore, before pluginstore.State) error {
	if _, err := st.Restore(before); err != nil {
		b.g.log.Error("admin: could not put the previous plugin version back; the running version keeps serving but the folder holds one that did not load",
			slog.String("tenant", tenant), slog.String("plugin", before.Name), slog.String("dir", st.Dir()), slog.String("error", err.Error()))
		return err
	}
	// Apply the restored folder even when what serves matches it: the refused change left
	// the tenant stale, and this rebuilds nothing (the routes are unchanged) but its state.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoApplyTimeout)
	defer cancel()
	if _, err := b.applyTenant(actx, tenant, before.Name); err != nil {
		b.g.log.Error("admin: re-applying the previous plugin version failed", slog.String("tenant", tenant),
			slog.String("plugin", before.Name), slog.String("error", err.Error()))
	}
	return nil
}

// applyTenant applies what is on disk for tenant ("" for the top level) after a change of
// plugin, and returns that tenant's outcome: an error means the tenant's new version did not
// load (the running version keeps serving), and says why for this tenant only. The upload,
// rollback and undo paths call nothing else to apply a change.
//
// A tenant's folder is its own: only that tenant is built again (Gateway.ReloadTenant), under
// its own lock, so other tenants neither wait for it nor show in its errors. plugins.dir is
// shared: every flow whose stages load plugin from there is built again, and the change counts
// as refused when a flow that was serving before does not load it (a flow already held or
// stale for reasons of its own cannot veto the operator's change).
func (b adminBackend) applyTenant(ctx context.Context, tenant, plugin string) (any, error) {
	g := b.g
	if tenant != "" {
		err := g.ReloadTenant(ctx, tenant)
		return b.tenantStatus(tenant), err
	}
	cfg := g.current.Load()
	shared := filepath.Clean(cfg.PluginPath(plugin))
	before := map[string]string{}
	for _, st := range g.TenantStatuses() {
		before[st.Name] = st.State
	}
	var errs []error
	var applied []TenantStatus
	topLevel := false
	for _, spec := range flowSpecs(cfg) {
		topLevel = topLevel || spec.name == ""
		if !specLoads(&spec, plugin, shared) {
			continue
		}
		err := g.ReloadTenant(ctx, spec.name)
		applied = append(applied, b.tenantStatus(spec.name))
		if err != nil && before[spec.name] == TenantServing {
			errs = append(errs, err)
		}
	}
	// Top-level reverse routes without top-level routes have no flow of their own.
	if !topLevel && stagesLoad(cfg.ReverseRoutes, plugin, func(p string) bool { return filepath.Clean(cfg.PluginPath(p)) == shared }) {
		errs = append(errs, g.ReloadTenant(ctx, ""))
	}
	return applied, errors.Join(errs...)
}

// specLoads reports whether a stage of spec's routes or reverse routes loads plugin from file.
func specLoads(spec *flowSpec, plugin, file string) bool {
	from := func(p string) bool { return filepath.Clean(spec.path(p)) == file }
	for _, rc := range spec.routes {
		for _, st := range rc.Chain {
			if st.Plugin == plugin && from(plugin) {
				return true
			}
		}
	}
	return spec.tenant != nil && stagesLoad(spec.tenant.ReverseRoutes, plugin, from)
}

// stagesLoad reports whether a stage of routes runs plugin and from says its file is the one
// changed.
func stagesLoad(routes []config.ReverseRoute, plugin string, from func(string) bool) bool {
	for _, rc := range routes {
		for _, st := range rc.Chain {
			if st.Plugin == plugin && from(plugin) {
				return true
			}
		}
	}
	return false
}

// tenantStatus returns tenant's state as the API reports it after a change.
func (b adminBackend) tenantStatus(tenant string) TenantStatus {
	for _, st := range b.g.TenantStatuses() {
		if st.Name == tenant {
			return st
		}
	}
	return TenantStatus{Name: tenant}
}

// version describes v with the version a rollback would restore.
func (b adminBackend) version(st *folderStore, v pluginstore.Version, status any) admin.PluginVersion {
	pv := admin.PluginVersion{Version: v.Hash, Size: v.Size, Reload: status}
	if p, err := st.Get(v.Name); err == nil && len(p.Previous) > 0 {
		pv.Previous = p.Previous[0]
	}
	return pv
}

// DeletePlugin implements admin.Backend, under the folder's change lock. A plugin a route of
// the configuration in force loads from this folder is refused with a Conflict naming the
// route; any other is only removed from disk, so nothing needs applying.
func (b adminBackend) DeletePlugin(ctx context.Context, tenant, name string) error {
	st, err := b.store(tenant)
	if err != nil {
		return err
	}
	if err := st.lock(ctx); err != nil {
		return err
	}
	defer st.unlock()
	cfg := b.g.current.Load()
	file := filepath.Join(st.Dir(), name+".wasm")
	for _, spec := range flowSpecs(cfg) {
		for _, rc := range spec.routes {
			for _, s := range rc.Chain {
				if s.Plugin == name && sameFile(spec.path(name), file) {
					return admin.Conflict(fmt.Errorf("plugin %q is used by route %q: change the route first", name, qualified(spec.name, rc.Name)))
				}
			}
		}
	}
	return admin.StoreError(st.Delete(name))
}

// sameFile reports whether paths a and b name the same file once made absolute and clean.
func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// Reload implements admin.Backend: from the configuration file when the gateway has one (see
// WithReloadFrom), else the configuration in force with its plugin files read again.
func (b adminBackend) Reload(ctx context.Context) (any, error) {
	g := b.g
	cfg := g.current.Load()
	if g.reloadPath != "" {
		var err error
		if cfg, err = config.Load(g.reloadPath, g.reloadEnv); err != nil {
			g.recordReloadFailure(err)
			return g.reload.last.Load(), admin.Invalid(err)
		}
	}
	if err := g.Reload(ctx, cfg); err != nil {
		return g.reload.last.Load(), admin.Invalid(err)
	}
	return g.reload.last.Load(), nil
}

// ValidateConfig implements admin.Backend: load, check and compile everything, and say what
// a reload could not change live. The YAML stands for the gateway's configuration file:
// its relative paths are resolved against that file's folder, as a reload would.
func (b adminBackend) ValidateConfig(ctx context.Context, yaml []byte) error {
	dir := ""
	if b.g.reloadPath != "" {
		dir = filepath.Dir(b.g.reloadPath)
	}
	cfg, err := config.LoadBytesIn(yaml, dir, b.g.reloadEnv)
	if err != nil {
		return admin.Invalid(err)
	}
	if err := adminAuth(cfg).Validate(); err != nil {
		return admin.Invalid(err)
	}
	if _, err := CheckPlugins(ctx, cfg, b.g.log); err != nil {
		return admin.Invalid(err)
	}
	if err := reloadable(b.g.cfg, cfg); err != nil {
		return admin.Invalid(fmt.Errorf("valid, but a reload would be refused: %w", err))
	}
	return nil
}

// ValidatePlugin implements admin.Backend: compile and check the module against the ABI.
func (b adminBackend) ValidatePlugin(ctx context.Context, tenant string, wasm []byte) (admin.PluginVersion, error) {
	start := time.Now()
	host, err := b.g.pluginHost(ctx)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	// Validate keeps nothing, in memory or on disk: this endpoint may be called any number
	// of times with distinct modules.
	version, err := host.Validate(ctx, "upload", wasm, b.moduleLimits(tenant))
	if err != nil {
		if ctx.Err() != nil {
			return admin.PluginVersion{}, admin.Unavailable(err)
		}
		return admin.PluginVersion{}, admin.Invalid(err)
	}
	b.g.log.Debug("plugin validated", slog.String("version", version), slog.Duration("took", time.Since(start)))
	return admin.PluginVersion{Version: version, Size: int64(len(wasm))}, nil
}

// pluginHost returns the gateway's plugin host, starting it when no route needed one yet.
func (g *Gateway) pluginHost(ctx context.Context) (*wasmhost.Host, error) {
	g.hostMu.Lock()
	defer g.hostMu.Unlock()
	if g.host == nil {
		host, err := wasmhost.NewHost(ctx, hostConfig(g.cfg, g.log, g.pluginMetrics))
		if err != nil {
			return nil, err
		}
		g.host = host
	}
	return g.host, nil
}

// pluginStores keeps one plugin store per plugin folder for the gateway's lifetime, so that
// every admin request on a folder shares its Store and its change lock, and reloads record in
// the same Store the versions they apply (see recordServing).
type pluginStores struct {
	mu sync.Mutex
	m  map[string]*folderStore // by absolute, clean folder path
}

// folderStore is the plugin store of one folder and the lock its changes hold.
type folderStore struct {
	*pluginstore.Store
	turn chan struct{} // capacity 1: held across a change, its apply and its undo
}

// get returns the store of dir, made on first use. With create, a missing folder is made;
// without, it is an error.
func (s *pluginStores) get(dir string, create bool) (*folderStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if create {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.m[abs]; st != nil {
		return st, nil
	}
	st, err := pluginstore.Open(abs)
	if err != nil {
		return nil, err
	}
	if s.m == nil {
		s.m = map[string]*folderStore{}
	}
	fs := &folderStore{Store: st, turn: make(chan struct{}, 1)}
	s.m[abs] = fs
	return fs, nil
}

// lock takes the folder's change lock, or gives up with a 503 error once ctx is done.
func (f *folderStore) lock(ctx context.Context) error {
	select {
	case f.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return admin.Unavailable(fmt.Errorf("busy: another upload, rollback or delete in plugin folder %s was still running; try again (%w)",
			filepath.Base(f.Dir()), ctx.Err()))
	}
}

func (f *folderStore) unlock() { <-f.turn }
