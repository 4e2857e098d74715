// Package mqttsource is the MQTT side of a flow: one MQTT v5 session (autopaho) that
// subscribes to the flow's filters and hands each message to the flow, acknowledging nothing
// itself; the flow acknowledges a message once Kafka holds everything made from it.
//
// Besides the session it owns what keeps delivery exact and the connection alive under
// backpressure:
//
//   - copy detection: a broker sends one copy of a message per matching filter of a session;
//     subscription identifiers tell them apart (twins), and a fence message published to the
//     session itself separates the messages routed before a subscription change from those
//     routed after it, so copies are processed once;
//   - a buffered connection (packetConn) that reads through a buffer and coalesces paho's
//     writes, so acknowledgements under load leave in one system call instead of one each;
//   - a pinger that takes the silence of a connection the flow deliberately stopped reading
//     (its in-flight budget is full) for backpressure, not for a dead link;
//   - a read gate (HoldReads, ReleaseReads): while the flow waits for in-flight room the
//     connection is not read at all, so the broker keeps what it would send instead of paho
//     queueing up to a Receive Maximum of messages in memory;
//   - knowing when acknowledgements are out (Ack, AcksWritten): the connection settles each
//     expected PUBACK or PUBREC as it writes it, and a PINGREQ round trip shows the broker
//     has read them, so a drain disconnects without sleeping and without losing acks;
//   - subscription changes that subscribe new filters before dropping old ones, so a filter
//     kept across a reload is never unsubscribed.
package mqttsource
