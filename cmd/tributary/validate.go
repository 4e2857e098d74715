package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
)

const validateUsage = `Usage: tributary validate --config FILE

Loads the configuration (file, then TRIBUTARY_* environment overrides), checks every key and
value, compiles every plugin the routes use and starts one instance of each stage with its
config, then prints the effective configuration with secrets redacted, every tenant (inline
and from tenants.dir) with its namespace and limits, and each stage's plugin with its version (sha256 of the .wasm, as stamped on dead letters) and compile time. Every problem in the file
is reported, each naming its key. Exits 1 when the configuration is invalid, or when a tenant
folder's tenant.yaml does not load (a running gateway would hold that tenant alone and serve
the others).

Flags:
  --config FILE   the YAML configuration (required; also TRIBUTARY_CONFIG)
`

func init() {
	commands["validate"] = &command{summary: "check a configuration and print what would run", usage: validateUsage, run: validateCommand}
}

func validateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("validate", validateUsage, args, stdout)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w%s", *path, err, buildHints(*path, err))
	}
	if broken := cfg.BrokenTenants(); len(broken) > 0 {
		errs := make([]error, 0, len(broken))
		for _, b := range broken {
			errs = append(errs, fmt.Errorf("tenant %s (%s): %w", b.Name, b.File, b.Err))
		}
		return fmt.Errorf("%s: %d tenant folder(s) do not load; a running gateway holds them (not subscribed) and serves the rest:\n%w",
			*path, len(broken), errors.Join(errs...))
	}
	reports, err := gateway.CheckPlugins(ctx, cfg, newLogger(stderr, "warn", cfg.Log.Format))
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w", *path, err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s is valid; effective configuration (secrets redacted):\n%s", *path, out)
	printRoutes(stdout, "", cfg.Routes, reports)
	for _, t := range cfg.AllTenants() {
		where := "inline"
		if t.File != "" {
			where = t.File
		}
		fmt.Fprintf(stdout, "# tenant %s (%s): mqtt %v, kafka %v, limits: %s; plugins from %s then %s\n",
			t.Name, where, t.MQTTPrefixes, t.KafkaPrefixes, tenantLimits(t.Limits), t.Dir, cfg.Plugins.Dir)
		printRoutes(stdout, t.Name, t.Routes, reports)
	}
	return nil
}

// tenantLimits lists the limits a tenant sets, as key=value.
func tenantLimits(l config.TenantLimits) string {
	var parts []string
	add := func(key string, set bool, v any) {
		if set {
			parts = append(parts, fmt.Sprintf("%s=%v", key, v))
		}
	}
	add("memory_mb", l.MemoryMB > 0, l.MemoryMB)
	add("call_timeout", l.CallTimeout > 0, l.CallTimeout)
	add("messages_per_second", l.MessagesPerSecond > 0, l.MessagesPerSecond)
	add("max_message_bytes", l.MaxMessageBytes > 0, l.MaxMessageBytes)
	add("max_instances", l.MaxInstances > 0, l.MaxInstances)
	if len(parts) == 0 {
		return "gateway defaults"
	}
	return strings.Join(parts, " ")
}

// printRoutes prints a summary line per route of tenant ("" for top-level routes) and one
// per chain stage as built.
func printRoutes(w io.Writer, tenant string, routes []config.Route, reports []gateway.PluginReport) {
	indent := ""
	if tenant != "" {
		indent = "  "
	}
	// By route: scanning every report for each route is quadratic at thousands of routes.
	stages := map[string][]gateway.PluginReport{}
	for _, p := range reports {
		if p.Tenant == tenant {
			stages[p.Route] = append(stages[p.Route], p)
		}
	}
	for _, r := range routes {
		fmt.Fprintf(w, "# %sroute %s: %v -> %s (key %s, envelope %s, dead letters -> %s)\n",
			indent, r.Name, r.From, r.To.Topic, r.To.Key, r.To.Envelope, r.DeadLetter)
		for _, p := range stages[r.Name] {
			fmt.Fprintf(w, "# %s  stage %d: plugin %s sha256:%s (%d bytes, compiled in %s)\n",
				indent, p.Stage, p.Plugin, p.Version, p.Size, p.CompileTime.Round(time.Millisecond))
		}
	}
}

// buildHints says how to build the plugins err reports missing: for each, the `plugin build`
// command for its Go source when a folder holds one (plugins.dir/NAME, or plugins/NAME in
// the config file's folder or one above it, as in a checkout), else where to read about
// building one. It returns "" when no plugin is missing.
func buildHints(configPath string, err error) string {
	var missing []*config.MissingPluginError
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var mp *config.MissingPluginError
		if errors.As(err, &mp) && !seen[mp.Path] {
			seen[mp.Path] = true
			missing = append(missing, mp)
		}
	}
	walk(err)
	if len(missing) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\nA plugin's .wasm is built from its Go source with `tributary plugin build DIR -o FILE`:\n")
	for _, mp := range missing {
		if src := pluginSource(configPath, mp); src != "" {
			fmt.Fprintf(&b, "  %s plugin build %s -o %s\n", programName(), src, mp.Path)
		} else {
			fmt.Fprintf(&b, "  %s: no Go source found in %s or a plugins/%s folder above the config file; build it where its source is, with -o %s\n",
				mp.Plugin, filepath.Join(filepath.Dir(mp.Path), mp.Plugin), mp.Plugin, mp.Path)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// pluginSource returns the folder of mp's Go source: plugins.dir/NAME (where `plugin new`
// puts it), else plugins/NAME in the config file's folder or the nearest folder above it
// that has one (a checkout's first-party plugins); "" when there is none.
func pluginSource(configPath string, mp *config.MissingPluginError) string {
	candidates := []string{filepath.Join(filepath.Dir(mp.Path), mp.Plugin)}
	if abs, err := filepath.Abs(configPath); err == nil {
		for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, "plugins", mp.Plugin))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, dir := range candidates {
		if goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(goFiles) > 0 {
			return dir
		}
	}
	return ""
}

// programName is how to call this binary in a printed command: as invoked when that was a
// relative path such as ./tributary, else "tributary".
func programName() string {
	if p := os.Args[0]; strings.ContainsRune(p, filepath.Separator) && !filepath.IsAbs(p) {
		return p
	}
	return "tributary"
}
