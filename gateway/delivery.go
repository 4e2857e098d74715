package gateway

import (
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// delivery tracks the Kafka records produced from one MQTT message across all of its routes.
// The MQTT acknowledgement is sent when the count returns to zero.
//
// The count starts at the number of routes the message matched: each route holds one token
// until it has added the records it will produce, so the count cannot reach zero early.
// A dead-letter record counts as a record.
type delivery struct {
	pending atomic.Int32
	msg     *message
	// ack acknowledges the message to the broker and releases its in-flight slot.
	// paho keeps PUBACKs in receive order even when acks arrive out of order.
	ack func(m *message)
}

func (d *delivery) add(n int) { d.pending.Add(int32(n)) }

// done releases one record or route token; the last one acknowledges the message.
func (d *delivery) done() {
	if d.pending.Add(-1) == 0 {
		d.ack(d.msg)
	}
}

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

	delivery delivery
	routes   []*route  // the routes the message matched at arrival
	routeBuf [2]*route // backing store for routes, saving an allocation in the common case
	client   *paho.Client
	packet   *paho.Publish
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
