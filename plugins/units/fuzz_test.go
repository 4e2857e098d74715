package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
)

// fuzzConfigs are representative configurations; each fuzz input picks one.
var fuzzConfigs = []string{
	toFahrenheit,
	`{"conversions":[{"field":"env.t","unit_field":"env.u","to":"K"},{"field":"p","from":"kPa","to":"bar","round":3}]}`,
	`{"conversions":[{"field":"value","unit_field":"unit","to":"F","unknown_unit":"pass"},{"field":"battery","from":"percent","to":"percent"}]}`,
	`{"conversions":[{"field":"p","from":"bar","to":"psi","unit_field":"u","round":0}]}`,
}

// fuzzer runs inputs under one of fuzzConfigs.
var fuzzer = plugintest.NewFuzzer(fuzzConfigs...)

// FuzzUnits runs arbitrary topics and payloads through the plugin: it never
// panics, and a converted payload is valid JSON when the input was.
func FuzzUnits(f *testing.F) {
	seeds := []string{
		plugintest.SensorPayload, `{"value":21.25,"unit":"celsius"}`, `{"env":{"t":0,"u":"C"},"p":250}`,
		`{"value":21,"unit":"celcius"}`, `{"p":2}`, `{"value":1e308,"unit":"C"}`, `{"value":-1e-320,"unit":"K"}`,
		`{"value":"21","unit":7}`, `21.5 C`, `{"p":1.7976931348623157e308,"u":"mbar"}`,
	}
	topics := []string{plugintest.SensorTopic}
	for i, s := range seeds {
		f.Add(uint8(i), topics[i%len(topics)], []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, topic string, payload []byte) {
		r := fuzzer.Run(t, int(cfg), topic, payload)
		plugintest.CheckJSONOutputs(t, r, payload, true)
	})
}
