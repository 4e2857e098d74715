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
	exampleConfig,
	`{"pattern":"site/{site}/{device}/#","into":"meta","no_match":"dead_letter"}`,
	`{"pattern":"x/{a.b}/+/{n}","numbers":["n"],"fields":false,"key":"{a.b}:{n}","topic":"t-{n}"}`,
	`{"pattern":"building/{floor}/+/sensor/{sensor}/{metric}"}`,
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

// FuzzTopicFields runs arbitrary topics and payloads through the plugin: it never
// panics, and a payload it rewrites is valid JSON when the input was.
func FuzzTopicFields(f *testing.F) {
	seeds := []string{
		`{"value":41.5}`, `{"v":1,"meta":{"site":"old"}}`, `not json at all`, plugintest.SensorPayload, `{"floor":"x"}`,
		`{"meta":5}`, `[21.5]`, `21.5C`, ``, `{"a.b":{"c":1}}`,
	}
	topics := []string{"building/floor2/room203/sensor/s007/humidity", "site/hq/d1/a/b", "x/1/y/-2.5e3", "building/floorB1/room203/sensor/s007/humidity", "x//y/01"}
	for i, s := range seeds {
		f.Add(uint8(i), topics[i%len(topics)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzRun(t, int(cfg)%len(fuzzConfigs), topic, payload)
		checkJSONOutputs(t, r, payload, true)
	})
}
