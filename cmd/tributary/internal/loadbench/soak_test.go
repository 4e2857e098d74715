package loadbench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
)

func TestSoakTracker_Tally(t *testing.T) {
	const run = "r1"
	topics := soakTopics{main: "m", plugin: "p", dlq: "d"}
	tr := newSoakTracker(run, "soak", topics)
	rec := func(kafkaTopic, key string, value []byte, kind string) {
		r := &kgo.Record{Topic: kafkaTopic, Key: []byte(key), Value: value}
		if kind != "" {
			r.Headers = []kgo.RecordHeader{{Key: "tributary.error.kind", Value: []byte(kind)}}
		}
		tr.record(r)
	}
	main := func(topic int, seq int64) []byte { return appendPayload(nil, run, topic, seq, 1, 120) }
	// Main topic 0: seqs 0, 2, 1 (1 arrives after 2: an order violation), 2 again.
	rec("m", "soak/dev00000/telemetry", main(0, 0), "")
	rec("m", "soak/dev00000/telemetry", main(0, 2), "")
	rec("m", "soak/dev00000/telemetry", main(0, 1), "")
	rec("m", "soak/dev00000/telemetry", main(0, 2), "")
	// Plugin topic 3: seq 0 delivered, seq 1 (a trap) dead-lettered, seq 2 (good)
	// dead-lettered by mistake.
	rec("p", "soak-p/dev00003/telemetry", main(3, 0), "")
	rec("d", "soak-p/dev00003/telemetry", main(3, 1), "trap")
	rec("d", "soak-p/dev00003/telemetry", main(3, 2), "timeout")
	// Poison: empty #1 dead-lettered twice; deep #1 never arrives.
	rec("d", "soak-p/poison/empty/1", nil, "rejected")
	rec("d", "soak-p/poison/empty/1", nil, "rejected")
	// Foreign: another run, an unknown key, a poison kind that does not exist.
	rec("m", "soak/dev00000/telemetry", appendPayload(nil, "other", 0, 0, 1, 120), "")
	rec("m", "elsewhere/x", main(0, 0), "")
	rec("d", "soak-p/poison/nosuch/1", nil, "rejected")

	published := map[msgID]bool{
		{streamMain, 0, 0}: false, {streamMain, 0, 1}: false, {streamMain, 0, 2}: false, {streamMain, 0, 3}: false,
		{streamPlugin, 3, 0}: false, {streamPlugin, 3, 1}: true, {streamPlugin, 3, 2}: false,
		{streamPoison, int32(poisonIndex("empty")), 1}: true, {streamPoison, int32(poisonIndex("deep")), 1}: true,
	}
	got := tr.tally(published)
	if got.delivered != 4 || got.deadLettered != 3 || got.lost != 2 || got.duplicated != 2 ||
		got.misrouted != 1 || got.foreign != 3 || got.order != 1 {
		t.Errorf("tally = delivered %d, dead-lettered %d, lost %d, duplicated %d, misrouted %d, foreign %d, order %d;"+
			" want 4 3 2 2 1 3 1", got.delivered, got.deadLettered, got.lost, got.duplicated, got.misrouted, got.foreign, got.order)
	}
	if got.misroutedWhy["timeout"] != 1 || got.reasons["rejected"] != 2 || got.reasons["trap"] != 1 {
		t.Errorf("misrouted by %v, dead letters by %v", got.misroutedWhy, got.reasons)
	}
}

func TestPoisonPayloads(t *testing.T) {
	for i, kind := range poisonKinds {
		if poisonIndex(kind) != i {
			t.Errorf("poisonIndex(%q) = %d, want %d", kind, poisonIndex(kind), i)
		}
	}
	if p := poisonPayload("1mb"); len(p) != 1<<20 {
		t.Errorf("1mb poison is %d bytes", len(p))
	}
	if p := poisonPayload("empty"); len(p) != 0 {
		t.Errorf("empty poison is %d bytes", len(p))
	}
	if p := poisonPayload("deep"); !bytes.HasPrefix(p, []byte("[[[[")) {
		t.Errorf("deep poison starts %q", p[:4])
	}
	if poisonIndex("nosuch") != -1 {
		t.Error("poisonIndex of an unknown kind is not -1")
	}
}

func TestSoakGatewayConfig_Loads(t *testing.T) {
	o := Defaults()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, soakPluginName+".wasm"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	y := soakGatewayConfig(&o, "tcp://127.0.0.1:1", "127.0.0.1:2", dir, "127.0.0.1:3", soakTopics{main: "a", plugin: "b", dlq: "c"})
	cfg, err := config.LoadBytes(y, nil)
	if err != nil {
		t.Fatalf("soak gateway config does not load: %v\n%s", err, y)
	}
	if len(cfg.Routes) != 2 || cfg.Routes[1].Chain[0].Plugin != soakPluginName || cfg.Routes[0].DeadLetter != "c" ||
		cfg.Routes[1].QoS != 2 || cfg.Plugins.Limits.CallTimeout != 500*time.Millisecond {
		t.Errorf("unexpected config: %+v", cfg)
	}
}

func TestOptions_CheckSoak(t *testing.T) {
	soak := func(o *Options) { o.Mode, o.Gateway, o.Executable = ModeSoak, GatewaySubprocess, "/bin/true" }
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"unknown fault", func(o *Options) { o.Faults = []string{"meteor"} }, `unknown kind "meteor"`},
		{"no faults", func(o *Options) { o.Faults = nil }, "faults: want at least one"},
		{"in-process gateway", func(o *Options) { o.Gateway = GatewayInProcess }, "gateway subprocess"},
		{"external broker", func(o *Options) { o.MQTT = "tcp://127.0.0.1:1" }, "no mqtt url"},
		{"fault every", func(o *Options) { o.FaultEvery = 0 }, "fault every 0s"},
		{"duration", func(o *Options) { o.Duration = 0 }, "duration 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			soak(&o)
			tc.change(&o)
			checkOptions(t, o, tc.wantErr)
		})
	}
}
