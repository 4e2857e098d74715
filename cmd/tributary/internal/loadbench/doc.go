// Package loadbench is the engine of `tributary bench`: it starts (or connects to) an MQTT
// broker, a Kafka cluster and a gateway, publishes sequenced, timestamped messages with many
// concurrent MQTT clients, reads the records back from Kafka and reports throughput,
// end-to-end latency percentiles, lost and duplicated messages, gateway CPU seconds per 100k
// messages and peak memory.
//
// The main entry point is [Run] with an [Options] value; [Result] holds what it measured and
// prints itself as a table ([Result.WriteTable]) or JSON (encoding/json).
//
// It owns the benchmark's own publisher (paho), consumer (franz-go), payload format and
// accounting. It reuses cmd/tributary/internal/devstack for the embedded broker and Kafka and
// imports gateway and gateway/config to run a gateway in-process. It must not import
// gateway/gatewaytest, which is test-only.
package loadbench
