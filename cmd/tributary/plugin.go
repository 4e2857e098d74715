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
	"strings"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/pluginkit"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
)

var pluginUsage = `Usage:
  tributary plugin new NAME [--dir DIR] [--module PATH] [--lang go|assemblyscript]
  tributary plugin build DIR [-o FILE]
  tributary plugin test FILE.wasm --input FILE.jsonl [--config JSON|@FILE] [--route R]
                        [--timeout D] [--memory-mb N] [--batch N] [--repeat N]
                        [--fail-on-dead-letter]

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
  Loads the module as the gateway does (one instance, init with --config) and runs every input
  message through it, in batches of --batch messages per call as a route's shard would; a
  call that fails for a batch is retried message by message, so a failure lands on its own
  message. Prints per input its outputs (payload, Kafka topic, key, headers), "filtered", or
  its dead letter (kind: rejected, trap, timeout, out_of_memory or bad_result, and the error),
  then a summary: inputs, outputs, filtered, dead letters and ns/message (averaged over
  --repeat runs). Guest log lines go to stderr. Exits 0 even when messages dead-letter (unless
  --fail-on-dead-letter), 1 when the module or its config cannot be loaded or the input file is
  bad (the error names the line).
  --input FILE            the messages, JSON lines (required; format below)
  --config JSON|@FILE     the stage config handed to the plugin's init, inline or from a file
                          (default {})
  --route R               route name the messages carry (default test)
  --timeout D             time limit of one plugin call, as plugins.limits.call_timeout
                          (default 1s)
  --memory-mb N           linear memory cap of the instance, as plugins.limits.memory_mb
                          (default 16)
  --batch N               messages per plugin call (default 64, the gateway's flow.max_batch;
                          1 = one by one)
  --repeat N              run the inputs N times for the timing; outputs are printed once
                          (default 1)
  --fail-on-dead-letter   exit 1 when any message dead-letters

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
	timeout := fs.Duration("timeout", wasmhost.DefaultCallTimeout, "")
	memoryMB := fs.Int("memory-mb", int(wasmhost.DefaultMemoryPages/16), "")
	batch := fs.Int("batch", pluginkit.DefaultBatch, "")
	repeat := fs.Int("repeat", 1, "")
	failOnDL := fs.Bool("fail-on-dead-letter", false, "")
	path, err := parseInterleaved(fs, args, "FILE.wasm", stdout)
	if err != nil {
		return err
	}
	switch {
	case *input == "":
		return usageError{errors.New("--input is required")}
	case *route == "":
		return usageError{errors.New("--route must not be empty")}
	case *timeout <= 0:
		return usageError{fmt.Errorf("--timeout %v: want more than 0", *timeout)}
	case *memoryMB < 1 || *memoryMB > 4096:
		return usageError{fmt.Errorf("--memory-mb %d: want 1 to 4096", *memoryMB)}
	case *batch < 1:
		return usageError{fmt.Errorf("--batch %d: want 1 or more", *batch)}
	case *repeat < 1:
		return usageError{fmt.Errorf("--repeat %d: want 1 or more", *repeat)}
	}
	config, err := pluginkit.ParseConfig(*cfgArg)
	if err != nil {
		return err
	}
	inputs, err := pluginkit.ReadInputFile(*input)
	if err != nil {
		return err
	}
	host, err := newPluginHost(ctx, stderr)
	if err != nil {
		return err
	}
	defer host.Close(context.WithoutCancel(ctx))
	p, err := pluginkit.Load(ctx, host, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plugin %s %s (%d bytes, compiled in %s), config %s, route %s\n",
		p.Name(), p.Version(), p.Size(), p.CompileTime().Round(time.Millisecond), config, *route)
	rep, err := pluginkit.Test(ctx, host, p, inputs, pluginkit.TestOptions{
		Config: config,
		Route:  *route,
		Limits: wasmhost.Limits{CallTimeout: *timeout, MemoryPages: uint32(*memoryMB) * 16}, // 16 pages of 64 KiB per MiB
		Batch:  *batch,
		Repeat: *repeat,
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

// newPluginHost makes the wasm host of build and test: guest logs to stderr, machine code
// cached in pluginCache, or kept in memory when that folder cannot be used.
func newPluginHost(ctx context.Context, stderr io.Writer) (*wasmhost.Host, error) {
	cfg := wasmhost.HostConfig{Logger: guestLogger(stderr), CacheDir: pluginCache(), Extensions: jsonimports.Functions()}
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
