package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tributary-gw/tributary/gateway/admin"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/wasmhost"
)

// adminAuth returns the bearer tokens of cfg: the operator's and each tenant's.
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
// so tokens of tenants added or changed take effect at once.
type adminHandler struct {
	g *Gateway
	h atomic.Pointer[http.Handler]
}

func (a *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*a.h.Load()).ServeHTTP(w, r)
}

// rebuild makes a handler with cfg's tokens.
func (a *adminHandler) rebuild(cfg *config.Config) {
	g := a.g
	h := admin.Handler(admin.Options{
		Gatherer:       g.registry,
		ProtectMetrics: cfg.Admin.ProtectMetrics,
		Ready:          g.readiness,
		Detail:         g.degradedDetail,
		Status:         func() any { return g.Stats() },
		Auth:           adminAuth(cfg),
		Backend:        adminBackend{g},
		Log:            g.log,
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
	info := func(tenant string, routes []config.Route, dir string) admin.TenantInfo {
		ti := admin.TenantInfo{Name: tenant, Routes: []admin.RouteInfo{}, Plugins: []admin.PluginInfo{}}
		for _, rc := range routes {
			ri := admin.RouteInfo{Name: rc.Name, From: rc.From, To: rc.To.Topic, DeadLetter: rc.DeadLetter}
			for _, rs := range stats.Routes {
				if rs.Tenant == tenant && rs.Name == rc.Name {
					ri.Active, ri.In, ri.Out, ri.Filtered, ri.DeadLettered = rs.Active, rs.In, rs.Out, rs.Filtered, rs.DeadLettered
					for _, p := range rs.Plugins {
						ri.Stages = append(ri.Stages, admin.StageInfo{Plugin: p.Plugin, Version: p.Version})
					}
				}
			}
			ti.Routes = append(ti.Routes, ri)
		}
		if st, err := pluginstore.Open(dir); err == nil {
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

// store opens the plugin folder of tenant ("" for plugins.dir), creating it.
func (b adminBackend) store(tenant string) (*pluginstore.Store, error) {
	cfg := b.g.current.Load()
	dir := cfg.Plugins.Dir
	if tenant != "" {
		t := cfg.Tenant(tenant)
		if t == nil {
			return nil, admin.NotFound(fmt.Errorf("tenant %q not found", tenant))
		}
		dir = t.Dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	return pluginstore.Open(dir)
}

// compile compiles and checks wasm as plugin name on the gateway's host.
func (b adminBackend) compile(ctx context.Context, name string, wasm []byte) (*wasmhost.Plugin, error) {
	host, err := b.g.pluginHost(ctx)
	if err != nil {
		return nil, err
	}
	p, err := host.Compile(ctx, name, wasm)
	if err != nil {
		return nil, admin.Invalid(err)
	}
	return p, nil
}

// PutPlugin implements admin.Backend: compile and check, store (the replaced file becomes the
// previous version), then reload. When the reload is rejected (the plugin's init refuses a
// route's config, say) the previous file is put back and the error says why.
func (b adminBackend) PutPlugin(ctx context.Context, tenant, name string, wasm []byte) (admin.PluginVersion, error) {
	if _, err := b.compile(ctx, name, wasm); err != nil {
		return admin.PluginVersion{}, err
	}
	st, err := b.store(tenant)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	cur, gerr := st.Get(name)
	existed := gerr == nil && cur.Hash != ""
	v, err := st.Put(name, wasm)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	status, rerr := b.Reload(ctx)
	if rerr != nil {
		if existed {
			_, _ = st.Rollback(name)
		} else {
			_ = st.Delete(name)
		}
		return admin.PluginVersion{}, admin.Invalid(fmt.Errorf("plugin %q stored but not applied, the previous state is back: %w", name, rerr))
	}
	return b.version(st, v, status), nil
}

// version describes v with the version a rollback would restore.
func (b adminBackend) version(st *pluginstore.Store, v pluginstore.Version, status any) admin.PluginVersion {
	pv := admin.PluginVersion{Version: v.Hash, Size: v.Size, Reload: status}
	if p, err := st.Get(v.Name); err == nil && len(p.Previous) > 0 {
		pv.Previous = p.Previous[0]
	}
	return pv
}

// RollbackPlugin implements admin.Backend: the previous file comes back and is applied; when
// the reload is rejected, the rollback is undone.
func (b adminBackend) RollbackPlugin(ctx context.Context, tenant, name string) (admin.PluginVersion, error) {
	st, err := b.store(tenant)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	v, err := st.Rollback(name)
	if err != nil {
		return admin.PluginVersion{}, admin.StoreError(err)
	}
	status, rerr := b.Reload(ctx)
	if rerr != nil {
		_, _ = st.Rollback(name)
		return admin.PluginVersion{}, admin.Invalid(fmt.Errorf("rollback of plugin %q not applied, the current version stays: %w", name, rerr))
	}
	return b.version(st, v, status), nil
}

// DeletePlugin implements admin.Backend. A plugin a route of the tenant loads from this folder
// is refused with a Conflict naming the route.
func (b adminBackend) DeletePlugin(_ context.Context, tenant, name string) error {
	cfg := b.g.current.Load()
	st, err := b.store(tenant)
	if err != nil {
		return err
	}
	file := filepath.Join(st.Dir(), name+".wasm")
	for _, spec := range flowSpecs(cfg) {
		for _, rc := range spec.routes {
			for _, s := range rc.Chain {
				if s.Plugin == name && filepath.Clean(spec.path(name)) == filepath.Clean(file) {
					return admin.Conflict(fmt.Errorf("plugin %q is used by route %q: change the route first", name, qualified(spec.name, rc.Name)))
				}
			}
		}
	}
	return admin.StoreError(st.Delete(name))
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
// a reload could not change live.
func (b adminBackend) ValidateConfig(ctx context.Context, yaml []byte) error {
	cfg, err := config.LoadBytes(yaml, b.g.reloadEnv)
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
func (b adminBackend) ValidatePlugin(ctx context.Context, _ string, wasm []byte) (admin.PluginVersion, error) {
	start := time.Now()
	p, err := b.compile(ctx, "upload", wasm)
	if err != nil {
		return admin.PluginVersion{}, err
	}
	b.g.log.Debug("plugin validated", slog.String("version", p.Version()), slog.Duration("took", time.Since(start)))
	return admin.PluginVersion{Version: p.Version(), Size: int64(p.Size())}, nil
}

// pluginHost returns the gateway's plugin host, starting it when no route needed one yet.
func (g *Gateway) pluginHost(ctx context.Context) (*wasmhost.Host, error) {
	g.hostMu.Lock()
	defer g.hostMu.Unlock()
	if g.host == nil {
		host, err := wasmhost.NewHost(ctx, wasmhost.HostConfig{
			CacheDir: g.cfg.Plugins.CacheDir, Logger: g.log, Observer: g.pluginMetrics})
		if err != nil {
			return nil, err
		}
		g.host = host
	}
	return g.host, nil
}
