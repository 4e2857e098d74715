package flow

import (
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// message is one inbound MQTT PUBLISH on its way to Kafka. Its embedded kafkasink.Message is
// what the sink reads (and, through its Topic and Property methods, what implements
// mqtttopic.Fields); the rest is the flow's own bookkeeping.
type message struct {
	kafkasink.Message

	// delivery counts the records still to be acknowledged by Kafka across the message's
	// routes (a dead-letter record counts as a record); each route holds one token until it
	// has added the records it will produce, so the count cannot reach zero early. The last
	// Done acknowledges the message and frees its in-flight slot (see Flow.ack). The embedded
	// Message's Delivery is this one.
	delivery delivery.Delivery[*message]
	ack      mqttsource.Ack // sent by the last Done (see Flow.ack)
	routes   []*Route       // the routes the message matched at arrival
	routeBuf [2]*Route      // backing store for routes, saving an allocation in the common case
}

// messageSize is what a message counts against flow.max_in_flight_bytes: its payload, topic,
// content type and user properties, the bytes the gateway holds while it is in flight.
func messageSize(p *mqttsource.Message) int64 {
	n := len(p.Payload) + len(p.Topic) + len(p.ContentType)
	for _, u := range p.UserProperties {
		n += len(u.Key) + len(u.Value)
	}
	return int64(n)
}

// userProperties copies MQTT v5 user properties into the sink's form; nil when there are none.
func userProperties(ps []mqttsource.Property) []kafkasink.Property {
	if len(ps) == 0 {
		return nil
	}
	out := make([]kafkasink.Property, len(ps))
	for i, p := range ps {
		out[i] = kafkasink.Property{Key: p.Key, Value: p.Value}
	}
	return out
}

// abiMessage is m as a plugin of route r sees it.
func (m *message) abiMessage(r *Route) abi.Message {
	am := abi.Message{
		Topic:       m.MQTTTopic,
		Payload:     m.Payload,
		ContentType: m.ContentType,
		Route:       r.Name,
		Tenant:      r.Tenant,
		QoS:         m.QoS,
		Retain:      m.Retain,
		ArrivedAtMs: m.ArrivedAt.UnixMilli(),
	}
	if len(m.UserProperties) > 0 {
		am.Properties = make([]abi.Property, len(m.UserProperties))
		for i, p := range m.UserProperties {
			am.Properties[i] = abi.Property{Name: p.Key, Value: p.Value}
		}
	}
	return am
}
