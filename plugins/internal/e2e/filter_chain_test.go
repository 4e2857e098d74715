package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	buildingsensors "github.com/tributary-gw/tributary/examples/building-sensors"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// firstPartyPlugins builds the named first-party plugins (plugins/<name>)
// from source and returns them by name, ready for startChainGateway.
func firstPartyPlugins(t *testing.T, names ...string) map[string][]byte {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the e2e package source")
	}
	plugins := filepath.Join(filepath.Dir(file), "..", "..")
	out := map[string][]byte{}
	for _, name := range names {
		wasm, err := os.ReadFile(sdktest.Build(t, filepath.Join(plugins, name)))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = wasm
	}
	return out
}

// buildingChain returns the chain of the raw route in examples/building-sensors/tributary.yaml,
// loaded with the real loader (which needs the plugin files to exist).
func buildingChain(t *testing.T, plugins map[string][]byte) []config.Stage {
	t.Helper()
	dir := t.TempDir()
	for name, wasm := range plugins {
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.LoadBytes(buildingsensors.RawConfig(), []string{"TRIBUTARY_PLUGINS__DIR=" + dir})
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	return cfg.Routes[0].Chain
}

func TestFilterChain_BuildingSensors(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	plugins := firstPartyPlugins(t, "topic-fields", "units", "filter")
	gw := startChainGateway(t, mq, kf, plugins, config.Route{
		Name: "building-sensors-raw", From: []string{"building/#"},
		To:    config.Destination{Topic: "raw"},
		Chain: buildingChain(t, plugins),
	})

	const topic = "building/floor2/room203/sensor/s007/"
	pub := func(metric, payload string) gatewaytest.PublishMsg {
		return gatewaytest.PublishMsg{Topic: topic + metric, Payload: []byte(payload)}
	}
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		pub("temperature", `{"device_id":"bldg1-f2-r203-s007","value":21.25,"unit":"celsius","rssi":-48}`),
		pub("humidity", `{"device_id":"bldg1-f2-r203-s007","value":41.5,"unit":"percent","rssi":-50}`),
		pub("temperature", `{"device_id":"bldg1-f2-r203-s007","value":300,"unit":"celsius"}`), // 572 °F: dropped by filter
		pub("co2", `{"device_id":"bldg1-f2-r203-s007","unit":"ppm"}`),                         // no value: dropped by filter
		pub("temperature", `21.25 C`),                                  // dead letter at topic-fields
		pub("temperature", `{"value":21,"unit":"celcius","rssi":-40}`), // dead letter at units
	})

	recs := kf.WaitRecords(t, "raw", 2, 60*time.Second)
	want := map[string]string{
		topic + "temperature": `{"device_id":"bldg1-f2-r203-s007","value":70.25,"unit":"fahrenheit","rssi":-48,"floor":2,"room":203,"sensor":"s007","metric":"temperature"}`,
		topic + "humidity":    `{"device_id":"bldg1-f2-r203-s007","value":41.5,"unit":"percent","rssi":-50,"floor":2,"room":203,"sensor":"s007","metric":"humidity"}`,
	}
	for _, r := range recs {
		if w, ok := want[string(r.Key)]; !ok || string(r.Value) != w {
			t.Errorf("record key %s:\n got  %s\n want %s", r.Key, r.Value, w)
		}
		delete(want, string(r.Key))
	}
	if len(want) > 0 {
		t.Errorf("records missing for %v", want)
	}

	dead := kf.WaitRecords(t, "raw_dlq", 2, 60*time.Second)
	stages := map[string]string{}
	for _, r := range dead {
		stages[string(r.Value)] = recordHeader(r, "tributary.plugin") + "@" + recordHeader(r, "tributary.stage") + ": " + recordHeader(r, "tributary.error")
	}
	for payload, w := range map[string]string{
		`21.25 C`: "topic-fields@0: topic-fields: payload is not JSON",
		`{"value":21,"unit":"celcius","rssi":-40}`: `units@1: units: unit: unknown unit "celcius"`,
	} {
		if !strings.HasPrefix(stages[payload], w) {
			t.Errorf("dead letter of %s: %q, want prefix %q", payload, stages[payload], w)
		}
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if s := gw.Stats(); len(s.Routes) != 1 || s.Routes[0].Filtered != 2 || s.InFlight != 0 {
			return fmt.Errorf("stats %+v, want 2 filtered and none in flight", s)
		}
		return nil
	})
	// The implausible readings were filtered: nothing else reached either topic.
	if n := len(kf.Records(t, "raw")) + len(kf.Records(t, "raw_dlq")); n != 4 {
		t.Errorf("%d records in raw and raw_dlq, want 4 (the implausible readings are filtered)", n)
	}
}
