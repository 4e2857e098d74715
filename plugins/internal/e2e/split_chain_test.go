package e2e

import (
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestSplitChain_GatewayBatches splits a field gateway's batch into one
// record per reading and reshapes each, routing by the reading's metric.
func TestSplitChain_GatewayBatches(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	startChainGateway(t, mq, kf, firstPartyPlugins(t, "split", "reshape", "topic-fields"), config.Route{
		Name: "batches", From: []string{"gw/+/batch"},
		To: config.Destination{Topic: "readings"},
		Chain: []config.Stage{
			{Plugin: "split", Config: map[string]any{"field": "readings", "copy": []any{"gateway"}, "index_field": "i"}},
			{Plugin: "reshape", Config: map[string]any{"ops": []any{
				map[string]any{"rename": map[string]any{"v": "value"}},
				map[string]any{"add_topic": map[string]any{"gateway_topic": 1}},
				map[string]any{"drop": []any{"debug"}},
			}}},
			{Plugin: "topic-fields", Config: map[string]any{
				"pattern": "gw/{gw}/batch", "fields": false, "key": "{gw}",
			}},
		},
	})
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{
		Topic:   "gw/gw-7/batch",
		Payload: []byte(`{"gateway":"gw-7","readings":[{"sensor":"s1","v":21.5,"debug":1},{"sensor":"s2","v":22}]}`),
	}})
	recs := kf.WaitRecords(t, "readings", 2, 60*time.Second)
	want := []string{
		`{"sensor":"s1","gateway":"gw-7","i":0,"value":21.5,"gateway_topic":"gw-7"}`,
		`{"sensor":"s2","gateway":"gw-7","i":1,"value":22,"gateway_topic":"gw-7"}`,
	}
	for i, r := range recs {
		if string(r.Value) != want[i] || string(r.Key) != "gw-7" {
			t.Errorf("record %d: %s key %s, want %s key gw-7", i, r.Value, r.Key, want[i])
		}
	}
}
