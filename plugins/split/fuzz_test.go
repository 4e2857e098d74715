package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	`{"field":"readings","copy":["gateway","ts","site.id","absent"],"index_field":"i"}`,
	`{}`,
	`{"field":"data.items","missing":"pass","empty":"dead_letter"}`,
	`{"field":"r","copy":["g"],"missing":"drop"}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

// FuzzSplit runs arbitrary topics and payloads through the plugin: it never
// panics, and every element it emits is valid JSON when the input was.
func FuzzSplit(f *testing.F) {
	seeds := []string{
		gatewayBatch, `[{"a":1}, 2 ,"x"]`, `{"data":{"items":[1,2]}}`, `{"g":1,"r":[{"a":1},5]}`,
		`{"readings":[]}`, `{"readings":{"a":1}}`, `{"other":1}`, `[1,2`, `[[[]],{"i":0,"gateway":[]}]`, ``,
	}
	topics := []string{"gw/gw-7/batch"}
	for i, s := range seeds {
		f.Add(uint8(i), topics[i%len(topics)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzer.Run(t, int(cfg), topic, payload)
		plugintest.CheckJSONOutputs(t, r, payload, false)
	})
}
