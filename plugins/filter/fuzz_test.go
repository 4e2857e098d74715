package main

import (
	"encoding/json"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	`{"keep":{"field":"value","op":">","value":30}}`,
	`{"drop":{"any":[{"field":"metric","op":"in","values":["co2","humidity"]},{"not":{"field":"meta.fw","op":"exists"}}]}}`,
	`{"keep":{"all":[{"field":"device_id","op":"regex","value":"^bldg1-f[0-9]+-"},{"field":"tags.0","op":"!=","value":"south"},{"field":"unit","op":"==","value":"celsius"}]}}`,
	`{"keep":{"field":"a\\.b.c","op":"<=","value":"m"}}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

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
		r := fuzzer.Run(t, int(cfg), topic, payload)
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
