package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
)

const validateUsage = `Usage: tributary validate --config FILE

Loads the configuration (file, then TRIBUTARY_* environment overrides), checks every key and
value, compiles every plugin the routes use and starts one instance of each stage with its
config, then prints the effective configuration with secrets redacted and each stage's plugin
with its version (sha256 of the .wasm, as stamped on dead letters) and compile time. Every problem in the file
is reported, each naming its key. Exits 1 when the configuration is invalid.

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
		return fmt.Errorf("%s is invalid:\n%w", *path, err)
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
	for _, r := range cfg.Routes {
		fmt.Fprintf(stdout, "# route %s: %v -> %s (key %s, envelope %s, dead letters -> %s)\n",
			r.Name, r.From, r.To.Topic, r.To.Key, r.To.Envelope, r.DeadLetter)
		for _, p := range reports {
			if p.Route == r.Name {
				fmt.Fprintf(stdout, "#   stage %d: plugin %s sha256:%s (%d bytes, compiled in %s)\n",
					p.Stage, p.Plugin, p.Version, p.Size, p.CompileTime.Round(time.Millisecond))
			}
		}
	}
	return nil
}
