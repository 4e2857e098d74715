package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
)

const runUsage = `Usage: tributary run --config FILE

Runs the gateway: subscribes to every route's MQTT topic filters and writes the messages to
Kafka through the routes' plugin chains. Each tenant (tenants.inline, tenants.dir/NAME/) gets
its own MQTT session, in-flight budget and plugin instances. Logs go to stderr.

Reload without restart: when the config file, a .wasm in plugins.dir or a tenant's folder, a
tenant.yaml or the set of tenant folders changes, on SIGHUP, or on POST /api/v1/reload,
the configuration is loaded, validated and its changed routes built beside the running ones,
then swapped in; if anything fails the running routes keep serving and the error is logged,
counted (tributary_reloads_total{result="failure"}) and shown on /api/v1/status. The mqtt,
kafka, flow, admin and log sections need a restart.

SIGTERM or SIGINT (Ctrl-C) drains: no new messages are taken, those in flight are finished,
produced and acknowledged, then the process exits 0. It always exits within
flow.drain_timeout plus 5 s, whatever a plugin, a compilation or a reload is doing (exit 1 when
the drain did not finish; the broker redelivers whatever was not acknowledged). A signal while
the gateway is still compiling and starting plugins exits at once.

A tenant whose tenant.yaml, routes or plugins do not load is held alone (no MQTT session, so
the broker keeps its messages) and shown as degraded on /readyz and /api/v1/status; the others
start. The top-level routes are the operator's: if they do not load, run exits 1.

Flags:
  --config FILE   the YAML configuration (required; also TRIBUTARY_CONFIG)
`

func init() {
	commands["run"] = &command{summary: "run the gateway", usage: runUsage, run: runCommand}
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("run", runUsage, args, stdout)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return fmt.Errorf("%w%s", err, buildHints(*path, err))
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	// New compiles and starts every plugin; a signal meanwhile ends the command at once (the
	// process exits; nothing was taken from the broker yet).
	type built struct {
		gw  *gateway.Gateway
		err error
	}
	ready := make(chan built, 1)
	go func() {
		gw, err := gateway.New(cfg, gateway.WithLogger(log), gateway.WithReloadFrom(*path, os.Environ()))
		ready <- built{gw, err}
	}()
	var gw *gateway.Gateway
	select {
	case b := <-ready:
		if b.err != nil {
			return b.err
		}
		gw = b.gw
	case <-ctx.Done():
		log.Info("stopped while starting: nothing was consumed")
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading", "config", *path)
				gw.TriggerReload()
			case <-ctx.Done():
				return
			}
		}
	}()
	return gw.Run(ctx)
}

// configFlag parses the --config flag shared by run and validate (default: $TRIBUTARY_CONFIG).
func configFlag(name, usage string, args []string, stdout io.Writer) (*string, error) {
	fs := newFlagSet(name, usage, stdout)
	path := fs.String("config", os.Getenv("TRIBUTARY_CONFIG"), "")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if *path == "" {
		return nil, usageError{errors.New("--config is required")}
	}
	return path, nil
}
