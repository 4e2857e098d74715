// Package devstack runs the infrastructure `tributary dev` needs inside the process: an MQTT v5
// broker (mochi-mqtt, TCP on loopback, every client and topic allowed) and an in-memory Kafka
// (franz-go's kfake, topics created on first use). Nothing is persisted; everything is gone
// when the process exits. For trying Tributary, never for production.
//
// The broker does not enforce a client's Receive Maximum and queues up to 65535 messages per
// client: holding messages back for a subscriber is where mochi v2.7.9 deadlocks (see
// noSendQuota). Broker.Close gives up on clients stuck inside mochi after a few seconds, so
// that stopping never hangs.
//
// Entry points: StartBroker, StartKafka, and ReserveAddr for ports someone else will listen on.
// Ports follow one rule everywhere: 0 means any free port, and with fallback a taken port is
// replaced by a free one instead of failing.
//
// The package imports nothing of ours.
package devstack
