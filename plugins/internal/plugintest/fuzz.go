package plugintest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

// Fuzzer runs fuzz inputs through the plugin compiled into the test binary, natively, under
// one of several configurations. It initialises the SDK only when the configuration changes.
// Not safe for concurrent use; fuzz workers are separate processes.
type Fuzzer struct {
	// Configs are the representative configurations an input picks from.
	Configs []string
	current int
}

// NewFuzzer returns a Fuzzer over configs.
func NewFuzzer(configs ...string) *Fuzzer { return &Fuzzer{Configs: configs, current: -1} }

// Run runs one message under configuration cfg (taken modulo len(Configs)) and fails t on a
// recovered panic ("panic:" error from the SDK) or anything but one result.
func (z *Fuzzer) Run(t *testing.T, cfg int, topic string, payload []byte) abi.Result {
	t.Helper()
	cfg %= len(z.Configs)
	if cfg != z.current {
		if err := sdk.Init([]byte(z.Configs[cfg])); err != nil {
			t.Fatalf("init %s: %v", z.Configs[cfg], err)
		}
		z.current = cfg
	}
	rs, err := sdk.Process(Msg(topic, string(payload)))
	if err != nil {
		t.Fatalf("process %q: %v", payload, err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results for one message", len(rs))
	}
	if rs[0].Failed && strings.HasPrefix(rs[0].Err, "panic:") {
		t.Fatalf("config %s, topic %q, payload %q: handler panicked: %s", z.Configs[cfg], topic, payload, rs[0].Err)
	}
	return rs[0]
}

// CheckJSONOutputs fails t when an output whose payload the plugin rewrote is not valid JSON
// although the input payload was; want1 also requires exactly one output on success.
func CheckJSONOutputs(t *testing.T, r abi.Result, payload []byte, want1 bool) {
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
