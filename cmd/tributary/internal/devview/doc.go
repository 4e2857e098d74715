// Package devview draws the live view of `tributary dev` in a plain terminal: one text block
// per tick with the fleet's progress and, per route, messages in, out to Kafka, filtered and
// dead-lettered with rates, followed by a few samples of records as they land in Kafka.
//
// Entry points: Render draws one Frame; Tap consumes the route topics and hands out samples.
// Stats mirrors the gateway's counters so that this package does not import gateway (the
// caller converts); it imports nothing of ours.
package devview
