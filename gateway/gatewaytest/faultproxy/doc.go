// Package faultproxy is a TCP proxy that breaks the connection on demand: refuse (Cut),
// accept and close (Reject), accept and never answer (Blackhole), stall (Pause) or slow
// (Delay). The gateway's tests put it between the gateway and Mosquitto or Kafka, and so does
// `tributary bench --soak`, so faults in tests and in the benchmark are the same faults.
//
// It imports only the standard library and nothing of ours, so test helpers
// (gateway/gatewaytest) and the bench (cmd/tributary/internal/loadbench) can both use it.
package faultproxy
