// Package loadbench is the engine of `tributary bench`: it starts (or connects to) an MQTT
// broker, a Kafka cluster and a gateway, publishes sequenced, timestamped messages with many
// concurrent MQTT clients, reads the records back from Kafka and reports throughput,
// end-to-end latency percentiles, lost and duplicated messages, gateway CPU seconds per 100k
// messages and peak memory.
//
// The main entry point is [Run] with an [Options] value; [Result] holds what it measured and
// prints itself as a table ([Result.WriteTable]) or JSON (encoding/json).
//
// [ModeSoak] runs for minutes while a seeded scheduler injects faults ([FaultKinds]): it
// kills and restarts the gateway subprocess and Mosquitto (with persistence), makes Kafka
// refuse produces, slows or cuts the network through TCP proxies it controls, and sends
// plugin-fault and poison messages through a misbehaving plugin built at run time from an
// embedded source (soakplugin/main.go.txt) with wasmbuild. Its [SoakResult] counts messages
// published, delivered, dead-lettered, duplicated and lost.
//
// [RunScale] (`tributary bench --mode scale`) runs a series of such runs, one per scaling
// point: routes, topics, tenants, first-party chain length and payload size, one dimension at
// a time from a baseline or every combination, and prints a table ([ScaleResult.Write]) for
// sizing a deployment. The gateway each run starts is laid out by Options.Routes, Tenants
// and FirstPartyChain: generated routes (each message matching exactly one), tenant folders
// with their tenant.yaml, and chains of first-party plugins built from Go source with
// devrun.BuildFirstParty, as `tributary dev` builds them.
//
// It owns the benchmark's own publisher (paho), consumer (franz-go), payload format and
// accounting. It reuses cmd/tributary/internal/devstack for the embedded broker and Kafka,
// kfake directly for the soak's Kafka and sdk/wasmbuild for the soak
// plugin, gateway/gatewaytest/faultproxy (the tests' fault proxy) between the gateway and the
// broker and Kafka, gateway/gatewaytest/mosquitto (the tests' Mosquitto launcher), and imports gateway and gateway/config to run a gateway in-process. It
// must not import gateway/gatewaytest itself, which is test-only.
package loadbench
