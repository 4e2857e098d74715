package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tributary-gw/tributary/gateway/admin"
	"github.com/tributary-gw/tributary/gateway/config"
)

// Token file watching (see watchTokens).
const (
	// tokenDebounce is how long watchTokens lets a burst of events in a token file's folder
	// settle (a Kubernetes secret update is several renames) before reading the files.
	tokenDebounce = 100 * time.Millisecond
	// tokenPoll is how often the token files are read while a folder holding one cannot be
	// watched (it does not exist yet, or the system's watch limit is reached).
	tokenPoll = time.Second
)

// auth returns the bearer tokens for cfg: each token from a file (admin.token_file, a
// tenant's admin_token_file) read now, the others as cfg holds them. A token file that cannot
// be read, is empty or holds an unacceptable token refuses that principal (fail closed: its
// old token no longer works either) and is logged as an error naming the file, once per
// distinct problem. a.mu must be held.
func (a *adminHandler) auth(cfg *config.Config) admin.Auth {
	au := admin.Auth{Operator: cfg.Admin.Token.Value(), Tenants: map[string]string{}}
	seen := map[string]bool{}
	if f := cfg.Admin.TokenFile; f != "" {
		seen[f] = true
		au.Operator = a.readToken("", "admin.token_file", f)
		au.OperatorUnavailable = au.Operator == ""
	}
	for _, t := range cfg.AllTenants() {
		switch {
		case t.AdminTokenFile != "":
			seen[t.AdminTokenFile] = true
			if tok := a.readToken(t.Name, "admin_token_file", t.AdminTokenFile); tok != "" {
				au.Tenants[t.Name] = tok
			}
		case t.AdminToken != "":
			au.Tenants[t.Name] = t.AdminToken.Value()
		}
	}
	for f := range a.tokenErrs {
		if !seen[f] {
			delete(a.tokenErrs, f)
		}
	}
	return au
}

// readToken reads the token file of tenant ("" for the operator; key names the
// configuration key), or returns "" after logging why not.
func (a *adminHandler) readToken(tenant, key, file string) string {
	who, probe := "operator", admin.Auth{}
	tok, err := config.ReadSecretFile(file)
	if tenant == "" {
		probe.Operator = tok.Value()
	} else {
		who, probe.Tenants = fmt.Sprintf("tenant %q", tenant), map[string]string{tenant: tok.Value()}
	}
	if err == nil {
		// Too short, whitespace: the error names the principal, never the token.
		if err = probe.Validate(); err != nil {
			err = fmt.Errorf("%s: %w", file, err)
		}
	}
	if a.tokenErrs == nil {
		a.tokenErrs = map[string]string{}
	}
	if err != nil {
		if a.tokenErrs[file] != err.Error() {
			a.tokenErrs[file] = err.Error()
			a.g.log.Error("admin token file unusable: the "+who+" token is refused until it is fixed",
				slog.String("key", key), slog.String("file", file), slog.String("error", err.Error()))
		}
		return ""
	}
	if _, failed := a.tokenErrs[file]; failed {
		delete(a.tokenErrs, file)
		a.g.log.Info("admin token file usable again", slog.String("key", key), slog.String("file", file))
	}
	return tok.Value()
}

// tokenFiles returns the token files the configuration in force names.
func (a *adminHandler) tokenFiles() []string {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	var files []string
	if cfg.Admin.TokenFile != "" {
		files = append(files, cfg.Admin.TokenFile)
	}
	for _, t := range cfg.AllTenants() {
		if t.AdminTokenFile != "" {
			files = append(files, t.AdminTokenFile)
		}
	}
	return files
}

// watchTokens rebuilds the admin handler's tokens from the token files whenever one may have
// changed, until ctx is done: on any event in a folder holding a token file or its symlink
// target (editors and Kubernetes secrets replace files by rename or symlink swap, so the
// folder is watched rather than the file), when refreshTokens is called (every reload,
// SIGHUP, TriggerReload), and every tokenPoll while such a folder cannot be watched. It does
// not depend on reloads: a rotated token takes effect while reloads fail.
func (a *adminHandler) watchTokens(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.g.log.Error("cannot watch admin token files; reading them every second instead", slog.String("error", err.Error()))
	}
	watched := &dirWatch{w: w}
	// syncWatches watches the folders of the token files and reports whether all are.
	syncWatches := func() bool {
		want := map[string]bool{}
		for _, f := range a.tokenFiles() {
			if abs, err := filepath.Abs(f); err == nil {
				want[filepath.Dir(abs)] = true
			}
			if real, err := filepath.EvalSymlinks(f); err == nil {
				if abs, err := filepath.Abs(real); err == nil {
					want[filepath.Dir(abs)] = true
				}
			}
		}
		_, failed := watched.sync(want)
		return len(failed) == 0
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	poll := time.NewTicker(tokenPoll)
	defer poll.Stop()
	polling := !syncWatches()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	reread := func() {
		a.rereadTokens()
		polling = !syncWatches()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events, polling = nil, true
				continue
			}
			if watched.dirs[filepath.Dir(ev.Name)] {
				debounce.Reset(tokenDebounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			a.g.log.Warn("admin token file watcher error; reading the token files again", slog.String("error", err.Error()))
			debounce.Reset(tokenDebounce)
		case <-a.refresh:
			reread()
		case <-debounce.C:
			reread()
		case <-poll.C:
			if polling {
				reread()
			}
		}
	}
}
