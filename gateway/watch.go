package gateway

import (
	"context"
	"log/slog"
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
// as SIGHUP does. It returns at once; the outcome shows in Stats().LastReload. Without
// WithReloadFrom it does nothing.
func (g *Gateway) TriggerReload() {
	select {
	case g.reload.trigger <- struct{}{}:
	default: // one is pending already
	}
}

// watch reloads on file changes and triggers until ctx is done.
func (g *Gateway) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		g.log.Error("cannot watch files for reload; SIGHUP still reloads", slog.String("error", err.Error()))
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		cfgFile, _ := filepath.Abs(g.reloadPath)
		pluginDir, _ := filepath.Abs(g.cfg.Plugins.Dir)
		for _, dir := range []string{filepath.Dir(cfgFile), pluginDir} {
			if err := w.Add(dir); err != nil {
				g.log.Warn("cannot watch directory for reload", slog.String("dir", dir), slog.String("error", err.Error()))
			}
		}
		events, errs = w.Events, w.Errors
		g.log.Info("watching for changes", slog.String("config", cfgFile), slog.String("plugins", pluginDir))
		relevant := func(name string) bool {
			abs, _ := filepath.Abs(name)
			return abs == cfgFile || (filepath.Dir(abs) == pluginDir && strings.HasSuffix(abs, ".wasm"))
		}
		filtered := make(chan fsnotify.Event)
		go func(raw <-chan fsnotify.Event) {
			defer close(filtered)
			for ev := range raw {
				if relevant(ev.Name) {
					select {
					case filtered <- ev:
					case <-ctx.Done():
						return
					}
				}
			}
		}(events)
		events = filtered
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			g.log.Debug("file changed", slog.String("file", ev.Name), slog.String("op", ev.Op.String()))
			debounce.Reset(reloadDebounce)
		case err := <-errs:
			g.log.Warn("file watcher error", slog.String("error", err.Error()))
		case <-g.reload.trigger:
			g.reloadFromFile(ctx)
		case <-debounce.C:
			g.reloadFromFile(ctx)
		}
	}
}

// reloadFromFile loads the configuration file afresh and applies it.
func (g *Gateway) reloadFromFile(ctx context.Context) {
	cfg, err := config.Load(g.reloadPath, g.reloadEnv)
	if err != nil {
		g.reload.mu.Lock()
		g.reload.failures.Inc()
		g.reload.lastOK.Set(0)
		g.reload.last.Store(&ReloadStatus{At: g.now(), Error: err.Error()})
		g.reload.mu.Unlock()
		g.log.Error("reload rejected: invalid configuration; the running routes keep serving",
			slog.String("config", g.reloadPath), slog.String("error", err.Error()))
		return
	}
	_ = g.Reload(ctx, cfg) // logs and records its outcome
}
