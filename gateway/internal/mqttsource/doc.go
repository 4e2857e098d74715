// Package mqttsource is the MQTT side of a flow: one MQTT session (the Source interface) that
// subscribes to the flow's filters and hands each message to the flow as a Message,
// acknowledging nothing itself; the flow acknowledges a message (Message.Ack) once Kafka holds
// everything made from it. mqtt.protocol picks the implementation: MQTT v5 (autopaho, the
// default) or MQTT 3.1.1 (Eclipse paho.mqtt.golang, v311Source). The flow sees no difference
// but the v5-only properties a 3.1.1 message lacks.
//
// Besides the session it owns what keeps delivery exact and the connection alive under
// backpressure:
//
//   - acknowledgements in receive order: paho.golang queues them so; for 3.1.1, ackOrder
//     holds each one until every earlier message's is sent;
//   - copy detection (MQTT v5 only; a 3.1.1 session's filters may not overlap, which
//     configuration checks): a broker sends one copy of a message per matching filter of a session;
//     subscription identifiers tell them apart (twins), and a fence message published to the
//     session itself separates the messages routed before a subscription change from those
//     routed after it, so copies are processed once;
//   - a buffered connection (packetConn) that reads through a buffer and coalesces paho's
//     writes, so acknowledgements under load leave in one system call instead of one each;
//   - a pinger that takes the silence of a connection the flow deliberately stopped reading
//     (its in-flight budget is full) for backpressure, not for a dead link (3.1.1 too:
//     paho.mqtt.golang's own keep-alive is off, and v311Conn puts mqtt.keep_alive in the
//     CONNECT and tells the pinger of each packet read);
//   - a read gate (HoldReads, ReleaseReads): while the flow waits for in-flight room the
//     connection is not read at all, so the broker keeps what it would send instead of paho
//     queueing up to a Receive Maximum of messages in memory;
//   - knowing when acknowledgements are out (Ack, AcksWritten): the connection settles each
//     expected PUBACK or PUBREC as it writes it, and a PINGREQ round trip shows the broker
//     has read them, so a drain disconnects without sleeping and without losing acks;
//   - subscription changes that subscribe new filters before dropping old ones, so a filter
//     kept across a reload is never unsubscribed.
package mqttsource
