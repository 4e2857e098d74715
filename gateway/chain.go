package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
	"github.com/tributary-gw/tributary/gateway/pluginstore"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

// InstanceLimits maps a plugins.limits section (or a tenant's limits) to the limits of each
// plugin instance. `tributary plugin test` uses it too, so its flags mean what the keys do.
func InstanceLimits(l config.PluginLimits) wasmhost.Limits {
	return wasmhost.Limits{
		MemoryPages:       uint32(l.MemoryMB) * 16, // 64 KiB pages
		CallTimeout:       l.CallTimeout,
		MaxOutputBytes:    l.MaxOutputBytes,
		MaxFanOut:         l.MaxFanOut,
		RecycleAfterCalls: l.RecycleAfterCalls,
		RecycleAboveBytes: uint64(min(l.RecycleAboveMB, l.MemoryMB)) << 20,
		Trusted:           l.Trusted,
	}
}

// hostConfig is the plugin host's configuration for cfg.
func hostConfig(cfg *config.Config, log *slog.Logger, obs wasmhost.Observer) wasmhost.HostConfig {
	c := cfg.Plugins.Compile
	return wasmhost.HostConfig{
		CacheDir: cfg.Plugins.CacheDir,
		Logger:   log,
		Observer: obs,
		Compile: wasmhost.CompileBudget{
			Timeout:     c.Timeout,
			MemoryBytes: int64(c.MemoryMB) << 20,
			Concurrency: c.Concurrency,
		},
		ModuleLimits: ModuleLimits(cfg.Plugins.Limits),
		// sdk/jsonfield in guests runs natively through these (sdk/ABI.md §2.1).
		Extensions: jsonimports.Functions(),
	}
}

// tenantModuleLimits returns the gateway's module limits with each field the tenant sets
// instead.
func tenantModuleLimits(gw, t config.ModuleLimits) config.ModuleLimits {
	pick := func(g, t int) int {
		if t > 0 {
			return t
		}
		return g
	}
	return config.ModuleLimits{
		MaxModuleMB:      pick(gw.MaxModuleMB, t.MaxModuleMB),
		MaxFunctions:     pick(gw.MaxFunctions, t.MaxFunctions),
		MaxTypes:         pick(gw.MaxTypes, t.MaxTypes),
		MaxNesting:       pick(gw.MaxNesting, t.MaxNesting),
		MaxControlFlow:   pick(gw.MaxControlFlow, t.MaxControlFlow),
		MaxLocals:        pick(gw.MaxLocals, t.MaxLocals),
		MaxModuleLocals:  pick(gw.MaxModuleLocals, t.MaxModuleLocals),
		MaxTableElements: pick(gw.MaxTableElements, t.MaxTableElements),
	}
}

// ModuleLimits maps plugin limits to what a module may declare: the limits.module keys, and
// an initial memory no larger than memory_mb. `tributary plugin test` uses it too.
func ModuleLimits(l config.PluginLimits) wasmhost.ModuleLimits {
	return wasmhost.ModuleLimits{
		MaxModuleBytes:   l.Module.MaxModuleMB << 20,
		MaxFunctions:     l.Module.MaxFunctions,
		MaxTypes:         l.Module.MaxTypes,
		MaxNesting:       l.Module.MaxNesting,
		MaxControlFlow:   uint64(l.Module.MaxControlFlow),
		MaxLocals:        l.Module.MaxLocals,
		MaxModuleLocals:  l.Module.MaxModuleLocals,
		MaxMemoryPages:   uint32(l.MemoryMB) * 16, // 64 KiB pages
		MaxTableElements: uint32(l.Module.MaxTableElements),
	}
}

// PluginReport describes one chain stage as built: what `tributary validate` prints, and a
// stage of a route on /api/v1/status (JSON: tenant, route, stage, plugin, version,
// size_bytes, compile_ms).
type PluginReport struct {
	Tenant      string        `json:"tenant,omitempty"` // "" for top-level routes
	Route       string        `json:"route"`
	Stage       int           `json:"stage"`
	Plugin      string        `json:"plugin"`
	Version     string        `json:"version"`    // hex sha256 of the module, as the plugin store and dead letters name it
	Size        int           `json:"size_bytes"` // bytes of the .wasm file
	CompileTime time.Duration `json:"-"`          // JSON: compile_ms
}

// MarshalJSON encodes the report with its compile time in milliseconds (compile_ms), as the
// admin API gives durations.
func (p PluginReport) MarshalJSON() ([]byte, error) {
	type fields PluginReport // without this method
	return json.Marshal(struct {
		fields
		CompileMs float64 `json:"compile_ms"`
	}{fields(p), float64(p.CompileTime.Microseconds()) / 1000})
}

// Short returns "plugin@version" with the version's first 12 hex digits, as log lines show
// a stage.
func (p PluginReport) Short() string {
	v := p.Version
	if len(v) > 12 {
		v = v[:12]
	}
	return p.Plugin + "@" + v
}

// flowSpec is what one flow's routes are built from: the top-level routes, or one tenant's.
type flowSpec struct {
	tenant  *config.Tenant // nil for the top-level routes
	name    string         // the tenant's name, "" for the top-level routes
	routes  []config.Route
	plugins config.Plugins // plugins settings with the tenant's limits applied
	key     string         // the routes' key in errors: "routes" or "tenants.inline[0] (acme).routes"
	path    func(plugin string) string
}

// flowSpecs splits cfg into flows: the top-level routes (when there are any), then one per
// tenant.
func flowSpecs(cfg *config.Config) []flowSpec {
	var specs []flowSpec
	if len(cfg.Routes) > 0 {
		specs = append(specs, flowSpec{routes: cfg.Routes, plugins: cfg.Plugins, key: "routes", path: cfg.PluginPath})
	}
	tenants := cfg.AllTenants()
	for i := range tenants {
		t := &tenants[i]
		pl := cfg.Plugins
		if t.Limits.MemoryMB > 0 {
			pl.Limits.MemoryMB = t.Limits.MemoryMB
		}
		if t.Limits.CallTimeout > 0 {
			pl.Limits.CallTimeout = t.Limits.CallTimeout
		}
		pl.Limits.Module = tenantModuleLimits(pl.Limits.Module, t.Limits.Module)
		pl.Instances = t.InstancesPerStage(cfg.Plugins.Instances)
		key := "tenant " + t.Name + ": routes"
		specs = append(specs, flowSpec{tenant: t, name: t.Name, routes: t.Routes, plugins: pl, key: key,
			path: func(plugin string) string { return cfg.TenantPluginPath(t, plugin) }})
	}
	return specs
}

// chainBuilder compiles each plugin file once and builds route chains on one Host. It builds
// one flow (the top-level routes or one tenant's): the routes it builds that run the same
// plugin version with the same config share that stage's instances (wasmhost.Pool.Share), as
// they share limits; flows never share instances.
type chainBuilder struct {
	host     *wasmhost.Host
	metrics  *pluginMetrics // nil when nothing observes the plugins
	compiled map[string]*wasmhost.Plugin
	pools    map[string]*wasmhost.Pool // by version and config; handles owned by the chains built
	read     map[string][]byte         // the bytes of each plugin file compiled, by path
	reports  []PluginReport
	poolSize int // 0: each flow's plugins.instances
}

// needsHost reports whether any route has a chain.
func needsHost(cfg *config.Config) bool {
	for _, spec := range flowSpecs(cfg) {
		for _, r := range spec.routes {
			if len(r.Chain) > 0 {
				return true
			}
		}
	}
	return false
}

// build compiles rc's stages and instantiates their pools (fail fast: a plugin whose init
// rejects its config fails here), and returns the chain with a report per stage. It returns a
// nil chain for a route without plugins.
func (b *chainBuilder) build(ctx context.Context, spec *flowSpec, i int, rc config.Route) (*wasmhost.Chain, []PluginReport, error) {
	if len(rc.Chain) == 0 {
		return nil, nil, nil
	}
	var pools []*wasmhost.Pool
	var reports []PluginReport
	fail := func(err error) (*wasmhost.Chain, []PluginReport, error) {
		for _, p := range pools {
			_ = p.Close(ctx)
		}
		return nil, nil, err
	}
	size := b.poolSize
	if size == 0 {
		size = spec.plugins.Instances
	}
	for k, st := range rc.Chain {
		key := fmt.Sprintf("%s[%d] (%s).chain[%d] (%s)", spec.key, i, rc.Name, k, st.Plugin)
		path := spec.path(st.Plugin)
		p, ok := b.compiled[spec.name+"\x00"+path]
		if !ok {
			lim := ModuleLimits(spec.plugins.Limits)
			wasm, err := readPlugin(path, spec.dir(), lim)
			if err != nil {
				return fail(fmt.Errorf("%s: %w", key, err))
			}
			if p, err = b.host.CompileWithLimits(ctx, st.Plugin, wasm, lim); err != nil {
				return fail(fmt.Errorf("%s: %s: %w", key, path, err))
			}
			b.compiled[spec.name+"\x00"+path] = p
			b.metrics.owns(p, spec.name)
			if b.read != nil {
				b.read[path] = wasm
			}
		}
		conf := []byte("{}")
		if st.Config != nil {
			var err error
			if conf, err = json.Marshal(st.Config); err != nil {
				return fail(fmt.Errorf("%s.config: %w", key, err))
			}
		}
		pool, err := b.pool(ctx, spec, p, conf, size)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", key, err))
		}
		pools = append(pools, pool)
		reports = append(reports, PluginReport{Tenant: spec.name, Route: rc.Name, Stage: k, Plugin: p.Name(),
			Version: p.Version(), Size: p.Size(), CompileTime: p.CompileTime()})
	}
	b.reports = append(b.reports, reports...)
	return wasmhost.NewChain(pools), reports, nil
}

// pool returns a handle on the instances of plugin p with conf for one of spec's stages: a
// share of the pool of an earlier stage built with the same version and config, else a new
// pool of up to size instances.
func (b *chainBuilder) pool(ctx context.Context, spec *flowSpec, p *wasmhost.Plugin, conf []byte, size int) (*wasmhost.Pool, error) {
	key := spec.name + "\x00" + p.Version() + "\x00" + string(conf) // never across tenants
	if shared := b.pools[key]; shared != nil {
		if pool, err := shared.Share(); err == nil {
			return pool, nil
		} // its chains were closed (a failed route): start anew
	}
	lim := InstanceLimits(spec.plugins.Limits)
	lim.IdleTimeout = spec.plugins.IdleTimeout
	pool, err := wasmhost.NewPool(ctx, b.host, p, conf, lim, size)
	if err != nil {
		return nil, err
	}
	if b.pools == nil {
		b.pools = map[string]*wasmhost.Pool{}
	}
	b.pools[key] = pool
	return pool, nil
}

// release closes the builder's handles on the plugins it compiled: the pools it made hold
// their own, and a plugin no pool uses is freed now.
func (b *chainBuilder) release() {
	for k, p := range b.compiled {
		b.metrics.disownIfIdle(p)
		_ = p.Close()
		delete(b.compiled, k)
	}
}

// dir returns the tenant's own plugin folder, "" for the top-level routes.
func (s *flowSpec) dir() string {
	if s.tenant == nil {
		return ""
	}
	return s.tenant.Dir
}

// readPlugin reads a plugin file, refusing one larger than lim allows before reading it: a
// tenant's folder may hold anything. A file in the tenant's folder confine ("" for none)
// must stay inside it: a symbolic link to another tenant's plugin or out of the folder is
// refused (regularfile.OpenIn). The operator's plugins.dir is not confined.
func readPlugin(path, confine string, lim wasmhost.ModuleLimits) ([]byte, error) {
	max := int64(lim.WithDefaults().MaxModuleBytes)
	open := regularfile.Open // refuses a named pipe or device without blocking
	if confine != "" && filepath.Dir(path) == filepath.Clean(confine) {
		open = func(path string) (*os.File, fs.FileInfo, error) {
			return regularfile.OpenIn(confine, filepath.Base(path))
		}
	}
	f, fi, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: module of %d bytes, more than limits.module.max_module_mb %d MiB", path, fi.Size(), max>>20)
	}
	wasm, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(wasm)) > max {
		return nil, fmt.Errorf("%s: module of more than limits.module.max_module_mb %d MiB", path, max>>20)
	}
	return wasm, nil
}

// stageVersions returns the version (sha256) of each plugin file rc's chain would load
// (confine as for readPlugin).
func stageVersions(path func(string) string, confine string, lim wasmhost.ModuleLimits, rc config.Route) ([]string, error) {
	vs := make([]string, len(rc.Chain))
	for k, st := range rc.Chain {
		wasm, err := readPlugin(path(st.Plugin), confine, lim)
		if err != nil {
			return nil, err
		}
		vs[k] = pluginstore.Hash(wasm)
	}
	return vs, nil
}

// CheckPlugins compiles every plugin the configuration's routes (top-level and tenants') use
// and starts one instance of each stage with its config, as New would, then releases them.
// It returns what was built, or the first error naming the tenant, route, stage and plugin
// file.
func CheckPlugins(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]PluginReport, error) {
	if !needsHost(cfg) {
		return nil, nil
	}
	host, err := wasmhost.NewHost(ctx, hostConfig(cfg, log, nil))
	if err != nil {
		return nil, err
	}
	defer host.Close(ctx)
	b := &chainBuilder{host: host, compiled: map[string]*wasmhost.Plugin{}, poolSize: 1}
	defer b.release()
	for _, spec := range flowSpecs(cfg) {
		for i, rc := range spec.routes {
			ch, _, err := b.build(ctx, &spec, i, rc)
			if err != nil {
				return nil, err
			}
			if ch != nil {
				_ = ch.Close(ctx)
			}
		}
	}
	return b.reports, nil
}
