// Package gateway moves MQTT messages to Kafka through per-route chains of WebAssembly
// plugins. It builds the flows (one MQTT session per tenant, plus one for the top-level
// routes), runs them, reloads them without dropping a message, watches the configuration,
// tenant and plugin files, holds a tenant whose configuration or plugins do not load without
// stopping anyone else, and serves the admin API's backend. The message path itself lives
// under gateway/internal and never calls back into the gateway: the MQTT session
// (mqttsource), the flow with its intake, shards and chain runs (flow), the delivery tracker
// (delivery) and the Kafka sink with its dead letters (kafkasink). The gateway builds routes
// from configuration and hands each flow finished routes; ARCHITECTURE.md at the
// repository's root maps the pieces, with the goroutines and the locks.
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
// # Stopping
//
// Run's drain stops intake, waits for the shards, flushes Kafka, waits until every message in
// flight is acknowledged and the broker has read the acknowledgements, then disconnects, all
// within flow.drain_timeout; nothing on that path sleeps or polls. What is not acknowledged
// by then is redelivered by the broker to the next session.
package gateway
