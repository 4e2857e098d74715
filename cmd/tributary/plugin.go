package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/pluginkit"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

var pluginUsage = `Usage:
  tributary plugin new NAME [--dir DIR] [--module PATH] [--lang go|assemblyscript]
  tributary plugin build DIR [-o FILE]
  tributary plugin test FILE.wasm --input FILE.jsonl [--config JSON|@FILE] [--route R]
                        [--batch N] [--warmup N] [--repeat N] [--fail-on-dead-letter]
                        [--call-timeout D] [--memory-mb N] [--max-output-bytes N] [LIMIT...]

The plugin author's loop: create a Go plugin from a template, build it to WebAssembly, and run
messages through the real module without a broker or Kafka.

plugin new NAME
  Creates DIR/NAME with main.go (registers the handler), NAME.go (the logic: scales one numeric
  JSON field and sets its unit, driven by the route's config), NAME_test.go (native tests: go
  test), README.md and testdata/input.jsonl, then prints every file written and the next steps,
  which run as printed. Outside a Go module the plugin is its own module: go.mod requires the
  Go SDK (github.com/tributary-gw/tributary/sdk, the version matching this binary's ABI) and
  points to NAME/tributary-sdk, the SDK's source written from this binary, so nothing is
  downloaded, published or not. NAME is lower-case letters, digits and '-'. Never overwrites:
  an existing DIR/NAME is an error.
  --dir DIR        folder to create NAME in (default ./plugins, the gateway's plugins.dir)
  --module PATH    make the plugin its own Go module with this path (writes go.mod). Default:
                   inside an existing Go module the plugin is one of its packages (the SDK's
                   source is still written, and a printed go mod edit makes the module require
                   it); inside the Tributary checkout it is a first-party plugin using ./sdk;
                   elsewhere go.mod says module NAME.
  --lang LANG      go (default) or assemblyscript: package.json (asc pinned, build script),
                   assembly/index.ts (the same sample), README.md, testdata/input.jsonl and
                   the AssemblyScript SDK's source in tributary-sdk/ (from this binary; the
                   compiler comes from npm: needs Node.js 20+ and npm)

plugin build DIR
  Builds the Go main package in DIR with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
  -trimpath -ldflags="-s -w", checks the module's ABI exports and imports with the gateway's
  wasm host, then writes it and prints its size, version (sha256 of the bytes: the dead-letter
  header tributary.plugin.version) and compile time (see below). A module that fails the
  check is not written.
  -o FILE          output module (default DIR/../NAME.wasm, NAME = DIR's base name: plugins/x
                   builds plugins/x.wasm, in the gateway's plugins.dir; for a plugin inside the
                   Tributary checkout build/plugins/NAME.wasm under its root, never among the
                   plugins' sources)

plugin test FILE.wasm
  Loads the module as the gateway does (checked against the module limits, one instance, init
  with --config) and runs every input message through it, in batches of --batch messages per
  call as a route's shard would; a call that fails for a batch is retried message by message,
  so a failure lands on its own message. Prints per input its outputs (payload, Kafka topic,
  key, headers), "filtered", or its dead letter (kind: rejected, trap, timeout, out_of_memory,
  bad_result or message_too_large, and the error); the plugin's log lines of that run at every
  level, debug included (sdk.Log, and its stdout and stderr); a summary (inputs, outputs,
  filtered, dead letters); and the timing:
    compile     compiling the module, or loading it from the compile cache
    start-up    instantiating it and running its init with --config
    first run   per message, the run printed above: a cold instance
    warmed      per message, after --warmup more runs, averaged over --repeat runs: what a
                serving route pays per message in the plugin
  Guest logs of the warm-up and timed runs are counted, not printed. The host's own log lines
  go to stderr. Exits 0 even when messages dead-letter (unless --fail-on-dead-letter), 1 when
  the module or its config cannot be loaded or the input file is bad (the error names the
  line).
  --input FILE            the messages, JSON lines (required; format below)
  --config JSON|@FILE     the stage config handed to the plugin's init, inline or from a file
                          (default {})
  --route R               route name the messages carry (default test)
  --batch N               messages per plugin call (default 64, the gateway's flow.max_batch;
                          1 = one by one)
  --warmup N              untimed runs of the inputs after the first (default 0: enough for
                          1000 messages)
  --repeat N              timed runs after the warm-up (default 0: until 10000 messages and
                          200ms, or 5s, have passed)
  --fail-on-dead-letter   exit 1 when any message dead-letters

  Limits, as the gateway enforces them; each flag is also accepted spelt as its config key
  (--max_output_bytes, --module.max_functions), and --timeout is --call-timeout:
` + limitUsage() + `
Compiled machine code is cached in the user cache folder (tributary/wasm-cache): plugin test
does not compile again what plugin build compiled. The compile time build prints is that of a
gateway without plugins.cache_dir, unless the same bytes were compiled before (an unchanged
source builds the same bytes): then it is the time to load them from the cache.

Input file (--input):
` + pluginInputFormat + `
`

// pluginInputFormat indents pluginkit.InputFormat for the usage text.
var pluginInputFormat = "  " + strings.ReplaceAll(pluginkit.InputFormat, "\n", "\n  ")

func init() {
	commands["plugin"] = &command{summary: "plugin author's loop: new, build and test a wasm plugin", usage: pluginUsage, run: pluginCommand}
}

// pluginCommand runs `tributary plugin VERB`; see pluginUsage.
func pluginCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("missing verb: new, build or test")}
	}
	switch verb, rest := args[0], args[1:]; verb {
	case "new":
		return pluginNew(rest, stdout)
	case "build":
		return pluginBuild(ctx, rest, stdout, stderr)
	case "test":
		return pluginTest(ctx, rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, pluginUsage)
		return nil
	default:
		return usageError{fmt.Errorf("unknown verb %q: want new, build or test", verb)}
	}
}

// newPluginFlagSet returns a quiet flag set for one verb: parseInterleaved prints the usage
// for --help, and runMain prints it with any other parse error.
func newPluginFlagSet(verb string) *flag.FlagSet {
	fs := flag.NewFlagSet("plugin "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseInterleaved parses flags that may come before or after the one positional argument
// (`plugin build DIR -o x.wasm`) and returns it; what names it in errors. --help prints
// pluginUsage to stdout and returns flag.ErrHelp.
func parseInterleaved(fs *flag.FlagSet, args []string, what string, stdout io.Writer) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, pluginUsage)
				return "", err
			}
			return "", usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(pos) {
	case 0:
		return "", usageError{fmt.Errorf("missing %s", what)}
	case 1:
		return pos[0], nil
	default:
		return "", usageError{fmt.Errorf("unexpected argument %q after %s", pos[1], what)}
	}
}

// pluginNew runs `plugin new`: pluginkit.New, then the files and the next steps on stdout.
func pluginNew(args []string, stdout io.Writer) error {
	fs := newPluginFlagSet("new")
	dir := fs.String("dir", pluginkit.DefaultParent, "")
	module := fs.String("module", "", "")
	lang := fs.String("lang", pluginkit.LangGo, "")
	name, err := parseInterleaved(fs, args, "NAME", stdout)
	if err != nil {
		return err
	}
	if err := pluginkit.CheckName(name); err != nil {
		return usageError{err}
	}
	if *lang != pluginkit.LangGo && *lang != pluginkit.LangAssemblyScript {
		return usageError{fmt.Errorf("--lang %q: want %s or %s", *lang, pluginkit.LangGo, pluginkit.LangAssemblyScript)}
	}
	c, err := pluginkit.New(pluginkit.NewOptions{Name: name, Parent: *dir, Module: *module, Lang: *lang})
	if err != nil {
		return err
	}
	if *lang == pluginkit.LangAssemblyScript {
		return printNewAssemblyScript(stdout, name, c)
	}
	fmt.Fprintf(stdout, "created plugin %s in %s:\n", name, c.Dir)
	for _, f := range c.Files {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(c.Dir, filepath.FromSlash(f)))
	}
	if sdk := c.SDKDir(); sdk != "" {
		fmt.Fprintf(stdout, "  %s%c   the Go SDK's source, %s %s (ABI %d): %d files\n",
			sdk, filepath.Separator, sdksource.Module, sdksource.Version, abi.Version, len(c.SDKFiles))
	}
	switch {
	case c.GoMod != "":
		fmt.Fprintf(stdout, "go.mod: module %s, requires %s %s from ./%s (replace)\n", c.GoMod, sdksource.Module, sdksource.Version, pluginkit.SDKFolder)
	case c.Enclosing == pluginkit.TributaryModule:
		fmt.Fprintf(stdout, "a package of %s (this checkout), using its sdk folder\n", c.Enclosing)
	default:
		fmt.Fprintf(stdout, "a package of module %s (%s)\n", c.Enclosing, c.EnclosingGoMod)
	}
	fmt.Fprintln(stdout, "\nNext steps, from here:")
	steps := c.NextSteps(selfCommand())
	const aligned = 40 // longer commands get their comment on the line before
	width := 0
	for _, st := range steps {
		if len(st.Command) <= aligned {
			width = max(width, len(st.Command))
		}
	}
	for _, st := range steps {
		switch {
		case st.Comment == "":
			fmt.Fprintf(stdout, "  %s\n", st.Command)
		case len(st.Command) > aligned:
			fmt.Fprintf(stdout, "  # %s:\n  %s\n", st.Comment, st.Command)
		default:
			fmt.Fprintf(stdout, "  %-*s   # %s\n", width, st.Command, st.Comment)
		}
	}
	fmt.Fprintf(stdout, "Then keep %s in the gateway's plugins.dir (default ./plugins) and add it to a route's chain:\n", filepath.Base(c.Wasm))
	fmt.Fprintf(stdout, "    chain: [{plugin: %s, config: {field: temp, unit: F}}]\n", name)
	return nil
}

// selfCommand returns how the printed next steps run this program: "tributary" when that name
// on PATH is this executable, else its absolute path (a binary run as ./tributary, or from a
// folder not on PATH), or "tributary" when that is unknown.
func selfCommand() string {
	self, err := os.Executable()
	if err != nil {
		return "tributary"
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return "tributary"
	}
	if onPath, err := exec.LookPath("tributary"); err == nil {
		if p, err := filepath.EvalSymlinks(onPath); err == nil {
			if a, err := filepath.Abs(p); err == nil && a == self {
				return "tributary"
			}
		}
	}
	if strings.Contains(self, string(filepath.Separator)+"go-build") { // go run: gone after exit
		return "tributary"
	}
	return self
}

// pluginBuild runs `plugin build`: pluginkit.Build, then size, version and compile time.
func pluginBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPluginFlagSet("build")
	out := fs.String("o", "", "")
	dir, err := parseInterleaved(fs, args, "DIR", stdout)
	if err != nil {
		return err
	}
	if pluginkit.IsAssemblyScript(dir) {
		return asBuildError(dir)
	}
	if *out == "" {
		if *out, err = pluginkit.DefaultOutput(dir); err != nil {
			return err
		}
	}
	host, err := newPluginHost(ctx, stderr)
	if err != nil {
		return err
	}
	defer host.Close(context.WithoutCancel(ctx))
	fmt.Fprintf(stdout, "building %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=\"-s -w\") ...\n", dir)
	b, err := pluginkit.Build(ctx, host, dir, *out)
	if err != nil {
		return err
	}
	p := b.Plugin
	fmt.Fprintf(stdout, "built %s in %s\n", b.Out, b.BuildTime.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  plugin   %s\n", p.Name())
	fmt.Fprintf(stdout, "  size     %d bytes (%.1f MiB)\n", p.Size(), float64(p.Size())/(1<<20))
	fmt.Fprintf(stdout, "  version  %s\n", p.Version())
	fmt.Fprintf(stdout, "  compile  %s (wazero; ABI exports and imports checked)\n", p.CompileTime().Round(time.Millisecond))
	return nil
}

// pluginTest runs `plugin test`: load the module, read the inputs, pluginkit.Test, print.
func pluginTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPluginFlagSet("test")
	input := fs.String("input", "", "")
	cfgArg := fs.String("config", "", "")
	route := fs.String("route", pluginkit.DefaultRoute, "")
	batch := fs.Int("batch", pluginkit.DefaultBatch, "")
	warmup := fs.Int("warmup", 0, "")
	repeat := fs.Int("repeat", 0, "")
	failOnDL := fs.Bool("fail-on-dead-letter", false, "")
	lim := addLimitFlags(fs)
	path, err := parseInterleaved(fs, args, "FILE.wasm", stdout)
	if err != nil {
		return err
	}
	switch {
	case *input == "":
		return usageError{errors.New("--input is required")}
	case *route == "":
		return usageError{errors.New("--route must not be empty")}
	case *batch < 1:
		return usageError{fmt.Errorf("--batch %d: want 1 or more", *batch)}
	case *warmup < 0:
		return usageError{fmt.Errorf("--warmup %d: want 0 (automatic) or more", *warmup)}
	case *repeat < 0:
		return usageError{fmt.Errorf("--repeat %d: want 0 (automatic) or more", *repeat)}
	}
	if err := lim.check(); err != nil {
		return usageError{err}
	}
	config, err := pluginkit.ParseConfig(*cfgArg)
	if err != nil {
		return err
	}
	inputs, err := pluginkit.ReadInputFile(*input)
	if err != nil {
		return err
	}
	logs := &pluginkit.LogCapture{Next: slog.NewTextHandler(stderr, nil), NextLevel: slog.LevelInfo}
	host, err := newPluginHostWith(ctx, slog.New(logs.Handler()))
	if err != nil {
		return err
	}
	defer host.Close(context.WithoutCancel(ctx))
	p, err := pluginkit.Load(ctx, host, path, lim.module())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plugin %s %s (%d bytes), config %s, route %s\n", p.Name(), p.Version(), p.Size(), config, *route)
	rep, err := pluginkit.Test(ctx, host, p, inputs, pluginkit.TestOptions{
		Config:          config,
		Route:           *route,
		Limits:          lim.instance(),
		MaxMessageBytes: lim.maxMessageBytes,
		Batch:           *batch,
		Warmup:          *warmup,
		Repeat:          *repeat,
		Logs:            logs,
	})
	if err != nil {
		return err // the PluginError names the plugin; Kind rejected: init refused the config
	}
	rep.Print(stdout)
	if *failOnDL && rep.DeadLetters > 0 {
		return fmt.Errorf("%d of %d messages dead-lettered (--fail-on-dead-letter)", rep.DeadLetters, len(rep.Inputs))
	}
	return nil
}

// limitFlags are the plugin limits `plugin test` enforces, one flag per configuration key of
// plugins.limits (and a tenant's limits.max_message_bytes). Each flag is spelt with '-' and
// also exactly as its key ("--max-output-bytes" and "--max_output_bytes"; the module limits
// also as "--module.max_functions").
type limitFlags struct {
	memoryMB, maxOutputBytes, maxFanOut, recycleAfterCalls, recycleAboveMB int
	callTimeout                                                            time.Duration
	trusted                                                                bool
	maxMessageBytes                                                        int
	maxModuleMB, maxFunctions, maxTypes, maxNesting, maxControlFlow        int
	maxLocals, maxModuleLocals, maxTableElements                           int
}

// limitFlag describes one limit flag for --help and the checks.
type limitFlag struct {
	key  string // the configuration key, after plugins.limits. (or a tenant's limits.)
	ptr  any    // *int, *time.Duration or *bool
	min  int    // the least value accepted (ints)
	max  int    // the most, 0 for none
	help string
}

// list returns the flags in --help order.
func (l *limitFlags) list() []limitFlag {
	return []limitFlag{
		{"call_timeout", &l.callTimeout, 0, 0, "time limit of one plugin call (a batch); a call over it is a timeout dead letter"},
		{"memory_mb", &l.memoryMB, 1, 4096, "linear memory cap of the instance, in MiB; also the largest initial memory a module may declare"},
		{"max_output_bytes", &l.maxOutputBytes, 1, 0, "largest result of one call, in bytes"},
		{"max_fan_out", &l.maxFanOut, 1, 0, "most outputs of one input message"},
		{"recycle_after_calls", &l.recycleAfterCalls, 1, 0, "replace the instance after this many calls"},
		{"recycle_above_mb", &l.recycleAboveMB, 1, 0, "replace the instance when its memory grew beyond this (capped at memory_mb)"},
		{"trusted", &l.trusted, 0, 0, "run without the call timeout: a looping plugin is never stopped"},
		{"max_message_bytes", &l.maxMessageBytes, 0, 0, "a tenant's cap on the MQTT payload: larger inputs dead-letter as message_too_large before the plugin (0: none)"},
		{"module.max_module_mb", &l.maxModuleMB, 1, 0, "largest .wasm file, in MiB"},
		{"module.max_functions", &l.maxFunctions, 1, 0, "most functions a module imports and defines"},
		{"module.max_types", &l.maxTypes, 1, 0, "most function types"},
		{"module.max_nesting", &l.maxNesting, 1, 0, "deepest nesting of blocks in one function"},
		{"module.max_control_flow", &l.maxControlFlow, 1, 0, "sum over functions of the square of their control instructions"},
		{"module.max_locals", &l.maxLocals, 1, 0, "most locals of one function"},
		{"module.max_module_locals", &l.maxModuleLocals, 1, 0, "most locals of all functions"},
		{"module.max_table_elements", &l.maxTableElements, 1, 0, "largest table"},
	}
}

// flagName returns the dashed flag of a key: module.max_functions -> max-functions.
func flagName(key string) string {
	return strings.ReplaceAll(strings.TrimPrefix(key, "module."), "_", "-")
}

// addLimitFlags defines the limit flags on fs, with the gateway's defaults.
func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	mod := wasmhost.ModuleLimits{}.WithDefaults()
	l := &limitFlags{
		memoryMB: int(wasmhost.DefaultMemoryPages / 16), callTimeout: wasmhost.DefaultCallTimeout,
		maxOutputBytes: wasmhost.DefaultMaxOutputBytes, maxFanOut: wasmhost.DefaultMaxFanOut,
		recycleAfterCalls: wasmhost.DefaultRecycleAfterCalls, recycleAboveMB: int(wasmhost.DefaultRecycleAboveBytes >> 20),
		maxModuleMB: mod.MaxModuleBytes >> 20, maxFunctions: mod.MaxFunctions, maxTypes: mod.MaxTypes,
		maxNesting: mod.MaxNesting, maxControlFlow: int(mod.MaxControlFlow), maxLocals: mod.MaxLocals,
		maxModuleLocals: mod.MaxModuleLocals, maxTableElements: int(mod.MaxTableElements),
	}
	for _, f := range l.list() {
		names := []string{flagName(f.key), f.key}
		if k, ok := strings.CutPrefix(f.key, "module."); ok {
			names = append(names, k)
		}
		for i, n := range names {
			if slices.Contains(names[:i], n) {
				continue // trusted: one spelling
			}
			switch p := f.ptr.(type) {
			case *int:
				fs.IntVar(p, n, *p, "")
			case *time.Duration:
				fs.DurationVar(p, n, *p, "")
			case *bool:
				fs.BoolVar(p, n, *p, "")
			}
		}
	}
	fs.DurationVar(&l.callTimeout, "timeout", l.callTimeout, "") // the name before --call-timeout
	return l
}

// check returns an error naming the first flag out of range.
func (l *limitFlags) check() error {
	for _, f := range l.list() {
		switch p := f.ptr.(type) {
		case *int:
			if *p < f.min || f.max > 0 && *p > f.max {
				if f.max > 0 {
					return fmt.Errorf("--%s %d: want %d to %d", flagName(f.key), *p, f.min, f.max)
				}
				return fmt.Errorf("--%s %d: want %d or more", flagName(f.key), *p, f.min)
			}
		case *time.Duration:
			if *p <= 0 {
				return fmt.Errorf("--%s %v: want more than 0", flagName(f.key), *p)
			}
		}
	}
	return nil
}

// limits returns the flags as the plugins.limits section (or a tenant's limits) they stand for.
func (l *limitFlags) limits() config.PluginLimits {
	return config.PluginLimits{
		MemoryMB:          l.memoryMB,
		CallTimeout:       l.callTimeout,
		MaxOutputBytes:    l.maxOutputBytes,
		MaxFanOut:         l.maxFanOut,
		RecycleAfterCalls: l.recycleAfterCalls,
		RecycleAboveMB:    l.recycleAboveMB,
		Trusted:           l.trusted,
		Module: config.ModuleLimits{
			MaxModuleMB:      l.maxModuleMB,
			MaxFunctions:     l.maxFunctions,
			MaxTypes:         l.maxTypes,
			MaxNesting:       l.maxNesting,
			MaxControlFlow:   l.maxControlFlow,
			MaxLocals:        l.maxLocals,
			MaxModuleLocals:  l.maxModuleLocals,
			MaxTableElements: l.maxTableElements,
		},
	}
}

// instance returns the instance limits, mapped as the gateway maps plugins.limits.
func (l *limitFlags) instance() wasmhost.Limits { return gateway.InstanceLimits(l.limits()) }

// module returns the module limits, mapped as the gateway maps plugins.limits.module.
func (l *limitFlags) module() wasmhost.ModuleLimits { return gateway.ModuleLimits(l.limits()) }

// limitUsage is the --help text of the limit flags, generated from limitFlags.list.
func limitUsage() string {
	var b strings.Builder
	l := addLimitFlags(flag.NewFlagSet("", flag.ContinueOnError))
	for _, f := range l.list() {
		var def string
		switch p := f.ptr.(type) {
		case *int:
			def = fmt.Sprint(*p)
		case *time.Duration:
			def = p.String()
		case *bool:
			def = fmt.Sprint(*p)
		}
		arg := " N"
		switch f.ptr.(type) {
		case *time.Duration:
			arg = " D"
		case *bool:
			arg = ""
		}
		key := "plugins.limits." + f.key
		if f.key == "max_message_bytes" {
			key = "tenants' limits.max_message_bytes"
		}
		fmt.Fprintf(&b, "  --%s%s\n", flagName(f.key), arg)
		line := "     "
		for _, word := range strings.Fields(fmt.Sprintf("%s (default %s; config %s)", f.help, def, key)) {
			if len(line)+1+len(word) > 94 {
				b.WriteString(line + "\n")
				line = "     "
			}
			line += " " + word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// pluginCache returns the folder where `plugin build` and `plugin test` keep compiled machine
// code, so a module built once is not compiled again by test: tributary/wasm-cache in the user cache
// folder ($XDG_CACHE_HOME or ~/.cache on Linux). "" (memory only) when there is none.
func pluginCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tributary", "wasm-cache")
}

// newPluginHost makes the wasm host of build: guest logs to stderr, machine code cached in
// pluginCache, or kept in memory when that folder cannot be used.
func newPluginHost(ctx context.Context, stderr io.Writer) (*wasmhost.Host, error) {
	return newPluginHostWith(ctx, guestLogger(stderr))
}

// newPluginHostWith makes the wasm host of build and test, logging to logger.
func newPluginHostWith(ctx context.Context, logger *slog.Logger) (*wasmhost.Host, error) {
	cfg := wasmhost.HostConfig{Logger: logger, CacheDir: pluginCache(), Extensions: jsonimports.Functions()}
	host, err := wasmhost.NewHost(ctx, cfg)
	if err != nil && cfg.CacheDir != "" {
		cfg.CacheDir = ""
		host, err = wasmhost.NewHost(ctx, cfg)
	}
	return host, err
}

// guestLogger sends plugin log lines (sdk.Log, stdout, stderr of the guest) to w.
func guestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
