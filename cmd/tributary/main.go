// Command tributary is the MQTT-to-Kafka gateway. Each subcommand lives in its own file;
// this one dispatches, sets up logging and signals, and prints help.
package main

import (
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
Run 'tributary <command> --help' for a command's flags.

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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprint(stdout, c.usage)
				return 0
			}
		}
		fmt.Fprintf(stdout, mainUsage, commandList())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tributary: unknown command %q\n\n", args[0])
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

func commandList() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	return b.String()
}

// usageError marks a command-line mistake: the command's usage is printed with it.
type usageError struct{ error }

// newFlagSet returns a flag set that prints usage to stdout on --help and stays quiet on
// errors (runMain prints them with the usage).
func newFlagSet(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprint(stdout, usage) }
	return fs
}

// parseFlags parses args; --help prints the usage and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // fs.Usage has printed the help
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
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
