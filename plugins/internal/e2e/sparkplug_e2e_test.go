package e2e

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// sparkplugDDATA encodes a Sparkplug B payload with protowire (not the
// plugin's decoder): a timestamp, a seq and two metrics, a Double
// "temperature" and an Int32 "rssi" (negative, so sent as two's complement
// in the uint32 int_value field).
func sparkplugDDATA(seq uint64, temp float64, rssi int32) []byte {
	metric := func(name string, datatype uint64, value func([]byte) []byte) []byte {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendString(m, name)
		m = protowire.AppendTag(m, 4, protowire.VarintType)
		m = protowire.AppendVarint(m, datatype)
		return value(m)
	}
	var p []byte
	p = protowire.AppendTag(p, 1, protowire.VarintType)
	p = protowire.AppendVarint(p, 1732500000000)
	p = protowire.AppendTag(p, 2, protowire.BytesType)
	p = protowire.AppendBytes(p, metric("temperature", 10, func(m []byte) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(m, 13, protowire.Fixed64Type), math.Float64bits(temp))
	}))
	p = protowire.AppendTag(p, 2, protowire.BytesType)
	p = protowire.AppendBytes(p, metric("rssi", 3, func(m []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(m, 10, protowire.VarintType), uint64(uint32(rssi)))
	}))
	p = protowire.AppendTag(p, 3, protowire.VarintType)
	return protowire.AppendVarint(p, seq)
}

// TestSparkplug_EndToEnd runs the sparkplug plugin in a real gateway in
// per-metric mode: each DDATA becomes one record per metric, and a payload
// that is not protobuf is dead-lettered.
func TestSparkplug_EndToEnd(t *testing.T) {
	wasm, err := os.ReadFile(sdktest.Build(t, filepath.Join(repoRoot(t), "plugins", "sparkplug")))
	if err != nil {
		t.Fatal(err)
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	r := config.Route{Name: "sparkplug", From: []string{"spBv1.0/#"}, To: config.Destination{Topic: "spb_metrics"},
		Chain: []config.Stage{{Plugin: "sparkplug", Config: map[string]any{"mode": "metric"}}}}
	startChainGateway(t, mq, kf, map[string][]byte{"sparkplug": wasm}, r)
	const topic = "spBv1.0/plant1/DDATA/edge7/pump3"
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: topic, Payload: sparkplugDDATA(1, 21.5, -48)},
		{Topic: topic, Payload: sparkplugDDATA(2, 22, -50)},
		{Topic: topic, Payload: []byte(`{"temperature":21}`)},
	})
	recs := kf.WaitRecords(t, "spb_metrics", 4, 60*time.Second)
	type rec struct {
		Group  string  `json:"group_id"`
		Type   string  `json:"message_type"`
		Node   string  `json:"edge_node_id"`
		Device string  `json:"device_id"`
		Seq    uint64  `json:"seq"`
		Name   string  `json:"name"`
		Value  float64 `json:"value"`
		TS     int64   `json:"timestamp"`
	}
	want := []rec{
		{"plant1", "DDATA", "edge7", "pump3", 1, "temperature", 21.5, 1732500000000},
		{"plant1", "DDATA", "edge7", "pump3", 1, "rssi", -48, 1732500000000},
		{"plant1", "DDATA", "edge7", "pump3", 2, "temperature", 22, 1732500000000},
		{"plant1", "DDATA", "edge7", "pump3", 2, "rssi", -50, 1732500000000},
	}
	for i, r := range recs {
		var got rec
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Fatalf("record %d: %s: %v", i, r.Value, err)
		}
		if got != want[i] || string(r.Key) != topic {
			t.Errorf("record %d (key %s): got %+v, want %+v", i, r.Key, got, want[i])
		}
	}
	dead := kf.WaitRecords(t, "spb_metrics_dlq", 1, 60*time.Second)
	if recordHeader(dead[0], "tributary.error.kind") != "rejected" {
		t.Errorf("dead letter headers %v", dead[0].Headers)
	}
}
