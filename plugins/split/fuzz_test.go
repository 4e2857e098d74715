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
	`{"field":"readings","copy":["gateway","ts","site.id","absent"],"index_field":"i"}`,
	`{}`,
	`{"field":"data.items","missing":"pass","empty":"dead_letter"}`,
	`{"field":"r","copy":["g"],"missing":"drop"}`,
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
		r := fuzzRun(t, int(cfg)%len(fuzzConfigs), topic, payload)
		checkJSONOutputs(t, r, payload, false)
	})
}
