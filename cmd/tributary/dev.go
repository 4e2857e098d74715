package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devrun"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/fleet"
	"github.com/tributary-gw/tributary/gateway/config"
)

const devUsage = `Usage: tributary dev [flags]

Try Tributary in one process, with nothing else to install or run. dev starts, all on
127.0.0.1 and all in memory:
  - an MQTT v5 broker (mochi-mqtt, embedded; no authentication)       port 1883
  - an in-memory Kafka (franz-go's kfake)                              port 9092
  - the gateway with the routes of examples/building-sensors, with its
    admin endpoint and API (/api/v1, operator token printed)           port 9464
  - a fleet of simulated sensors publishing to the broker
When a default port is taken, a free one is used and the banner says which. Nothing is kept
after exit. Not for production.

Routes (examples/building-sensors/tributary.yaml and tributary-envelope.yaml):
  building/#  ->  mqtt_building_sensors_raw       payload as is, key = MQTT topic
  building/#  ->  mqtt_building_sensors_envelope  {"mqtt_topic","arrived_at_ms","payload","qos"}

Plugins: the routes' plugins (topic-fields, units, filter) are built from their Go sources
(plugins/NAME of the repository checkout around the working directory; anywhere else the copy
this binary carries, with the Go SDK's source, written to --plugin-cache/src first) with
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, so the go command (Go 1.26 or newer)
is needed on PATH, into --plugin-cache
when their .wasm is missing or older than the source, and compiled to machine code once
(kept in --plugin-cache/compiled). The first run therefore takes a minute or two and says what it is
building; later runs start in seconds. Each session runs on a copy of the built plugins, so
plugins uploaded through the admin API are gone when it ends.

It prints the addresses, the commands to join in with your own MQTT client and Kafka
consumer, and curl lines for the admin API (status, the routes' plugins, reload, uploading a
plugin version) with the session's token; then a live view every second: per route,
messages in, records out to Kafka, filtered and dead-lettered, with rates, and a few records
read back from Kafka. Ctrl-C stops the fleet, drains the gateway (at most 5s), stops the
broker and Kafka, prints a summary and exits 0; a second Ctrl-C quits at once (exit 130),
and dev quits by itself if stopping takes more than 10s.

Flags:
  --mqtt-port N        MQTT broker port on 127.0.0.1 (default 1883; 0 = any free port). When
                       the default is taken a free port is used; a port you set must be free.
  --kafka-port N       Kafka port on 127.0.0.1 (default 9092; 0 = any free port; same rule)
  --admin-port N       gateway admin endpoint (/api/v1, /metrics, /healthz, /readyz) port
                       (default 9464; 0 = any free port; -1 = no admin endpoint; same rule)
  --admin-token TOKEN  operator bearer token for /api/v1, at least 16 characters without
                       spaces (default: $TRIBUTARY_DEV_ADMIN_TOKEN, else a random one per
                       session, printed in the banner)
  --sensors N          simulated devices, spread over 3 floors; each reports temperature,
                       humidity and CO2 in turn (default 20)
  --rate R             messages per second over the whole fleet (default 20)
  --count C            stop publishing after C messages; the rest keeps running (default 0 =
                       publish until stopped)
  --duration D         stop everything after D, as Ctrl-C would, e.g. 30s (default 0 = run
                       until Ctrl-C)
  --seed N             seed for the simulated readings, to repeat a run (default 0 = random)
  --view-interval D    time between two blocks of the live view (default 1s)
  --quiet              no live view; only the banner and the final summary
  --plugin-cache DIR   where the plugins are built and their machine code kept (default: the
                       user cache folder's tributary/dev-plugins, e.g.
                       ~/.cache/tributary/dev-plugins); delete it to start cold
  --log-level LEVEL    gateway and broker log level on stderr: debug, info, warn, error
                       (default warn)

Other TRIBUTARY_* environment variables (the gateway's configuration overrides) do not apply
to dev.
`

// devTokenEnv names the environment variable --admin-token defaults to.
const devTokenEnv = "TRIBUTARY_DEV_ADMIN_TOKEN"

func init() {
	commands["dev"] = &command{summary: "try it: embedded MQTT broker, in-memory Kafka, simulated sensors", usage: devUsage, run: devCommand}
}

// devFlags holds the parsed flags of `tributary dev`.
type devFlags struct {
	mqttPort, kafkaPort, adminPort int
	sensors, count                 int
	rate                           float64
	duration, viewInterval         time.Duration
	seed                           uint64
	quiet                          bool
	pluginCache, logLevel          string
	adminToken                     string
}

// newDevFlagSet defines dev's flags; devUsage documents every one of them.
func newDevFlagSet(stdout io.Writer) (*flag.FlagSet, *devFlags) {
	fs := newFlagSet("dev", devUsage, stdout)
	f := &devFlags{}
	fs.IntVar(&f.mqttPort, "mqtt-port", 1883, "")
	fs.IntVar(&f.kafkaPort, "kafka-port", 9092, "")
	fs.IntVar(&f.adminPort, "admin-port", 9464, "")
	fs.IntVar(&f.sensors, "sensors", 20, "")
	fs.Float64Var(&f.rate, "rate", 20, "")
	fs.IntVar(&f.count, "count", 0, "")
	fs.DurationVar(&f.duration, "duration", 0, "")
	fs.Uint64Var(&f.seed, "seed", 0, "")
	fs.DurationVar(&f.viewInterval, "view-interval", time.Second, "")
	fs.BoolVar(&f.quiet, "quiet", false, "")
	fs.StringVar(&f.pluginCache, "plugin-cache", "", "")
	fs.StringVar(&f.logLevel, "log-level", "warn", "")
	fs.StringVar(&f.adminToken, "admin-token", os.Getenv(devTokenEnv), "")
	return fs, f
}

// devCommand runs `tributary dev`; see devUsage. It returns nil when stopped by ctx (Ctrl-C)
// or --duration, flag.ErrHelp after printing the usage for --help, and a usageError for bad
// flags.
func devCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newDevFlagSet(stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	// A default port that is taken falls back to a free one; a port the user chose must be free.
	port := func(name string, n int) devrun.Port { return devrun.Port{Number: n, Fallback: !set[name]} }

	release := quitOnSecondInterrupt("dev", stopGrace, stderr)
	defer release()
	_, err := devrun.Run(ctx, devrun.Options{
		MQTT:         port("mqtt-port", f.mqttPort),
		Kafka:        port("kafka-port", f.kafkaPort),
		Admin:        port("admin-port", f.adminPort),
		Fleet:        fleet.Config{Sensors: f.sensors, Rate: f.rate, Count: f.count, Seed: f.seed},
		Duration:     f.duration,
		ViewInterval: f.viewInterval,
		Quiet:        f.quiet,
		PluginCache:  f.pluginCache,
		AdminToken:   f.adminToken,
		Load:         config.LoadBytes,
		Logger:       newLogger(stderr, f.logLevel, "text"),
		Stdout:       stdout,
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Ctrl-C while building or compiling the plugins: what the user asked for, not a failure.
		fmt.Fprintf(stderr, "tributary dev: stopped before the gateway started (%v)\n", err)
		return nil
	}
	return err
}

// check turns out-of-range flag values into usage errors naming the flag.
func (f *devFlags) check() error {
	var level slog.Level
	switch {
	case f.sensors < 1:
		return usageError{fmt.Errorf("--sensors %d: want at least 1", f.sensors)}
	case !(f.rate > 0):
		return usageError{fmt.Errorf("--rate %v: want more than 0 messages/s", f.rate)}
	case f.count < 0:
		return usageError{fmt.Errorf("--count %d: want 0 (forever) or more", f.count)}
	case f.duration < 0:
		return usageError{fmt.Errorf("--duration %v: want 0 (until Ctrl-C) or more", f.duration)}
	case f.viewInterval <= 0:
		return usageError{fmt.Errorf("--view-interval %v: want more than 0", f.viewInterval)}
	case f.adminPort < -1:
		return usageError{fmt.Errorf("--admin-port %d: want -1 (off), 0 (any free port) or a port", f.adminPort)}
	case f.adminToken != "" && (len(f.adminToken) < 16 || strings.ContainsAny(f.adminToken, " \t\r\n")):
		return usageError{fmt.Errorf("--admin-token: want at least 16 characters without spaces (from --admin-token or $%s), e.g. openssl rand -hex 16", devTokenEnv)}
	case level.UnmarshalText([]byte(f.logLevel)) != nil:
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)}
	}
	return nil
}
