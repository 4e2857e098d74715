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
	`{"keep":{"field":"value","op":">","value":30}}`,
	`{"drop":{"any":[{"field":"metric","op":"in","values":["co2","humidity"]},{"not":{"field":"meta.fw","op":"exists"}}]}}`,
	`{"keep":{"all":[{"field":"device_id","op":"regex","value":"^bldg1-f[0-9]+-"},{"field":"tags.0","op":"!=","value":"south"},{"field":"unit","op":"==","value":"celsius"}]}}`,
	`{"keep":{"field":"a\\.b.c","op":"<=","value":"m"}}`,
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
		t.Fatalf("config %s, payload %q: handler panicked: %s", fuzzConfigs[cfg], payload, rs[0].Err)
	}
	return rs[0]
}

// FuzzFilter runs arbitrary payloads through the filter: it never panics, a
// kept message is passed on unchanged, and only JSON objects are kept.
func FuzzFilter(f *testing.F) {
	seeds := []string{
		plugintest.SensorPayload,
		`{"device_id":"bldg1-f2-r201-s003","metric":"temperature","value":31.5,"unit":"celsius","tags":["north"],"meta":{"fw":"2.4.0"}}`,
		`{"metric":"co2","value":612,"a.b":{"c":"k"}}`,
		`{"value":"31","tags":{"0":"south"},"unit":null}`,
		`{"value":1e400}`, `{"value":-0}`, `{"value":31,`, `[1,2]`, `"x"`, ``, `temperature=31`,
		`{"note":"a\"b\u00e9\ud83d\ude00"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), plugintest.SensorTopic, []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzRun(t, int(cfg)%len(fuzzConfigs), topic, payload)
		switch {
		case r.Failed:
		case len(r.Outputs) > 1:
			t.Fatalf("payload %q: %d outputs from a filter", payload, len(r.Outputs))
		case len(r.Outputs) == 1:
			if o := r.Outputs[0]; o.Flags != abi.PayloadUnchanged {
				t.Fatalf("payload %q: kept with flags %#x, want the message unchanged", payload, o.Flags)
			}
			if !json.Valid(payload) {
				t.Fatalf("payload %q is not JSON, yet it was kept", payload)
			}
		}
	})
}
