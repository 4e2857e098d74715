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

The embedded broker suits rate mode at modest rates. It holds back QoS 1/2 messages beyond a
subscriber's receive maximum (the gateway's mqtt.receive_maximum, 1000) and drops them when
its write queue is full, so flat and backlog runs on it report losses that are the broker's:
use --mosquitto (or --mqtt) for load figures.

Modes:
  --mode flat      publish --count messages as fast as the broker takes them (default)
  --mode rate      publish --rate messages/s in total for --duration
  --mode backlog   queue --count messages for the gateway's offline session, then start the
                   gateway and time the drain until all of them are in Kafka

Flags:
  --mode MODE          flat, rate or backlog (default flat)
  --count N            messages for flat and backlog (default 100000)
  --rate R             messages per second over all publishers, rate mode (default 2000)
  --duration D         how long rate mode publishes, e.g. 30s (default 10s)
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
                       missing ones as lost (default 5s)
  --timeout D          bound on the whole run (default 10m)
  --json               print the result as JSON instead of a table
  --quiet              no progress display
  --log                pass the gateway's warnings and errors on to stderr
  --cpuprofile FILE    write a CPU profile of this process for the whole run; with
                       --gateway inprocess it covers the gateway (go tool pprof FILE)

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
	fs.StringVar(&o.MQTT, "mqtt", "", "")
	fs.BoolVar(&o.Mosquitto, "mosquitto", false, "")
	fs.StringVar(&o.MosquittoPath, "mosquitto-path", loadbench.DefaultMosquitto, "")
	fs.StringVar(&f.kafka, "kafka", "", "")
	fs.StringVar(&o.KafkaTopic, "kafka-topic", "", "")
	fs.StringVar(&o.Gateway, "gateway", o.Gateway, "")
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "")
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
	if o.Gateway == loadbench.GatewaySubprocess {
		exe, err := os.Executable()
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
	res, err := loadbench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteTable(stdout)
}

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
