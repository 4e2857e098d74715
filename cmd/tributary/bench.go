package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/loadbench"
)

const benchUsage = `Usage: tributary bench [flags]

A load benchmark: publishes sequenced, timestamped JSON messages with many concurrent MQTT
clients, lets a gateway move them to Kafka and reads them back. It reports throughput,
end-to-end latency percentiles (publish to the record read from Kafka), lost and duplicated
messages (by MQTT topic and sequence number), CPU seconds per 100k messages and peak memory,
as a table on stdout (or JSON with --json), with a progress bar on stderr.

By default everything runs here: an embedded MQTT broker (mochi), an in-memory Kafka
(kfake) and the gateway in this process, with one route PREFIX/# -> a fresh Kafka topic,
payload as is. Before the gateway starts, the benchmark creates its persistent session
(--client-id, clean start, 1h expiry, subscribed to PREFIX/#) so nothing is missed.

The embedded broker (mochi) does not enforce a subscriber's receive maximum: mochi v2.7.9
deadlocks when it holds messages back for one, so the gateway's TCP window does the flow
control instead. It drops QoS 1/2 messages for a subscriber that has 65535 unacknowledged or
65535 waiting to be written, which a long flat or backlog run can reach: use --mosquitto
(or --mqtt) for load figures. Ctrl-C stops a run within a few seconds (a second Ctrl-C quits
at once).

Modes:
  --mode flat      publish --count messages as fast as the broker takes them (default)
  --mode rate      publish --rate messages/s in total for --duration
  --mode backlog   queue --count messages for the gateway's offline session, then start the
                   gateway and time the drain until all of them are in Kafka
  --mode soak      publish --rate messages/s for --duration while faults are injected, one
                   at a time every --fault-every, then wait for the backlog to drain; exits 1
                   if any message was lost (see Soak below)

Flags:
  --mode MODE          flat, rate, backlog or soak (default flat)
  --count N            messages for flat and backlog (default 100000)
  --rate R             messages per second over all publishers, rate and soak modes
                       (default 2000; 500 in soak mode)
  --duration D         how long rate and soak modes publish, e.g. 30s or 5m (default 10s)
  --seed N             soak: seeds the fault scheduler; the same seed gives the same sequence
                       of faults, how many of them fit in --duration varies (default: from
                       the clock, printed in the result)
  --faults LIST        soak: fault kinds to inject, comma list (default all): gateway-kill,
                       broker-restart, kafka-down, kafka-slow, mqtt-cut, kafka-cut, plugin,
                       poison
  --fault-every D      soak: time between the starts of two faults; each is held for 40-80%
                       of it (default 5s)
  --mqtt URL           use this broker (tcp://host:port) instead of starting one
  --mosquitto          start /usr/sbin/mosquitto on a free port with unlimited queues
                       instead of the embedded broker (see --mosquitto-path)
  --mosquitto-path P   the mosquitto binary (default /usr/sbin/mosquitto)
  --kafka BROKERS      use these Kafka seed brokers (comma list) instead of an embedded kfake
  --kafka-topic T      the Kafka topic to read (default tributary_bench_<run id>; required
                       with --gateway external: the topic its route writes to)
  --gateway MODE       inprocess (default): the gateway runs in this process, and CPU and
                       memory are those of the whole process, benchmark included;
                       subprocess: runs this binary as 'tributary run --config FILE', and CPU
                       (utime+stime) and peak RSS (VmHWM) are the gateway's alone, from
                       /proc/<pid>; external: a gateway already running, subscribed to
                       PREFIX/# on --mqtt and writing to --kafka-topic on --kafka (not
                       measured; not for backlog mode)
  --client-id ID       the MQTT client id of the gateway the benchmark starts
                       (default tributary-bench)
  --protocol V         the gateway's mqtt.protocol, 5 or 3.1.1 (default 5); the
                       benchmark's publishers stay MQTT v5
  --topics N           MQTT topics PREFIX/devNNNNN/telemetry to spread messages over
                       (default 1000)
  --topic-prefix P     first topic level (default bench)
  --payload BYTES      payload size, at least 100; JSON with run id, topic, sequence number
                       and publish time, padded (default 180)
  --qos N              publish and subscription QoS, 0, 1 or 2 (default 1)
  --publishers N       concurrent MQTT publishing connections (default 8)
  --chain NAMES        plugins for the route's chain, comma list of names in --plugin-dir
                       (default none)
  --plugin-dir DIR     where --chain plugins NAME.wasm live (default ./plugins)
  --settle D           after publishing, how long to wait with no new record before counting
                       missing ones as lost (default 5s; 1m in soak mode)
  --timeout D          bound on the whole run (default 10m)
  --json               print the result as JSON instead of a table
  --quiet              no progress display
  --log                pass the gateway's warnings and errors on to stderr
  --cpuprofile FILE    write a CPU profile of this process for the whole run; with
                       --gateway inprocess it covers the gateway (go tool pprof FILE)

Soak: it always runs Mosquitto (--mosquitto-path) with persistence, an embedded Kafka
(kfake) and this binary as a gateway subprocess, with two routes: PREFIX/# without plugins,
and PREFIX-p/# through a plugin built from source at the start (needs the go command) that
traps, loops or returns garbage on marked messages and rejects bad payloads. The gateway
reaches the broker and Kafka through TCP proxies the benchmark controls. Every fifth topic
is published at QoS 2, the rest at QoS 1; the plugin route gets a twentieth of the rate. The
first faults are each kind once, in a seeded random order, then kinds drawn at random:
  gateway-kill     SIGKILL the gateway, restart it after the pause
  broker-restart   stop Mosquitto (SIGINT, so it saves its persistence file), restart it
  kafka-down       Kafka refuses every produce (retriable NOT_ENOUGH_REPLICAS)
  kafka-slow       100-500ms added between the gateway and Kafka
  mqtt-cut         the network between the gateway and the broker is cut
  kafka-cut        the network between the gateway and Kafka is cut
  plugin           the next plugin-route messages trap, loop and return garbage (one in 25
                   always does)
  poison           one empty, 1 MB, invalid UTF-8, invalid JSON, deeply nested and binary
                   message each to the plugin route
Each fault is logged with its time on stderr. The result counts messages published,
delivered to their route's topic or to the dead-letter topic (poison and plugin-fault
messages are expected there), duplicated and lost, dead-letter records by
tributary.error.kind, per-topic order violations, peak gateway RSS over all its restarts and
the faults injected by kind. --settle bounds the wait for the backlog to drain.

Environment: TRIBUTARY_* variables are not passed to a subprocess gateway; its config is
generated. TRIBUTARY_BENCH_GATEWAY_ENV (comma list of K=V) is added to its environment.
`

func init() {
	commands["bench"] = &command{summary: "load benchmark: throughput, latency, loss, CPU and memory", usage: benchUsage, run: benchCommand}
}

// benchFlags holds what `tributary bench` parses besides loadbench.Options.
type benchFlags struct {
	o                   loadbench.Options
	kafka, chain        string
	qos                 uint
	asJSON, quiet, logs bool
	cpuProfile          string
	faults              string
	seed                int64
}

// newBenchFlagSet defines bench's flags; benchUsage documents every one of them.
func newBenchFlagSet(stdout io.Writer) (*flag.FlagSet, *benchFlags) {
	f := &benchFlags{o: loadbench.Defaults()}
	o := &f.o
	fs := newFlagSet("bench", benchUsage, stdout)
	fs.StringVar(&o.Mode, "mode", o.Mode, "")
	fs.Int64Var(&o.Count, "count", o.Count, "")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "")
	fs.Int64Var(&f.seed, "seed", 0, "")
	fs.StringVar(&f.faults, "faults", "", "")
	fs.DurationVar(&o.FaultEvery, "fault-every", o.FaultEvery, "")
	fs.StringVar(&o.MQTT, "mqtt", "", "")
	fs.BoolVar(&o.Mosquitto, "mosquitto", false, "")
	fs.StringVar(&o.MosquittoPath, "mosquitto-path", loadbench.DefaultMosquitto, "")
	fs.StringVar(&f.kafka, "kafka", "", "")
	fs.StringVar(&o.KafkaTopic, "kafka-topic", "", "")
	fs.StringVar(&o.Gateway, "gateway", o.Gateway, "")
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "")
	fs.StringVar(&o.Protocol, "protocol", "", "")
	fs.IntVar(&o.Topics, "topics", o.Topics, "")
	fs.StringVar(&o.TopicPrefix, "topic-prefix", o.TopicPrefix, "")
	fs.IntVar(&o.PayloadBytes, "payload", o.PayloadBytes, "")
	fs.UintVar(&f.qos, "qos", uint(o.QoS), "")
	fs.IntVar(&o.Publishers, "publishers", o.Publishers, "")
	fs.StringVar(&f.chain, "chain", "", "")
	fs.StringVar(&o.PluginDir, "plugin-dir", "./plugins", "")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "")
	fs.BoolVar(&f.asJSON, "json", false, "")
	fs.BoolVar(&f.quiet, "quiet", false, "")
	fs.BoolVar(&f.logs, "log", false, "")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "")
	return fs, f
}

// benchCommand runs `tributary bench`; see benchUsage. It returns flag.ErrHelp after printing
// the usage for --help, a usageError for bad flags, and loadbench.Run's errors. Lost or
// duplicated messages are results, printed, not errors.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBenchFlagSet(stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := f.o
	kafka, chain, qos, asJSON, quiet, logs := &f.kafka, &f.chain, &f.qos, &f.asJSON, &f.quiet, &f.logs
	o.Kafka = splitList(*kafka)
	o.Chain = splitList(*chain)
	if len(o.Chain) == 0 {
		o.PluginDir = ""
	}
	if *qos > 2 {
		return usageError{fmt.Errorf("--qos %d: want 0, 1 or 2", *qos)}
	}
	o.QoS = byte(*qos)
	if o.Mode == loadbench.ModeSoak {
		o.Gateway = loadbench.GatewaySubprocess
		o.Seed = f.seed
		if !flagSet(fs, "seed") {
			o.Seed = time.Now().UnixNano() % 1_000_000
		}
		if f.faults != "" {
			o.Faults = splitList(f.faults)
		}
		if !flagSet(fs, "settle") {
			o.Settle = time.Minute
		}
		if !flagSet(fs, "rate") {
			o.Rate = 500
		}
	}
	if o.Gateway == loadbench.GatewaySubprocess {
		exe, err := benchExecutable()
		if err != nil {
			return fmt.Errorf("finding this binary for --gateway subprocess: %w", err)
		}
		o.Executable = exe
		o.GatewayEnv = splitList(os.Getenv("TRIBUTARY_BENCH_GATEWAY_ENV"))
	}
	if err := o.Check(); err != nil {
		return usageError{err}
	}
	if !*quiet {
		o.Progress = stderr
		o.ProgressTTY = isTerminal(stderr)
	}
	if *logs {
		o.Log = stderr
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("--cpuprofile %s: %w", f.cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	release := quitOnSecondInterrupt("bench", stopGrace, stderr)
	defer release()
	res, err := loadbench.Run(ctx, o)
	if err != nil {
		return interrupted(ctx, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteTable(stdout)
	}
	if err == nil && o.Mode == loadbench.ModeSoak && res.Lost > 0 {
		return fmt.Errorf("soak lost %d of %d messages", res.Lost, res.Published)
	}
	return err
}

// flagSet reports whether name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// benchExecutable returns the binary a subprocess gateway runs; tests replace it with a
// built tributary, since a test binary cannot run `run`.
var benchExecutable = os.Executable

// splitList splits a comma list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
