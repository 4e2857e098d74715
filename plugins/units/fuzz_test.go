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
	toFahrenheit,
	`{"conversions":[{"field":"env.t","unit_field":"env.u","to":"K"},{"field":"p","from":"kPa","to":"bar","round":3}]}`,
	`{"conversions":[{"field":"value","unit_field":"unit","to":"F","unknown_unit":"pass"},{"field":"battery","from":"percent","to":"percent"}]}`,
	`{"conversions":[{"field":"p","from":"bar","to":"psi","unit_field":"u","round":0}]}`,
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
		r := fuzzRun(t, int(cfg)%len(fuzzConfigs), topic, payload)
		checkJSONOutputs(t, r, payload, true)
	})
}
