// Package mqtttopic parses and matches MQTT v5 topic filters and compiles the small
// templates that map an MQTT message to a Kafka topic or record key.
//
// It owns three things:
//
//   - Filters: [ParseFilter] checks a filter once (wildcard placement, length, UTF-8) and
//     returns a [Filter] whose [Filter.Match] runs without allocating. Matching follows
//     MQTT v5 section 4.7: "+" matches exactly one level (which may be empty), "#" matches
//     the parent level and every level below it, and a filter that starts with a wildcard
//     never matches a topic that starts with "$" (such as "$SYS/...").
//   - Topic names and shared subscriptions: [ValidTopic], [Shared] and [ValidShareGroup].
//     Users never write "$share/" themselves; the gateway adds it from mqtt.shared_group.
//   - Templates: [ParseTemplate] compiles a subset of text/template syntax
//     ({{.Topic}}, {{.Segment N}}, {{.Property "name"}}, {{.Payload "path"}}) once;
//     [Template.Append] renders it into a caller's buffer with no allocation beyond growing
//     that buffer, and [Template.Render] also reports a payload field the message lacks.
//     Payload fields are read through [PayloadFields], which the caller implements (the
//     gateway with sdk/jsonfield), so this package needs no JSON code.
//
// The package is pure and imports only the standard library; it must not import any other
// package of this module. Everything in it is safe for concurrent use: parsed values are
// immutable.
package mqtttopic
