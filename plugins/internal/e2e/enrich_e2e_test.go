package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// TestEnrich_EndToEnd runs the enrich plugin in a real gateway keyed by a
// topic segment: known rooms get their fields, an unknown one goes to the
// dead-letter topic.
func TestEnrich_EndToEnd(t *testing.T) {
	wasm, err := os.ReadFile(sdktest.Build(t, filepath.Join(repoRoot(t), "plugins", "enrich")))
	if err != nil {
		t.Fatal(err)
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	r := config.Route{Name: "enriched", From: []string{"rooms/#"}, To: config.Destination{Topic: "enriched"},
		Chain: []config.Stage{{Plugin: "enrich", Config: map[string]any{
			"key_topic_segment": 1,
			"into":              "location",
			"on_miss":           "dead_letter",
			"table": map[string]any{
				"r101": map[string]any{"building": "HQ", "floor": 1},
				"r202": map[string]any{"building": "HQ", "floor": 2},
			},
		}}}}
	startChainGateway(t, mq, kf, map[string][]byte{"enrich": wasm}, r)
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: "rooms/r101/temp", Payload: []byte(`{"value":21.5}`)},
		{Topic: "rooms/r202/temp", Payload: []byte(`{"value":19}`)},
		{Topic: "rooms/r999/temp", Payload: []byte(`{"value":1}`)},
	})
	recs := kf.WaitRecords(t, "enriched", 2, 60*time.Second)
	floors := map[string]int{}
	for _, rec := range recs {
		var v struct {
			Location struct {
				Building string `json:"building"`
				Floor    int    `json:"floor"`
			} `json:"location"`
		}
		if err := json.Unmarshal(rec.Value, &v); err != nil || v.Location.Building != "HQ" {
			t.Fatalf("record %s: %s (%v)", rec.Key, rec.Value, err)
		}
		floors[string(rec.Key)] = v.Location.Floor
	}
	if floors["rooms/r101/temp"] != 1 || floors["rooms/r202/temp"] != 2 {
		t.Errorf("floors by topic = %v", floors)
	}
	dead := kf.WaitRecords(t, "enriched_dlq", 1, 60*time.Second)
	if string(dead[0].Value) != `{"value":1}` || recordHeader(dead[0], "tributary.error.kind") != "rejected" {
		t.Errorf("dead letter %s headers %v", dead[0].Value, dead[0].Headers)
	}
}
