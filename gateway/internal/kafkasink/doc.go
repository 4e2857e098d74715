// Package kafkasink is the Kafka side of a flow: it maps each output of a message on a route
// to a Kafka record (topic and key templates, the JSON envelope, headers, the tenant's
// namespace), produces it with franz-go (idempotent, acks=all) and decides every dead letter.
//
// It exists so that the message path's last step is one package with one job, apart from
// package gateway, which builds routes, runs flows and reloads: the gateway holds a Route
// per configured route and hands the sink a Message view of each MQTT message with its
// delivery handle; the sink settles one count of that delivery per record Kafka acknowledges.
//
// Besides producing, it owns what keeps delivery exact when Kafka fails:
//
//   - the retry queue: a record whose produce failed with an error that says nothing against
//     it is produced again after a jittered, doubling backoff, keeping the order of one key's
//     records; dead letters are produced from the same queue, never from a promise;
//   - the dead-letter decisions and the shrink ladder: a record Kafka refuses for good, or
//     that cannot be mapped, becomes a dead letter, and a dead letter Kafka refuses as too
//     large is built again smaller until it fits (or waits, unacknowledged);
//   - the topic purger: a topic deleted and created again (UNKNOWN_TOPIC_ID) is purged from
//     the producer so that its retries reach the new topic;
//   - each route's produce progress (Progress): records waiting for Kafka and when the last
//     was acknowledged, which tells when a route stalls.
//
// It must never import package gateway (gateway/internal/... serves the gateway alone); its
// allowed imports are in ARCHITECTURE.md. The entry points are New, NewRoute, Sink.Produce and
// Sink.DeadLetter.
package kafkasink
