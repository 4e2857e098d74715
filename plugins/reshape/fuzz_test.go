package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	`{"ops":[{"drop":["rssi","seq"]},{"rename":{"value":"reading"}},{"nest":{"into":"location","fields":["floor","room"]}},{"add":{"site":"hq"}}]}`,
	`{"ops":[{"select":["device_id","value","meta.fw","meta.a\\.b"]},{"move":{"meta.fw":"fw","value":"m.v"}},{"add_topic":{"floor":1,"metric":-1,"loc.room":2}}]}`,
	`{"ops":[{"rename":{"unit":"unit.name","meta.a\\.b":"ab"}},{"add":{"tags":["a"],"meta.schema":2}},{"drop":["meta"]}]}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

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
		r := fuzzer.Run(t, int(cfg), topic, payload)
		plugintest.CheckJSONOutputs(t, r, payload, true)
	})
}
