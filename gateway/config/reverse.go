package config

import (
	"fmt"
	"strings"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// ReverseRoute moves records of Kafka topics to MQTT through a plugin chain: commands,
// settings and notices written to Kafka reach devices. Its records are read by a Kafka
// consumer group (instances of the gateway share the partitions) and a record's offset is
// committed only once the broker acknowledged every publish made from it, or its dead letter
// is in Kafka.
type ReverseRoute struct {
	// Name identifies the reverse route in metrics, logs, dead-letter headers and its default
	// consumer group. Unique among the reverse routes of its tenant (or the top level).
	Name string `koanf:"name"`
	// From lists the Kafka topics read. Within a tenant, each must start with one of its
	// kafka_prefixes.
	From []string `koanf:"from"`
	// Group is the Kafka consumer group id. Defaults to "<kafka.client_id>-<name>"
	// ("<kafka.client_id>-<tenant>-<name>" for a tenant's route): gateways sharing it share
	// the partitions.
	Group string `koanf:"group"`
	// Chain lists plugin stages applied in order, as for routes. The input message's payload
	// is the record value, its key and headers the record's, its kafka_topic the topic it was
	// read from; its MQTT topic is empty.
	Chain []Stage `koanf:"chain"`
	// To says where each output is published.
	To ReverseDestination `koanf:"to"`
	// DeadLetter is the Kafka topic for records that cannot be published. Defaults to the
	// first From topic with "_dlq" appended.
	DeadLetter string `koanf:"dead_letter"`
	// MaxInFlight bounds the publishes waiting for the broker's acknowledgement at once
	// (records of one key and partition are published one after the other). Defaults to 64.
	MaxInFlight int `koanf:"max_in_flight"`
}

// ReverseDestination says how a reverse route publishes to MQTT.
type ReverseDestination struct {
	// Topic is the MQTT topic: fixed, or a template of {{.Key}}, {{.Header "name"}},
	// {{.KafkaTopic}} and {{.Payload "path"}} such as "cmd/{{.Key}}/set", rendered from each
	// output of the chain.
	Topic string `koanf:"topic"`
	// QoS is the publish QoS, 0, 1 or 2. Defaults to 1.
	QoS int `koanf:"qos"`
	// Retain sets the retain flag on every publish. Defaults to false.
	Retain bool `koanf:"retain"`
}

// DefaultReverseMaxInFlight is the default ReverseRoute.MaxInFlight.
const DefaultReverseMaxInFlight = 64

// GroupID returns the consumer group of r: Group, or "<clientID>-<name>" (with the tenant's
// name between them for a tenant's route).
func (r *ReverseRoute) GroupID(clientID, tenant string) string {
	switch {
	case r.Group != "":
		return r.Group
	case tenant != "":
		return clientID + "-" + tenant + "-" + r.Name
	}
	return clientID + "-" + r.Name
}

// applyReverseDefaults fills in what a reverse route may leave out. raw are the routes
// before decoding; they tell an absent to.qos from an explicit 0.
func applyReverseDefaults(routes []ReverseRoute, raw []any) {
	for i := range routes {
		r := &routes[i]
		qosSet := false
		if i < len(raw) {
			if m, ok := raw[i].(map[string]any); ok {
				if to, ok := m["to"].(map[string]any); ok {
					qosSet = to["qos"] != nil
				}
			}
		}
		if !qosSet {
			r.To.QoS = 1
		}
		if r.DeadLetter == "" && len(r.From) > 0 && r.From[0] != "" {
			r.DeadLetter = r.From[0] + "_dlq"
		}
		if r.MaxInFlight == 0 {
			r.MaxInFlight = DefaultReverseMaxInFlight
		}
	}
}

// checkReverseList checks the reverse routes found at key (as "reverse_routes" or
// "tenant acme: reverse_routes"), with plugins and namespaces resolved for tenant t (nil for
// the top level).
func (c *Config) checkReverseList(p *problems, at string, routes []ReverseRoute, t *Tenant) {
	if len(routes) > 0 && c.MQTT.Is311() {
		// A reverse route publishes over an MQTT v5 session of its own (paho.golang), which a
		// broker speaking only 3.1.1 refuses; say so here rather than at its first connection.
		p.add(at, "reverse routes publish over MQTT v5; they are not available with mqtt.protocol %s (%d declared)", c.MQTT.Protocol, len(routes))
	}
	seen := map[string]int{}
	for i, r := range routes {
		key := fmt.Sprintf("%s[%d]", at, i)
		add := func(sub, format string, args ...any) {
			p.addRoute(key+sub, r.Name, format, args...)
		}
		checkRouteName(add, seen, at, "reverse route", r.Name, i)
		if len(r.From) == 0 {
			add(".from", "at least one Kafka topic is required")
		}
		for j, topic := range r.From {
			if reason := KafkaTopicProblem(topic); reason != "" {
				add(fmt.Sprintf(".from[%d]", j), "invalid Kafka topic %q: %s", topic, reason)
			} else if t != nil && !t.KafkaAllowed(topic) {
				add(fmt.Sprintf(".from[%d]", j), "Kafka topic %q is outside tenant %s's Kafka namespace %q", topic, t.Name, t.KafkaPrefixes)
			}
		}
		if r.Group != "" && strings.TrimSpace(r.Group) != r.Group {
			add(".group", "%q has leading or trailing spaces", r.Group)
		}
		c.checkStages(p, key, r.Name, r.Chain, t)
		switch tpl, err := mqtttopic.ParseRecordTemplate(r.To.Topic); {
		case r.To.Topic == "":
			add(".to.topic", "required")
		case err != nil:
			add(".to.topic", "%v", err)
		case tpl.IsStatic() && !mqtttopic.ValidTopic(r.To.Topic):
			add(".to.topic", "invalid MQTT topic %q: a topic name is non-empty UTF-8 without + or #", r.To.Topic)
		case t != nil && !t.mqttTemplateAllowed(r.To.Topic):
			add(".to.topic", "MQTT topic %q is outside tenant %s's MQTT namespace %q (a template must start with a prefix)",
				r.To.Topic, t.Name, t.MQTTPrefixes)
		}
		if r.To.QoS < 0 || r.To.QoS > 2 {
			add(".to.qos", "%d is not 0, 1 or 2", r.To.QoS)
		}
		if reason := KafkaTopicProblem(r.DeadLetter); reason != "" {
			add(".dead_letter", "invalid Kafka topic %q: %s", r.DeadLetter, reason)
		} else if t != nil && !t.KafkaAllowed(r.DeadLetter) {
			add(".dead_letter", "Kafka topic %q is outside tenant %s's Kafka namespace %q", r.DeadLetter, t.Name, t.KafkaPrefixes)
		}
		if r.MaxInFlight < 1 || r.MaxInFlight > 65535 {
			add(".max_in_flight", "%d must be between 1 and 65535", r.MaxInFlight)
		}
	}
}

// mqttTemplateAllowed reports whether every topic an MQTT topic template can produce starts
// with one of the tenant's MQTT prefixes: its literal text before the first action must.
func (t *Tenant) mqttTemplateAllowed(tpl string) bool {
	lit := tpl
	if i := strings.Index(tpl, "{{"); i >= 0 {
		lit = tpl[:i]
	}
	return t.MQTTTopicAllowed(lit)
}

// MQTTTopicAllowed reports whether the MQTT topic name starts with one of the tenant's MQTT
// prefixes: where a tenant's reverse routes may publish.
func (t *Tenant) MQTTTopicAllowed(topic string) bool {
	for _, pre := range t.MQTTPrefixes {
		if strings.HasPrefix(topic, pre) {
			return true
		}
	}
	return false
}
