// Package gateway moves MQTT messages to Kafka: it owns the source (an autopaho MQTT v5
// session with manual acknowledgement), the router (MQTT filter matching), the shards (one
// ordered worker per hash bucket of MQTT topics) and the plugin chains (through wasmhost), and
// hands every output and failure to the Kafka sink (gateway/internal/kafkasink: a franz-go
// idempotent producer that also decides the dead letters).
//
// The entry point is New followed by Run:
//
//	gw, err := gateway.New(cfg, gateway.WithLogger(log))
//	if err != nil { … }
//	err = gw.Run(ctx) // returns after ctx is done and in-flight messages are drained
//
// # Delivery
//
// An MQTT message is acknowledged to the broker only when every Kafka record produced from it,
// across all the routes it matched, has been acknowledged by Kafka (acks=all), or when its
// dead-letter record has. A message that matches no route is counted and acknowledged.
// Messages of one MQTT topic are transformed and produced in arrival order.
//
// # Lock order
//
// The hot path takes no locks of its own: the route table is an atomic pointer, deliveries
// count with atomics, shards own their queues. Gateway.intakeMu (read-locked by the MQTT
// callback while it hands a message to a shard, write-locked once by the drain) and the
// sink's retry-queue lock (in gateway/internal/kafkasink, held only around its queue) are the
// only locks; no code path holds both.
//
// Package gateway may import gateway/config, gateway/mqtttopic, gateway/admin and wasmhost;
// nothing below it may import gateway.
package gateway
