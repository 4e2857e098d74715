package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	`{"ops":[{"drop":["rssi","seq"]},{"rename":{"value":"reading"}},{"nest":{"into":"location","fields":["floor","room"]}},{"add":{"site":"hq"}}]}`,
	`{"ops":[{"select":["device_id","value","meta.fw","meta.a\\.b"]},{"move":{"meta.fw":"fw","value":"m.v"}},{"add_topic":{"floor":1,"metric":-1,"loc.room":2}}]}`,
	`{"ops":[{"rename":{"unit":"unit.name","meta.a\\.b":"ab"}},{"add":{"tags":["a"],"meta.schema":2}},{"drop":["meta"]}]}`,
}

// fuzzCfg is the configuration the SDK was last initialised with.
var fuzzCfg = -1

// fuzzRun runs one message through the plugin natively under configuration
// cfg and fails on a recovered panic or a malformed result.
func fuzzRun(t *testing.T, cfg int, topic string, payload []byte) abi.Result {
	t.Helper()
	if cfg != fuzzCfg {
		if err := sdk.Init([]byte(fuzzConfigs[cfg])); err != nil {
			t.Fatalf("init %s: %v", fuzzConfigs[cfg], err)
		}
		fuzzCfg = cfg
	}
	rs, err := sdk.Process(plugintest.Msg(topic, string(payload)))
	if err != nil {
		t.Fatalf("process %q: %v", payload, err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results for one message", len(rs))
	}
	if rs[0].Failed && strings.HasPrefix(rs[0].Err, "panic:") {
		t.Fatalf("config %s, topic %q, payload %q: handler panicked: %s", fuzzConfigs[cfg], topic, payload, rs[0].Err)
	}
	return rs[0]
}

// checkJSONOutputs fails when an output whose payload the plugin rewrote is
// not valid JSON although the input was; want1 also requires exactly one
// output on success.
func checkJSONOutputs(t *testing.T, r abi.Result, payload []byte, want1 bool) {
	t.Helper()
	if r.Failed {
		return
	}
	if want1 && len(r.Outputs) != 1 {
		t.Fatalf("payload %q: %d outputs, want 1", payload, len(r.Outputs))
	}
	if !json.Valid(payload) {
		return
	}
	for i, o := range r.Outputs {
		if o.Flags&abi.PayloadUnchanged == 0 && !json.Valid(o.Payload) {
			t.Fatalf("payload %q: output %d %q is not valid JSON", payload, i, o.Payload)
		}
	}
}

// FuzzReshape runs arbitrary topics and payloads through the plugin: it never
// panics, and a reshaped payload is valid JSON when the input was.
func FuzzReshape(f *testing.F) {
	seeds := []string{
		plugintest.SensorPayload, reading,
		`{"device_id":"s000","floor":1,"room":101,"value":21.25,"unit":"celsius","rssi":-48,"seq":12,"meta":{"fw":"2.4.0"}}`,
		`{"location":7,"meta":[1,2],"m":"x"}`, `{"value":{"x":1},"m":{"v":null}}`, `{}`, `{"a":`, `"a"`, `[1]`, ``,
	}
	topics := []string{plugintest.SensorTopic, "a", "", "a//b/c/d/e/f/g"}
	for i, s := range seeds {
		f.Add(uint8(i), topics[i%len(topics)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzRun(t, int(cfg)%len(fuzzConfigs), topic, payload)
		checkJSONOutputs(t, r, payload, true)
	})
}
