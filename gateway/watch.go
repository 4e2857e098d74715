package gateway

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tributary-gw/tributary/gateway/config"
)

// reloadDebounce is how long the watcher waits for a burst of file events to settle (an editor
// saving, a copy of a large .wasm) before it reloads.
const reloadDebounce = 300 * time.Millisecond

// WithReloadFrom makes Run reload from the configuration file at path (with environ for the
// TRIBUTARY_ overrides) when the file or a .wasm file in plugins.dir changes, and when
// TriggerReload is called. Without it, only Reload changes a running gateway.
func WithReloadFrom(path string, environ []string) Option {
	return optionFunc(func(g *Gateway) {
		g.reloadPath, g.reloadEnv = path, environ
	})
}

// TriggerReload asks the gateway to reload from its configuration file (see WithReloadFrom),
// as SIGHUP does, and to read the admin token files again (which takes effect whether or not
// the reload succeeds). It returns at once; the outcome shows in Stats().LastReload. Without
// WithReloadFrom it only reads the token files.
func (g *Gateway) TriggerReload() {
	if g.adminH != nil {
		g.adminH.refreshTokens()
	}
	select {
	case g.reload.trigger <- struct{}{}:
	default: // one is pending already
	}
}

// watch reloads on file changes and triggers until ctx is done. It watches the configuration
// file's folder, plugins.dir, tenants.dir and every tenant's plugin folder; the set is
// brought up to date after each reload, so a tenant folder dropped in is watched too.
func (g *Gateway) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		g.log.Error("cannot watch files for reload; SIGHUP still reloads", slog.String("error", err.Error()))
	}
	cfgFile, _ := filepath.Abs(g.reloadPath)
	watched := &dirWatch{w: w}
	var tenantsDir string
	// sync watches the folders the configuration in force names and reports whether it
	// added any: a folder that appeared may already hold files the last reload missed.
	syncWatches := func() bool {
		if w == nil {
			return false
		}
		cfg := g.current.Load()
		tenantsDir = ""
		if cfg.Tenants.Dir != "" {
			tenantsDir, _ = filepath.Abs(cfg.Tenants.Dir)
		}
		want := map[string]bool{filepath.Dir(cfgFile): true}
		for _, d := range []string{cfg.Plugins.Dir, cfg.Tenants.Dir} {
			if d != "" {
				abs, _ := filepath.Abs(d)
				want[abs] = true
			}
		}
		for _, t := range cfg.AllTenants() {
			if abs, _ := filepath.Abs(t.Dir); t.Dir != "" && isDir(abs) {
				want[abs] = true
			}
		}
		added, failed := watched.sync(want)
		for d, err := range failed {
			g.log.Warn("cannot watch directory for reload", slog.String("dir", d), slog.String("error", err.Error()))
		}
		for _, d := range added {
			g.log.Debug("watching for changes", slog.String("dir", d))
		}
		return len(added) > 0
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		syncWatches()
		events, errs = w.Events, w.Errors
		g.log.Info("watching for changes", slog.String("config", cfgFile), slog.Int("folders", len(watched.dirs)))
	}
	relevant := func(name string) bool {
		abs, _ := filepath.Abs(name)
		dir := filepath.Dir(abs)
		return abs == cfgFile ||
			(watched.dirs[dir] && strings.HasSuffix(abs, ".wasm")) ||
			filepath.Base(abs) == config.TenantFile ||
			(tenantsDir != "" && dir == tenantsDir) // a tenant folder added or removed
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	reload := func() {
		g.reloadFromFile(ctx)
		if syncWatches() {
			debounce.Reset(reloadDebounce)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if !relevant(ev.Name) {
				continue
			}
			g.log.Debug("file changed", slog.String("file", ev.Name), slog.String("op", ev.Op.String()))
			debounce.Reset(reloadDebounce)
		case err := <-errs:
			g.log.Warn("file watcher error", slog.String("error", err.Error()))
		case <-g.reload.trigger:
			reload()
		case <-debounce.C:
			reload()
		}
	}
}

// dirWatch keeps an fsnotify watcher on a set of folders.
type dirWatch struct {
	w    *fsnotify.Watcher // nil when none could be made: nothing is watched
	dirs map[string]bool   // the folders watched
}

// sync watches every folder of want not watched yet and stops watching the others. It
// returns the folders it added and those it could not watch, with why.
func (d *dirWatch) sync(want map[string]bool) (added []string, failed map[string]error) {
	if d.dirs == nil {
		d.dirs = map[string]bool{}
	}
	for dir := range want {
		if d.dirs[dir] {
			continue
		}
		err := errors.New("no file watcher")
		if d.w != nil {
			err = d.w.Add(dir)
		}
		if err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[dir] = err
			continue
		}
		d.dirs[dir] = true
		added = append(added, dir)
	}
	for dir := range d.dirs {
		if !want[dir] {
			_ = d.w.Remove(dir)
			delete(d.dirs, dir)
		}
	}
	return added, failed
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// reloadFromFile loads the configuration file afresh and applies it.
func (g *Gateway) reloadFromFile(ctx context.Context) {
	cfg, err := config.Load(g.reloadPath, g.reloadEnv)
	if err != nil {
		g.recordReloadFailure(err)
		return
	}
	_ = g.Reload(ctx, cfg) // logs and records its outcome
}

// recordReloadFailure counts and logs a configuration file that did not load.
func (g *Gateway) recordReloadFailure(err error) {
	g.reload.mu.Lock()
	g.reload.failures.Inc()
	g.reload.lastOK.Set(0)
	g.reload.last.Store(&ReloadStatus{At: g.now(), Error: err.Error()})
	g.reload.mu.Unlock()
	g.log.Error("reload rejected: invalid configuration; the running routes keep serving",
		slog.String("config", g.reloadPath), slog.String("error", err.Error()))
}
