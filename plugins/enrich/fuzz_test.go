package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	`{"key_field":"device_id",` + tableCfg + `}`,
	`{"key_topic_segment":-1,"on_miss":"drop","into":"meta.loc",` + tableCfg + `}`,
	`{"key_field":"room","on_miss":"dead_letter",` + tableCfg + `}`,
	`{"key_topic_segment":1,` + tableCfg + `}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

// FuzzEnrich runs arbitrary topics and payloads through the plugin: it never
// panics, and an enriched payload is valid JSON when the input was.
func FuzzEnrich(f *testing.F) {
	seeds := []string{
		sensor, `{"room":101}`, `{"room":101,"wing":"west"}`, `{"v":1}`, `{"device_id":null}`, `{"device_id":{}}`,
		`temp=21`, `{"room":101.0,"meta":7}`, `{"k":"a"}`, ``,
	}
	topics := []string{"s/1", "b/101/temp", "b/101", "", "/"}
	for i, s := range seeds {
		f.Add(uint8(i), topics[i%len(topics)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzer.Run(t, int(cfg), topic, payload)
		plugintest.CheckJSONOutputs(t, r, payload, false)
	})
}
