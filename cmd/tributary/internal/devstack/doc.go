// Package devstack runs the infrastructure `tributary dev` needs inside the process: an MQTT v5
// broker (mochi-mqtt, TCP on loopback, every client and topic allowed) and an in-memory Kafka
// (franz-go's kfake, topics created on first use). Nothing is persisted; everything is gone
// when the process exits. For trying Tributary, never for production.
//
// Entry points: StartBroker, StartKafka, and ReserveAddr for ports someone else will listen on.
// Ports follow one rule everywhere: 0 means any free port, and with fallback a taken port is
// replaced by a free one instead of failing.
//
// The package imports nothing of ours.
package devstack
