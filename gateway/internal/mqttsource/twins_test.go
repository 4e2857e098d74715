package mqttsource

import (
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

func TestTwins(t *testing.T) {
	type in struct {
		topic, payload string
		qos            byte
		id             int // 0: no subscription identifier
		extra          bool
	}
	tests := []struct {
		name string
		seq  []in
	}{
		{"one filter, repeats are messages", []in{{"a", "1", 1, 1, false}, {"a", "1", 1, 1, false}, {"a", "1", 1, 1, false}}},
		{"two filters, copies adjacent", []in{{"a", "1", 1, 1, false}, {"a", "1", 1, 2, true}, {"a", "1", 1, 1, false}, {"a", "1", 1, 2, true}}},
		{"copies in either order", []in{{"a", "1", 1, 2, false}, {"a", "1", 1, 1, true}, {"a", "1", 1, 2, false}}},
		{"three filters", []in{{"a", "1", 1, 1, false}, {"a", "1", 1, 3, true}, {"a", "1", 1, 2, true}, {"a", "1", 1, 3, false}}},
		{"other payload", []in{{"a", "1", 1, 1, false}, {"a", "2", 1, 2, false}}},
		{"other topic", []in{{"a", "1", 1, 1, false}, {"b", "1", 1, 2, false}}},
		{"higher QoS copy is kept", []in{{"a", "1", 0, 1, false}, {"a", "1", 1, 2, false}}},
		{"lower QoS copy is extra", []in{{"a", "1", 1, 1, false}, {"a", "1", 0, 2, true}}},
		{"no identifiers: never extra", []in{{"a", "1", 1, 0, false}, {"a", "1", 1, 0, false}}},
		{"an unidentified message ends the group", []in{{"a", "1", 1, 1, false}, {"b", "x", 1, 0, false}, {"a", "1", 1, 2, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tw twins
			for i, m := range tt.seq {
				p := &paho.Publish{Topic: m.topic, Payload: []byte(m.payload), QoS: m.qos}
				if m.id != 0 {
					id := m.id
					p.Properties = &paho.PublishProperties{SubscriptionIdentifier: &id}
				}
				if got := tw.extra(p); got != m.extra {
					t.Errorf("message %d (%+v): extra = %v, want %v", i, m, got, m.extra)
				}
			}
		})
	}
}
