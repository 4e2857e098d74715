package mqttsource

import (
	"bytes"
	"slices"

	"github.com/eclipse/paho.golang/paho"
)

// twins recognises the extra copies a broker sends when several of a session's filters match
// one message (Mosquitto sends one per filter, each with that filter's subscription
// identifier, one after the other in the session's queue). A copy is an extra one when the
// message before it on the connection has the same topic and payload, at least its QoS, and a
// group of identifiers that does not yet hold the copy's: the same message delivered again by
// one filter (a real repeat, or a redelivery) always starts a new group and is processed.
type twins struct {
	topic   string
	payload []byte
	qos     byte
	ids     []int
}

// extra reports whether p is an extra copy of the message before it, and remembers p.
func (t *twins) extra(p *paho.Publish) bool {
	if p.Properties == nil || p.Properties.SubscriptionIdentifier == nil {
		t.topic, t.payload, t.ids = "", nil, t.ids[:0]
		return false
	}
	id := *p.Properties.SubscriptionIdentifier
	if p.Topic == t.topic && p.QoS <= t.qos && !slices.Contains(t.ids, id) && bytes.Equal(p.Payload, t.payload) {
		t.ids = append(t.ids, id)
		return true
	}
	t.topic, t.payload, t.qos, t.ids = p.Topic, p.Payload, p.QoS, append(t.ids[:0], id)
	return false
}
