// Package flow is the message path of one MQTT session between the source and the sink:
// intake (the MQTT source's callback: the tenant's rate cap, an in-flight slot, matching the message
// against the route table), the shards that keep one MQTT topic's messages in order, the
// plugin chain run on each shard batch, and the hand-off of outputs and dead letters to the
// Kafka sink.
//
// It exists so that package gateway stays off the message path: the gateway builds routes
// from configuration (compiling plugins), hands a Flow finished routes in a Table, swaps
// tables on reload and drains on shutdown; the flow never calls back into the gateway. What
// the flow needs from outside comes in Config: the MQTT session's configuration (the flow
// creates its mqttsource.Source, whose callbacks are the flow's), the Sink, the Prometheus
// handles of Metrics (the registry stays in the gateway), the clock, and the context plugin
// calls run under.
//
// # Ordering, backpressure, swaps
//
//   - A message goes to the shard of a hash of its MQTT topic; a shard handles its messages in
//     arrival order, so one topic's records are produced in order on every route.
//   - Intake takes a delivery.Tracker slot per message; while it waits for one, the source
//     stops reading its socket (mqttsource.Source.HoldReads) and the broker holds the rest.
//   - The read side of the flow's intake lock spans matching and handing over; Swap and
//     CloseIntake take the write side, so a swap sees every message entirely before it, on the
//     old routes, or after it, on the new ones.
//
// It must never import package gateway (gateway/internal/... serves the gateway alone); its
// allowed imports are in ARCHITECTURE.md. The entry points are New, NewRoute, NewTable,
// Flow.Start, Flow.Swap and Flow.CloseIntake.
package flow
