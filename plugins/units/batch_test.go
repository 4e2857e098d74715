package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func TestPlanBatch(t *testing.T) {
	tests := []struct {
		name, cfg string
		batched   bool
	}{
		{"one rule", toFahrenheit, true},
		{"rule reading its own unit field", `{"conversions":[{"field":"v","unit_field":"v","to":"F"}]}`, true},
		{"independent rules", `{"conversions":[{"field":"t","from":"C","to":"F"},{"field":"p","from":"kPa","to":"bar","unit_field":"pu"}]}`, true},
		{"shared unit field written first", `{"conversions":[{"field":"t","unit_field":"u","to":"F"},{"field":"p","unit_field":"u","to":"bar"}]}`, false},
		{"same field twice", `{"conversions":[{"field":"t","from":"C","to":"F"},{"field":"t","from":"F","to":"K"}]}`, false},
		{"later rule reads inside an earlier write", `{"conversions":[{"field":"env","from":"C","to":"F"},{"field":"env.t","from":"C","to":"F"}]}`, false},
		{"later rule reads the parent of an earlier write", `{"conversions":[{"field":"p","from":"C","to":"F","unit_field":"env.u"},{"field":"t","unit_field":"env","to":"F"}]}`, false},
		{"unit field of one rule is the field of the next", `{"conversions":[{"field":"t","unit_field":"u","to":"F"},{"field":"u","from":"C","to":"F"}]}`, false},
		{"key prefix that is not a path prefix", `{"conversions":[{"field":"value","from":"C","to":"F"},{"field":"value2","from":"C","to":"F"}]}`, true},
		{"escaped path is treated as overlapping", `{"conversions":[{"field":"a\\.b","from":"C","to":"F"},{"field":"c","from":"C","to":"F"}]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err != nil {
				t.Fatal(err)
			}
			if got := batch != nil; got != tc.batched {
				t.Fatalf("batched = %v, want %v", got, tc.batched)
			}
		})
	}
}

// runBoth runs payload through cfg on the batched path and on the
// sequential one.
func runBoth(t *testing.T, cfg, payload string) (batched, sequential []string) {
	t.Helper()
	if err := sdk.Init([]byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if batch == nil {
		t.Fatalf("config %s is not batched", cfg)
	}
	batched = plugintest.RunNative(t, cfg, plugintest.Msg("t", payload))
	plan := batch
	batch = nil
	defer func() { batch = plan }()
	rs, err := sdk.Process(plugintest.Msg("t", payload))
	if err != nil {
		t.Fatal(err)
	}
	return batched, plugintest.Describe(plugintest.Msg("t", payload), rs[0])
}

// batchConfigs are batched configurations whose rules interact: shared
// unit names, overflow, writes that fail.
var batchConfigs = []string{
	toFahrenheit,
	`{"conversions":[{"field":"t","from":"C","to":"F"},{"field":"p","from":"psi","to":"Pa","unit_field":"meta.u"},{"field":"h","unit_field":"hu","to":"fraction","unknown_unit":"pass"}]}`,
	`{"conversions":[{"field":"t","unit_field":"u","to":"K","round":3},{"field":"x","from":"C","to":"F","unit_field":"xu"}]}`,
	`{"conversions":[{"field":"a.b","from":"mm","to":"in","unit_field":"a.u"},{"field":"arr.1","from":"bar","to":"hPa","unit_field":"arr.2"}]}`,
}

func TestBatchMatchesSequential(t *testing.T) {
	payloads := []string{
		`{"value":21.25,"unit":"celsius"}`, `{"value":"x","unit":"C"}`, `{"value":1,"unit":"?"}`, `{}`,
		`{"t":100,"p":1e308,"h":50,"hu":"%"}`, `{"t":100,"p":1e308,"meta":{}}`, `{"t":1,"p":2,"meta":3}`,
		`{"t":1,"p":2,"meta":3,"h":"x","hu":"%"}`, `{"t":"x","p":1e308}`, `{"t":1,"h":2,"hu":"furlong"}`,
		`{"t":20,"u":"C","x":1}`, `{"t":20,"u":"F","x":"1"}`, `{"t":20,"u":1,"x":1,"xu":"F"}`, `{"u":30,"x":3,"xu":"bar"}`, `{"t":"20","u":"C"}`,
		`{"a":{"b":25.4},"arr":[0,1]}`, `{"a":{"b":1,"u":7},"arr":[0,1,"x"]}`, `{"a":[1],"arr":[0,2,3]}`, `{"arr":{"1":3}}`,
		`[1]`, `not json`, `{"t":1,`,
	}
	for _, cfg := range batchConfigs {
		for _, p := range payloads {
			b, s := runBoth(t, cfg, p)
			if strings.Join(b, "\n") != strings.Join(s, "\n") {
				t.Errorf("config %s, payload %s:\n batched    %q\n sequential %q", cfg, p, b, s)
			}
		}
	}
	// At least one case of each kind must have been exercised.
	b, _ := runBoth(t, batchConfigs[1], `{"t":1,"p":2,"meta":3,"h":"x","hu":"%"}`)
	if want := `error: units: meta.u: jsonfield: path "meta.u": cannot set "u" inside a number`; b[0] != want {
		t.Errorf("got %q, want %q", b[0], want)
	}
	b, _ = runBoth(t, batchConfigs[1], `{"t":100,"p":1e308,"h":50,"hu":"%"}`)
	if want := `error: units: p: value for "p": +Inf is not a JSON number`; b[0] != want {
		t.Errorf("got %q, want %q", b[0], want)
	}
}

// FuzzBatch checks that the batched path gives what the sequential path
// gives, on arbitrary payloads.
func FuzzBatch(f *testing.F) {
	for i, s := range []string{`{"t":100,"p":1e308,"h":50,"hu":"%"}`, `{"t":20,"u":"C"}`, `{"a":{"b":25.4},"arr":[0,1]}`, `{"value":1,"unit":"F"}`} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, cfg uint8, payload []byte) {
		b, s := runBoth(t, batchConfigs[int(cfg)%len(batchConfigs)], string(payload))
		if strings.Join(b, "\n") != strings.Join(s, "\n") {
			t.Fatalf("payload %q:\n batched    %q\n sequential %q", payload, b, s)
		}
	})
}

func TestLookupUnitValue(t *testing.T) {
	names := []string{"celsius", "Celsius", "C", "c", " c ", "°C", "°c", "km/h", "m3", "%", "pct", "furlong", "", "k\tg", "kg\u00a0", "\u212a", "ﬀ"}
	// Twice over, and with more spellings than recentUnits holds, so that
	// answers from memory and from the table are both checked.
	names = append(names, names...)
	for _, n := range names {
		raw, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range [][]byte{raw, []byte(`"` + strings.ReplaceAll(string(raw[1:len(raw)-1]), "c", `\u0063`) + `"`)} {
			v, err := jsonfield.Parse(doc)
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			gu, gok := lookupUnitValue(v)
			wu, wok := lookupUnit(n)
			if gu != wu || gok != wok {
				t.Errorf("lookupUnitValue(%s) = %v, %v; lookupUnit(%q) = %v, %v", doc, gu, gok, n, wu, wok)
			}
		}
	}
}
