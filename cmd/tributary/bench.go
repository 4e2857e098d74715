package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
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
  --mode reverse   both directions on one broker and Kafka: first the backlog drain above,
                   then the way back: --count records written to a Kafka topic (keys spread
                   over --topics devices), then a gateway with one reverse route publishes
                   them to PREFIX-rev/<key> at --qos, counted by a subscriber; msg/s and CPU
                   per 100k for each direction, side by side
  --mode soak      publish --rate messages/s for --duration while faults are injected, one
                   at a time every --fault-every, then wait for the backlog to drain; exits 1
                   if any message was lost (see Soak below)
  --mode scale     size a deployment: run a backlog drain (or a rate run, --point-mode) for
                   each scaling point of --routes, --topics, --tenants, --chain and
                   --payload, and print a table (see Scale below)

Flags:
  --mode MODE          flat, rate, backlog, reverse, soak or scale (default flat)
  --count N            messages for flat, backlog and reverse, and per point in scale mode
                       (default 100000)
  --rate R             messages per second over all publishers, rate and soak modes and
                       scale's --point-mode rate (default 2000; 500 in soak mode)
  --duration D         how long those modes publish, e.g. 30s or 5m (default 10s)
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
                       measured; not for backlog mode). Scale and soak modes always run a
                       subprocess
  --client-id ID       the MQTT client id of the gateway the benchmark starts
                       (default tributary-bench)
  --protocol V         the gateway's mqtt.protocol, 5 or 3.1.1 (default 5); the
                       benchmark's publishers stay MQTT v5
  --topics N           MQTT topics PREFIX/devNNNNN/telemetry to spread messages over
                       (default 1000); a comma list in scale mode
  --topic-prefix P     first topic level (default bench)
  --payload BYTES      payload size, at least 100; JSON with run id, topic, sequence number
                       and publish time, padded (default 180); a comma list in scale mode
  --routes N           routes per MQTT session (the top-level routes, or each tenant's), each
                       matching an equal share of the session's topics, so each message
                       matches exactly one route (default 1). With more than one, topics are
                       PREFIX/rJJJ/devNNNNN/telemetry and route J's filter is
                       PREFIX/rJJJ/+/telemetry; a comma list in scale mode
  --tenants N          tenants, each a folder with its tenant.yaml (namespace PREFIX/tKK/ and
                       its own Kafka topic), its own MQTT session and --routes routes; the
                       topics are dealt out to them in turn (default 0: top-level routes); a
                       comma list in scale mode
  --qos N              publish and subscription QoS, 0, 1 or 2 (default 1)
  --publishers N       concurrent MQTT publishing connections (default 8)
  --chain NAMES|N      every route's chain: a comma list of plugin names in --plugin-dir (a
                       stage's config, a JSON object, is NAME.json beside NAME.wasm when that
                       file exists), or
                       a number of first-party stages: topic-fields, units, filter in that
                       order, repeated for more than 3, each configured to keep every message
                       (built from Go source into --plugin-cache once: needs the go command);
                       in scale mode a comma list of numbers, e.g. 0,1,3 (default none)
  --plugin-dir DIR     where --chain plugins NAME.wasm live (default ./plugins)
  --schema FORMAT      avro, protobuf or json_schema: start an in-process Schema Registry,
                       register the payload's schema in that format under each Kafka topic's
                       value subject (<topic>-value), and have every route encode its values
                       with it (kafka.schema_registry.url, to.value_schema); the records are
                       read back through decoders of the benchmark's own (Confluent header
                       and schema id checked), so loss and duplicates are still counted.
                       Flat, rate, backlog and scale modes (in scale mode one format for
                       every point, not a dimension)
  --schema-compare     run the same backlog (or rate) run without a schema and with --schema,
                       alternating, --rounds times each (default 3), with the gateway as a
                       subprocess, and print both sides' medians and the line "encoding cost:
                       +X µs CPU per message vs no schema"
  --plugin-cache DIR   where first-party --chain plugins are built and their machine code
                       kept (default: the user cache folder's tributary/bench-plugins, e.g.
                       ~/.cache/tributary/bench-plugins); delete it to start cold
  --point-mode MODE    scale: what each point runs, backlog (default: drain --count queued
                       messages; rate and CPU from the first record to the last) or rate
                       (--rate msg/s for --duration; adds p99 latency)
  --grid               scale: run every combination of the lists instead of one dimension
                       at a time
  --rounds N           scale: run all points N times in turn and report medians, with the
                       range of the rate (default 1); the machine's noise shows in the range.
                       --schema-compare: rounds of each side (default 3)
  --format F           scale: text (default), markdown or json
  --settle D           after publishing, how long to wait with no new record before counting
                       missing ones as lost (default 5s; 1m in soak mode)
  --timeout D          bound on the whole run (default 10m)
  --json               print the result as JSON instead of a table (scale: --format json)
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

Scale: for sizing a deployment. Each dimension takes a comma list; the first value of each
is the baseline, and every other value is run with the rest at the baseline (with --grid,
every combination). Each point is a run of its own: a fresh Mosquitto (--mosquitto is
implied; --mqtt URL uses a broker of yours), an embedded kfake and this binary as the
gateway subprocess, whose CPU time and peak RSS (VmHWM) are read from /proc. A line per
point goes to stderr; the table to stdout: the point, drain msg/s (first record to last),
its ratio to the baseline, the gateway's CPU seconds per 100k messages and ratio, its peak
RSS, the time from its start to the first record (backlog) or p99 latency (--point-mode
rate), lost and duplicated messages, then the cost of each dimension per unit (per 1,000
routes or topics, per tenant, per stage, per KiB) from the baseline to its largest value. Ctrl-C stops the run and prints the points measured so far. Example, 6
points (the baseline, 1,000 routes, 10,000 topics, 20 tenants, a 3-stage chain, 4 KiB):
  tributary bench --mode scale --count 100000 --routes 1,1000 --topics 1000,10000 \
      --tenants 0,20 --chain 0,3 --payload 180,4096 --format markdown
Backlog drains take --count messages per point (at least 50,000 for steady figures); on a
shared machine use --rounds 3.

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
	// The dimensions, each a comma list (one value outside --mode scale).
	routes, topics, tenants, payload string
	// Scale mode's own.
	grid              bool
	rounds            int
	format, pointMode string
	// --schema-compare.
	schemaCompare bool
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
	fs.StringVar(&f.topics, "topics", strconv.Itoa(o.Topics), "")
	fs.StringVar(&o.TopicPrefix, "topic-prefix", o.TopicPrefix, "")
	fs.StringVar(&f.payload, "payload", strconv.Itoa(o.PayloadBytes), "")
	fs.StringVar(&f.routes, "routes", strconv.Itoa(o.Routes), "")
	fs.StringVar(&f.tenants, "tenants", strconv.Itoa(o.Tenants), "")
	fs.UintVar(&f.qos, "qos", uint(o.QoS), "")
	fs.IntVar(&o.Publishers, "publishers", o.Publishers, "")
	fs.StringVar(&f.chain, "chain", "", "")
	fs.StringVar(&o.PluginDir, "plugin-dir", "./plugins", "")
	fs.StringVar(&o.PluginCache, "plugin-cache", "", "")
	fs.StringVar(&o.Schema, "schema", "", "")
	fs.BoolVar(&f.schemaCompare, "schema-compare", false, "")
	fs.BoolVar(&f.grid, "grid", false, "")
	fs.IntVar(&f.rounds, "rounds", 1, "")
	fs.StringVar(&f.format, "format", loadbench.FormatText, "")
	fs.StringVar(&f.pointMode, "point-mode", loadbench.ModeBacklog, "")
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
	kafka, qos, asJSON, quiet, logs := &f.kafka, &f.qos, &f.asJSON, &f.quiet, &f.logs
	o.Kafka = splitList(*kafka)
	dims, err := f.dimensions(o.Mode == loadbench.ModeScale)
	if err != nil {
		return usageError{err}
	}
	o.Routes, o.Topics, o.Tenants, o.FirstPartyChain, o.PayloadBytes =
		dims["routes"][0], dims["topics"][0], dims["tenants"][0], dims["chain"][0], dims["payload"][0]
	if f.chainNames() {
		o.Chain = splitList(f.chain)
	}
	if len(o.Chain) == 0 {
		o.PluginDir = ""
	}
	for _, name := range o.Chain {
		cfg, err := benchStageConfig(o.PluginDir, name)
		if err != nil {
			return usageError{err}
		}
		o.ChainConfigs = append(o.ChainConfigs, cfg)
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
	if o.Mode == loadbench.ModeScale {
		switch f.format {
		case loadbench.FormatText, loadbench.FormatMarkdown, loadbench.FormatJSON:
		default:
			return usageError{fmt.Errorf("--format %s: want text, markdown or json", f.format)}
		}
		if flagSet(fs, "gateway") && o.Gateway != loadbench.GatewaySubprocess {
			return usageError{fmt.Errorf("--gateway %s: --mode scale runs the gateway as a subprocess, to measure its CPU and memory alone", o.Gateway)}
		}
		o.Gateway = loadbench.GatewaySubprocess
		if o.MQTT == "" && !o.Mosquitto {
			o.Mosquitto = true
		}
		if o.Mosquitto {
			if _, err := os.Stat(o.MosquittoPath); err != nil {
				return usageError{fmt.Errorf("--mode scale runs Mosquitto: %v (install mosquitto, set --mosquitto-path, or give --mqtt URL)", err)}
			}
		}
	}
	if f.schemaCompare {
		switch {
		case o.Schema == "":
			return usageError{errors.New("--schema-compare: give the format to compare with no schema, --schema avro|protobuf|json_schema")}
		case o.Mode != loadbench.ModeBacklog && o.Mode != loadbench.ModeRate:
			return usageError{fmt.Errorf("--schema-compare: --mode %s: want backlog or rate", o.Mode)}
		case flagSet(fs, "gateway") && o.Gateway != loadbench.GatewaySubprocess:
			return usageError{fmt.Errorf("--gateway %s: --schema-compare runs the gateway as a subprocess, to measure its CPU alone", o.Gateway)}
		}
		o.Gateway = loadbench.GatewaySubprocess
		if !flagSet(fs, "rounds") {
			f.rounds = 3
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
	if o.Mode == loadbench.ModeScale {
		return benchScale(ctx, f, fs, o, dims, stdout, stderr)
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
	if f.schemaCompare {
		return benchSchemaCompare(ctx, o, f.rounds, *asJSON, stdout, stderr)
	}
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

// benchSchemaCompare runs --schema-compare: rounds runs of o without a schema and with
// o.Schema, alternating, a line per run on stderr, then the comparison on stdout.
func benchSchemaCompare(ctx context.Context, o loadbench.Options, rounds int, asJSON bool, stdout, stderr io.Writer) error {
	if rounds < 1 {
		return usageError{fmt.Errorf("--rounds %d: want at least 1", rounds)}
	}
	fmt.Fprintf(stderr, "tributary bench --schema-compare: %d rounds of %s runs, no schema then %s, each with its own broker, Kafka and gateway subprocess\n", rounds, o.Mode, o.Schema)
	o.Progress = nil // a line per run instead
	c, err := loadbench.CompareSchema(ctx, o, rounds, func(round int, r *loadbench.Result) {
		schema := "no schema"
		if r.Schema != nil {
			schema = r.Schema.Format
		}
		rate := r.DrainRate // backlog: the drain's
		if rate == 0 {
			rate = r.Throughput
		}
		fmt.Fprintf(stderr, "round %d, %s: %.0f msg/s, %.3f s CPU per 100k (drain: %.3f), %d lost, %d duplicated\n",
			round+1, schema, rate, r.CPUSecondsPer100k, r.DrainCPUSecondsPer100k, r.Lost, r.Duplicated)
	})
	if c == nil {
		return err
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\nthe rounds measured so far:\n", interrupted(ctx, err))
	}
	var werr error
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		werr = enc.Encode(c)
	} else {
		werr = c.WriteTable(stdout)
	}
	if err != nil {
		return interrupted(ctx, err)
	}
	return werr
}

// benchStageConfig returns the config of chain stage name: the JSON object in dir/NAME.json,
// compacted to one line, or nil when there is no such file.
func benchStageConfig(dir, name string) (json.RawMessage, error) {
	path, err := filepath.Abs(filepath.Join(dir, name+".json"))
	if err != nil {
		return nil, fmt.Errorf("--chain %s: %w", name, err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--chain %s: config: %w", name, err)
	}
	var obj map[string]any
	var out bytes.Buffer
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("--chain %s: config %s: want a JSON object: %w", name, path, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("--chain %s: config %s: want a JSON object, not null", name, path)
	}
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("--chain %s: config %s: %w", name, path, err)
	}
	return out.Bytes(), nil
}

// dimensions parses --routes, --topics, --tenants, --chain and --payload: comma lists of
// whole numbers, by dimension name (loadbench.Dimensions). --chain is a number of first-party
// stages, or plugin names (then its value here is [0]). Outside scale mode each takes one
// value.
func (f *benchFlags) dimensions(scale bool) (map[string][]int, error) {
	out := map[string][]int{}
	flags := map[string]string{"routes": f.routes, "topics": f.topics, "tenants": f.tenants, "chain": f.chain, "payload": f.payload}
	var errs []error
	for _, d := range loadbench.Dimensions {
		items := splitList(flags[d])
		if d == "chain" && len(items) == 0 {
			items = []string{"0"}
		}
		if d == "chain" && f.chainNames() {
			// Plugin names, for one chain: no scale dimension.
			if scale {
				errs = append(errs, fmt.Errorf("--chain %s: with --mode scale, give numbers of first-party stages (e.g. 0,1,3), not plugin names", f.chain))
			}
			out[d] = []int{0}
			continue
		}
		var vals []int
		for _, it := range items {
			n, err := strconv.Atoi(it)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("--%s %s: %q is not a whole number", d, flags[d], it))
				continue
			}
			vals = append(vals, n)
		}
		if len(items) == 0 {
			errs = append(errs, fmt.Errorf("--%s: want a value", d))
			continue
		}
		if len(vals) > 1 && !scale {
			errs = append(errs, fmt.Errorf("--%s %s: a list of values is for --mode scale", d, flags[d]))
		}
		out[d] = vals
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// chainNames reports whether --chain names plugins rather than counting first-party stages:
// any item that is not a whole number makes it a list of names.
func (f *benchFlags) chainNames() bool {
	for _, it := range splitList(f.chain) {
		if _, err := strconv.Atoi(it); err != nil {
			return true
		}
	}
	return false
}

// benchScale runs `tributary bench --mode scale`: the points of dims, a progress line per
// point on stderr and the table on stdout. Interrupted, it prints the rows measured so far.
func benchScale(ctx context.Context, f *benchFlags, fs *flag.FlagSet, o loadbench.Options, dims map[string][]int, stdout, stderr io.Writer) error {
	format := f.format
	if f.asJSON {
		format = loadbench.FormatJSON
	}
	so := loadbench.ScaleOptions{Base: o, PointMode: f.pointMode, Values: map[string][]int{}, Grid: f.grid, Rounds: f.rounds}
	so.Base.Mode = f.pointMode
	for d, vals := range dims {
		if flagSet(fs, d) {
			so.Values[d] = vals
		}
	}
	if err := so.Check(); err != nil {
		return usageError{err}
	}
	if !f.quiet {
		so.Progress = stderr
		so.ProgressTTY = isTerminal(stderr)
		points, _ := loadbench.ScalePoints(so)
		broker := "Mosquitto"
		if o.MQTT != "" {
			broker = "session on " + o.MQTT
		}
		fmt.Fprintf(stderr, "tributary bench --mode scale: %d points x %d rounds, each with its own %s, kfake and gateway subprocess\n", len(points), so.Rounds, broker)
	}
	if f.logs {
		so.Base.Log = stderr
	}
	release := quitOnSecondInterrupt("bench", stopGrace, stderr)
	defer release()
	res, err := loadbench.RunScale(ctx, so)
	if res != nil && len(res.Rows) > 0 {
		if werr := res.Write(stdout, format); werr != nil && err == nil {
			err = werr
		}
	}
	return interrupted(ctx, err)
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
