// Command tributary is the MQTT-to-Kafka gateway. Each subcommand lives in its own file;
// this one dispatches, sets up logging and signals, and prints help.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/tributary-gw/tributary/gateway/config"
)

// command is one subcommand: its one-line summary, its help text and what it runs.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the subcommand files.
var commands = map[string]*command{}

const mainUsage = `tributary moves IoT data from MQTT into Kafka through chains of WebAssembly plugins.

Usage:
  tributary <command> [flags]

Commands:
%s
Run 'tributary <command> --help' for a command's flags, and 'tributary --version' (or
'tributary version') for the version, commit and plugin ABI version.

Configuration is YAML (see the README's configuration reference). Every scalar key can be
overridden from the environment: TRIBUTARY_ + the key path in upper case with "__" between
levels, e.g. TRIBUTARY_MQTT__CLIENT_ID=gw-2, TRIBUTARY_KAFKA__BROKERS=k1:9092,k2:9092.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs the command line args and returns the process exit code: 0 on success, 2 for
// usage errors, 1 otherwise.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "tributary: unknown command %q%s\n\n", args[1], suggestCommand(args[1]))
				fmt.Fprintf(stderr, mainUsage, commandList())
				return 2
			}
			fmt.Fprint(stdout, c.usage)
			return 0
		}
		fmt.Fprintf(stdout, mainUsage, commandList())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tributary: unknown command %q%s\n\n", args[0], suggestCommand(args[0]))
		fmt.Fprintf(stderr, mainUsage, commandList())
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "tributary %s: %v\n\n%s", args[0], err, c.usage)
		return 2
	default:
		fmt.Fprintf(stderr, "tributary %s: %v\n", args[0], err)
		return 1
	}
}

// suggestCommand returns "; did you mean NAME?" for the command closest to name, or "".
func suggestCommand(name string) string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	if s := config.ClosestName(strings.TrimLeft(name, "-"), names); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

func commandList() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-15s %s\n", n, commands[n].summary)
	}
	return b.String()
}

// usageError marks a command-line mistake: the command's usage is printed with it.
type usageError struct{ error }

// newFlagSet returns a flag set that prints usage to stdout on --help and stays quiet on
// errors (runMain prints them with the usage).
func newFlagSet(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := &flagOutput{stdout: stdout}
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprint(out, usage) }
	return fs
}

// flagOutput holds what the flag package writes during Parse. The flag package calls Usage on
// every parse error as well as on --help, so parseFlags passes the text on to stdout only for
// --help; after an error runMain prints the usage once, on stderr.
type flagOutput struct {
	stdout io.Writer
	buf    bytes.Buffer
}

func (o *flagOutput) Write(p []byte) (int, error) { return o.buf.Write(p) }

// parseFlags parses args; --help prints the usage and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if out, ok := fs.Output().(*flagOutput); ok {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = out.stdout.Write(out.buf.Bytes())
		}
		out.buf.Reset()
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // the usage is on stdout
		}
		return usageError{suggestFlag(fs, err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// suggestFlag adds "; did you mean --NAME?" to the flag package's error for an unknown flag
// when one of fs's flags is close.
func suggestFlag(fs *flag.FlagSet, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return err
	}
	var known []string
	fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
	if s := config.ClosestName(strings.TrimLeft(name, "-"), known); s != "" {
		return fmt.Errorf("%w; did you mean --%s?", err, s)
	}
	return err
}

// newLogger builds the slog logger from log.level and log.format.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level)) // validated by config; info when empty
	opts := &slog.HandlerOptions{Level: lvl}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
