package loadbench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Modes for Options.Mode.
const (
	// ModeRate publishes Rate messages per second in total for Duration.
	ModeRate = "rate"
	// ModeFlat publishes Count messages as fast as the broker takes them.
	ModeFlat = "flat"
	// ModeBacklog queues Count messages for the gateway's offline persistent session, then
	// starts the gateway and times the drain.
	ModeBacklog = "backlog"
)

// ModeSoak (declared in soak.go) publishes Rate messages per second for Duration while
// faults of the kinds in Faults are injected one at a time, every FaultEvery.

// Options configures one benchmark run. The zero value is not usable; start from Defaults.
type Options struct {
	// Mode is ModeRate, ModeFlat or ModeBacklog.
	Mode string
	// Rate is messages per second over all publishers (ModeRate).
	Rate float64
	// Duration is how long ModeRate publishes.
	Duration time.Duration
	// Count is how many messages ModeFlat and ModeBacklog publish.
	Count int64

	// Seed seeds ModeSoak's fault scheduler: the same seed picks the same faults in the
	// same order with the same durations.
	Seed int64
	// Faults lists the fault kinds ModeSoak injects (see FaultKinds). Defaults to all.
	Faults []string
	// FaultEvery is the time between the starts of two faults in ModeSoak; each is held
	// for 40-80% of it. Defaults to 5s.
	FaultEvery time.Duration

	// MQTT is the broker URL (tcp://host:port). Empty starts a broker: Mosquitto when
	// Mosquitto is set, else an embedded mochi broker.
	MQTT string
	// Mosquitto starts MosquittoPath (default DefaultMosquitto) on a free loopback port with
	// unlimited queues, when MQTT is empty.
	Mosquitto     bool
	MosquittoPath string
	// Kafka lists seed brokers. Empty starts an embedded kfake cluster.
	Kafka []string
	// KafkaTopic is the topic records land in. Empty means "tributary_bench_<run id>" for a
	// gateway the benchmark starts; an external gateway needs it set to its route's topic.
	KafkaTopic string

	// Schema, when set, is a to.value_schema format (SchemaAvro, SchemaProtobuf or
	// SchemaJSONSchema): the benchmark starts an in-process Schema Registry, registers the
	// payload's schema in that format under each Kafka topic's value subject, has every route
	// encode its values with it, and decodes the records it reads back with decoders of its
	// own. Not with GatewayExternal, ModeSoak or ModeReverse.
	Schema string

	// Gateway is GatewayInProcess, GatewaySubprocess or GatewayExternal.
	Gateway string
	// Executable is the tributary binary GatewaySubprocess runs as `EXE run --config FILE`.
	Executable string
	// GatewayEnv is added to the subprocess's environment (TRIBUTARY_* variables of this
	// process are not passed on), e.g. to switch on profiling.
	GatewayEnv []string
	// Protocol is the gateway's mqtt.protocol: "5" (or empty) or "3.1.1". The benchmark's own
	// publishers and the priming of the session stay MQTT v5.
	Protocol string
	// ClientID is the gateway's MQTT client id; the benchmark primes this session.
	// Defaults to "tributary-bench".
	ClientID string
	// Chain names plugins (PluginDir/NAME.wasm) for every route's chain, in order. Optional.
	Chain     []string
	PluginDir string
	// ChainConfigs holds each stage's config, a JSON object, or nil for none. Optional; when
	// set, it has one entry per Chain entry.
	ChainConfigs []json.RawMessage
	// FirstPartyChain adds this many stages of first-party plugins to every route's chain
	// (FirstPartyPlugins in order, repeated), each with a configuration that keeps every
	// benchmark message. Run builds them from Go source into PluginCache once (the go command
	// must be on PATH) and points PluginDir there; their machine code is kept in
	// PluginCache/compiled. Not with Chain.
	FirstPartyChain int
	// PluginCache is where FirstPartyChain's plugins are built; empty means the user cache
	// folder's tributary/bench-plugins.
	PluginCache string
	// PluginCacheDir is the gateway's plugins.cache_dir (compiled machine code kept across
	// runs); empty means none. Run sets it for FirstPartyChain.
	PluginCacheDir string

	// Routes is how many routes each MQTT session of the gateway has (the top-level routes,
	// or each tenant's); each matches an equal share of that session's topics, so every
	// message matches exactly one route. Defaults to 1. See layout for the topics and filters.
	Routes int
	// Tenants is how many tenants the gateway serves, each a folder with its tenant.yaml, its
	// own namespace (MQTT PREFIX/tKK/, Kafka topics starting with its own), MQTT session and
	// Routes routes; the topics are dealt out to them in turn. 0 means no tenants: the routes
	// are top-level.
	Tenants int

	// TopicPrefix is the first topic level; topics are PREFIX/devNNNNN/telemetry and the
	// route filter is PREFIX/#. Defaults to "bench".
	TopicPrefix string
	// Topics is how many MQTT topics the messages are spread over.
	Topics int
	// PayloadBytes is the payload size; at least MinPayloadBytes.
	PayloadBytes int
	// QoS is the publish and subscription QoS, 0, 1 or 2.
	QoS byte
	// Publishers is the number of concurrent MQTT publishing clients.
	Publishers int

	// Settle is how long to keep reading from Kafka, once publishing is done, while no new
	// record arrives, before counting the missing ones as lost.
	Settle time.Duration
	// Timeout bounds the whole run.
	Timeout time.Duration

	// Progress receives the progress display; nil shows none. ProgressTTY redraws one line
	// with \r; otherwise a line is written every ProgressEvery.
	Progress      io.Writer
	ProgressTTY   bool
	ProgressEvery time.Duration
	// Log receives the logs of the gateway (warn and above) and of a gateway subprocess.
	// nil discards them.
	Log io.Writer
}

// MinPayloadBytes is the smallest PayloadBytes: the identifying fields need room.
const MinPayloadBytes = minPayload

// Defaults returns the options `tributary bench` starts from: flat mode, 100k QoS 1 messages
// of 180 bytes over 1,000 topics from 8 publishers, embedded broker and Kafka, in-process
// gateway.
func Defaults() Options {
	return Options{
		Mode:          ModeFlat,
		Rate:          2000,
		Duration:      10 * time.Second,
		Count:         100_000,
		Gateway:       GatewayInProcess,
		ClientID:      "tributary-bench",
		TopicPrefix:   "bench",
		Topics:        1000,
		PayloadBytes:  180,
		QoS:           1,
		Publishers:    8,
		Routes:        1,
		Settle:        5 * time.Second,
		Timeout:       10 * time.Minute,
		ProgressEvery: 5 * time.Second,
		Faults:        FaultKinds(),
		FaultEvery:    5 * time.Second,
	}
}

// Check reports every out-of-range option, each error naming the option.
func (o *Options) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch o.Mode {
	case ModeRate:
		if !(o.Rate > 0) {
			bad("rate %v: want more than 0 messages/s", o.Rate)
		}
		if o.Duration <= 0 {
			bad("duration %v: want more than 0", o.Duration)
		}
	case ModeFlat, ModeBacklog, ModeReverse:
		if o.Count < 1 {
			bad("count %d: want at least 1", o.Count)
		}
	case ModeSoak:
		o.checkSoak(bad)
	default:
		bad("mode %q: want %s, %s, %s, %s or %s", o.Mode, ModeRate, ModeFlat, ModeBacklog, ModeSoak, ModeReverse)
	}
	switch o.Gateway {
	case GatewayInProcess, GatewaySubprocess:
	case GatewayExternal:
		if o.Mode == ModeBacklog || o.Mode == ModeReverse {
			bad("mode %s needs a gateway the benchmark starts, not gateway external", o.Mode)
		}
		if o.KafkaTopic == "" {
			bad("kafka topic: required with gateway external (the topic its route writes to)")
		}
	default:
		bad("gateway %q: want %s, %s or %s", o.Gateway, GatewayInProcess, GatewaySubprocess, GatewayExternal)
	}
	if o.Gateway == GatewaySubprocess && o.Executable == "" {
		bad("executable: required with gateway subprocess")
	}
	if o.Topics < 1 {
		bad("topics %d: want at least 1", o.Topics)
	}
	if o.PayloadBytes < MinPayloadBytes {
		bad("payload %d: want at least %d bytes", o.PayloadBytes, MinPayloadBytes)
	}
	if o.QoS > 2 {
		bad("qos %d: want 0, 1 or 2", o.QoS)
	}
	if o.Publishers < 1 {
		bad("publishers %d: want at least 1", o.Publishers)
	}
	if o.Routes < 1 || o.Tenants < 0 || o.FirstPartyChain < 0 {
		bad("routes %d, tenants %d, chain %d: want at least 1 route, 0 or more tenants and stages", o.Routes, o.Tenants, o.FirstPartyChain)
	}
	if o.Topics < o.Tenants {
		bad("topics %d: want at least one per tenant (%d tenants)", o.Topics, o.Tenants)
	}
	if o.FirstPartyChain > 0 && len(o.Chain) > 0 {
		bad("chain: first-party stages (a number) and plugin names cannot be combined")
	}
	if o.Gateway == GatewayExternal && (o.Routes != 1 || o.Tenants != 0 || o.FirstPartyChain != 0) {
		bad("routes, tenants and first-party chains need a gateway the benchmark starts, not gateway external")
	}
	if o.Mode == ModeSoak && (o.Routes != 1 || o.Tenants != 0 || o.FirstPartyChain != 0) {
		bad("mode soak runs its own routes: no routes, tenants or first-party chain")
	}
	if o.Schema != "" {
		if _, err := registrySchema(o.Schema); err != nil {
			bad("%v", err)
		}
		if o.Gateway == GatewayExternal || o.Mode == ModeSoak || o.Mode == ModeReverse {
			bad("schema %s: needs a gateway the benchmark starts, in mode rate, flat or backlog", o.Schema)
		}
	}
	switch o.Protocol {
	case "", "5", "3.1.1", "311":
	default:
		bad("protocol %q: want 5 or 3.1.1", o.Protocol)
	}
	if o.MQTT != "" && o.Mosquitto {
		bad("mosquitto: cannot be combined with an mqtt url")
	}
	if o.TopicPrefix == "" || o.ClientID == "" {
		bad("topic prefix and client id must not be empty")
	}
	if o.Settle <= 0 || o.Timeout <= 0 {
		bad("settle %v and timeout %v: want more than 0", o.Settle, o.Timeout)
	}
	return errors.Join(errs...)
}

func (o *Options) logOut() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}
