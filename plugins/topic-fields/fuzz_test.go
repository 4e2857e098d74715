package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	exampleConfig,
	`{"pattern":"site/{site}/{device}/#","into":"meta","no_match":"dead_letter"}`,
	`{"pattern":"x/{a.b}/+/{n}","numbers":["n"],"fields":false,"key":"{a.b}:{n}","topic":"t-{n}"}`,
	`{"pattern":"building/{floor}/+/sensor/{sensor}/{metric}"}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

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
		r := fuzzer.Run(t, int(cfg), topic, payload)
		plugintest.CheckJSONOutputs(t, r, payload, true)
	})
}
