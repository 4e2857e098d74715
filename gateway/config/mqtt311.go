package config

import (
	"fmt"

	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// MQTT protocol versions for MQTT.Protocol.
const (
	// Protocol5 is MQTT v5, the default.
	Protocol5 = "5"
	// Protocol311 is MQTT 3.1.1; "311" is read as it too.
	Protocol311 = "3.1.1"
)

// Is311 reports whether the session speaks MQTT 3.1.1 (mqtt.protocol "3.1.1" or "311").
func (m *MQTT) Is311() bool { return m.Protocol == Protocol311 || m.Protocol == "311" }

// checkProtocol checks mqtt.protocol and, for MQTT 3.1.1, that no key asks for what only
// MQTT v5 has. A key still at its default passes: it asks for nothing.
func (m *MQTT) checkProtocol(p *problems) {
	switch m.Protocol {
	case "", Protocol5, Protocol311, "311":
	default:
		p.add("mqtt.protocol", "%q is not one of 5, 3.1.1", m.Protocol)
		return
	}
	if !m.Is311() {
		return
	}
	d := Default().MQTT
	const why = "is MQTT v5 only and mqtt.protocol is 3.1.1: remove it"
	if m.CleanStart {
		p.add("mqtt.clean_start", "%s (a 3.1.1 clean session would also be discarded at every disconnect, losing unacknowledged messages)", why)
	}
	if m.SessionExpiry != d.SessionExpiry {
		p.add("mqtt.session_expiry", "%s (a 3.1.1 broker keeps the session as long as its own settings say, e.g. Mosquitto's persistent_client_expiration)", why)
	}
	if m.ReceiveMaximum != d.ReceiveMaximum {
		p.add("mqtt.receive_maximum", "%s (a 3.1.1 broker bounds unacknowledged messages by its own settings, e.g. Mosquitto's max_inflight_messages; the gateway's flow.max_in_flight still bounds what it holds)", why)
	}
	if m.AckInterval != d.AckInterval {
		p.add("mqtt.ack_interval", "applies to the MQTT v5 client only and mqtt.protocol is 3.1.1: remove it (3.1.1 acknowledgements leave as soon as they are due, in receive order)")
	}
}

// checkRoutes311 checks the routes of one MQTT session (the top-level routes, or one
// tenant's) at key for MQTT 3.1.1: their templates cannot read user properties, and their
// distinct filters must not overlap. A 3.1.1 broker may deliver a message once per matching
// filter, and without v5 subscription identifiers the gateway cannot tell such a copy from the
// device publishing the same message again, so it would produce it twice.
func (c *Config) checkRoutes311(p *problems, at string, routes []Route) {
	if !c.MQTT.Is311() {
		return
	}
	type owner struct {
		key, route string
	}
	var filters []string
	owners := map[string]owner{}
	for i, r := range routes {
		key := fmt.Sprintf("%s[%d]", at, i)
		for _, tk := range [...]struct{ sub, src string }{{".to.topic", r.To.Topic}, {".to.key", r.To.Key}} {
			if t, err := mqtttopic.ParseTemplate(tk.src); err == nil && t.UsesProperties() {
				p.addRoute(key+tk.sub, r.Name, "{{.Property}} reads MQTT v5 user properties and mqtt.protocol is 3.1.1, whose messages carry none")
			}
		}
		for j, f := range r.From {
			if _, err := mqtttopic.ParseFilter(f); err != nil {
				continue // reported by checkRouteList
			}
			fk := fmt.Sprintf("%s.from[%d]", key, j)
			if _, seen := owners[f]; seen {
				continue // the same filter is one subscription
			}
			for _, g := range filters {
				if mqtttopic.Overlap(f, g) {
					o := owners[g]
					p.addRoute(fk, r.Name, "filter %q overlaps %q (%s, route %q): with mqtt.protocol 3.1.1 the broker may deliver a message matching both twice, "+
						"and without MQTT v5 subscription identifiers the copies cannot be told apart; use filters that match disjoint topics, or MQTT v5", f, g, o.key, o.route)
					break
				}
			}
			filters = append(filters, f)
			owners[f] = owner{fk, r.Name}
		}
	}
}
