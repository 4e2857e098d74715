package gateway

import (
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tributary-gw/tributary/gateway/internal/delivery"
	"github.com/tributary-gw/tributary/gateway/internal/mqttsource"
)

// message is one inbound MQTT PUBLISH on its way to Kafka. It implements mqtttopic.Fields.
type message struct {
	topic          string
	topicBytes     []byte // topic as bytes, shared by every record's key and header (read-only)
	payload        []byte
	qos            byte
	retain         bool
	contentType    string
	userProperties []paho.UserProperty
	arrivedAt      time.Time

	// delivery counts the records still to be acknowledged by Kafka across the message's
	// routes (a dead-letter record counts as a record); each route holds one token until it
	// has added the records it will produce, so the count cannot reach zero early. The last
	// Done acknowledges the message and frees its in-flight slot (see flow.ack).
	delivery delivery.Delivery[*message]
	ack      mqttsource.Ack // sent by the last Done (see flow.ack)
	routes   []*route       // the routes the message matched at arrival
	routeBuf [2]*route      // backing store for routes, saving an allocation in the common case
}

// Topic returns the MQTT topic the message arrived on.
func (m *message) Topic() string { return m.topic }

// Property returns the first MQTT v5 user property named name, or "" when absent.
func (m *message) Property(name string) string {
	for _, p := range m.userProperties {
		if p.Key == name {
			return p.Value
		}
	}
	return ""
}

// messageSize is what a message counts against flow.max_in_flight_bytes: its payload, topic,
// content type and user properties, the bytes the gateway holds while it is in flight.
func messageSize(p *paho.Publish) int64 {
	n := len(p.Payload) + len(p.Topic)
	if p.Properties != nil {
		n += len(p.Properties.ContentType)
		for _, u := range p.Properties.User {
			n += len(u.Key) + len(u.Value)
		}
	}
	return int64(n)
}
