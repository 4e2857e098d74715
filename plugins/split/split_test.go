package main

import (
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
)

const gatewayBatch = `{"gateway":"gw-7","ts":1795580496255,"site":{"id":"hq"},"readings":[{"sensor":"s1","value":21.5},{"sensor":"s2","value":22.0,"ts":1795580496000}]}`

func TestSplit(t *testing.T) {
	tests := []struct {
		name, cfg, payload string
		want               []string
	}{
		{"payload is the array", `{}`, `[{"a":1}, 2 ,"x"]`, []string{`{"a":1}`, `2`, `"x"`}},
		{"field", `{"field":"readings"}`, gatewayBatch, []string{`{"sensor":"s1","value":21.5}`, `{"sensor":"s2","value":22.0,"ts":1795580496000}`}},
		{"copy parent fields, element wins", `{"field":"readings","copy":["gateway","ts","site.id","absent"]}`, gatewayBatch, []string{
			`{"sensor":"s1","value":21.5,"gateway":"gw-7","ts":1795580496255,"site":{"id":"hq"}}`,
			`{"sensor":"s2","value":22.0,"ts":1795580496000,"gateway":"gw-7","site":{"id":"hq"}}`,
		}},
		{"index field", `{"field":"readings","index_field":"i"}`, gatewayBatch, []string{
			`{"sensor":"s1","value":21.5,"i":0}`, `{"sensor":"s2","value":22.0,"ts":1795580496000,"i":1}`,
		}},
		{"nested field", `{"field":"data.items"}`, `{"data":{"items":[1,2]}}`, []string{`1`, `2`}},
		{"empty array drops", `{"field":"readings"}`, `{"readings":[]}`, []string{"filtered"}},
		{"empty array dead letter", `{"field":"readings","empty":"dead_letter"}`, `{"readings":[]}`, []string{"error: ~split: empty array"}},
		{"missing dead letter", `{"field":"readings"}`, `{"other":1}`, []string{`error: ~no array at "readings"`}},
		{"missing pass", `{"field":"readings","missing":"pass"}`, `{"other":1}`, []string{`{"other":1}`}},
		{"missing drop", `{"field":"readings","missing":"drop"}`, `{"other":1}`, []string{"filtered"}},
		{"not an array", `{"field":"readings"}`, `{"readings":{"a":1}}`, []string{"error: ~readings is a JSON object, want an array"}},
		{"payload not an array", `{}`, `{"a":1}`, []string{"error: ~payload is a JSON object, want an array"}},
		{"copy into a scalar element", `{"field":"r","copy":["g"]}`, `{"g":1,"r":[{"a":1},5]}`, []string{"error: ~element 1 is a JSON number"}},
		{"not json", `{}`, `[1,2`, []string{"error: ~payload is not JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plugintest.CheckLines(t, plugintest.RunNative(t, tc.cfg, plugintest.Msg("gw/gw-7/batch", tc.payload)), tc.want)
		})
	}
}

func TestSplit_configErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{"feild":"x"}`, `unknown field "feild"`},
		{`{"field":"r","copy":[""]}`, "copy[0]: empty path"},
		{`{"field":"r.x","copy":["a","r"]}`, `copy[1]: "r" holds the array being split`},
		{`{"copy":["a"]}`, "copy: needs field"},
		{`{"field":"r","missing":"skip"}`, `missing: "skip" is not dead_letter, pass or drop`},
		{`{"field":"r","empty":"pass"}`, `empty: "pass" is not drop or dead_letter`},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSplit_wasm(t *testing.T) {
	inst, err := plugintest.NewWasm(t, `{"field":"readings","copy":["gateway","ts"],"index_field":"i"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := plugintest.RunWasm(t, inst, plugintest.Msg("gw/gw-7/batch", gatewayBatch), plugintest.Msg("gw/gw-7/batch", `{"readings":[]}`), plugintest.Msg("gw/gw-7/batch", `{}`))
	want := [][]string{
		{`{"sensor":"s1","value":21.5,"gateway":"gw-7","ts":1795580496255,"i":0}`, `{"sensor":"s2","value":22.0,"ts":1795580496000,"gateway":"gw-7","i":1}`},
		{"filtered"},
		{`error: split: no array at "readings"`},
	}
	for i, w := range want {
		if g, w := strings.Join(got[i], "\n"), strings.Join(w, "\n"); g != w {
			t.Errorf("message %d:\n got  %s\n want %s", i, g, w)
		}
	}
}

// splitBench is a gateway batch of eight readings (~180 bytes each once
// the parent fields are copied in); the benchmarks report ns per input.
var splitBench = `{"gateway":"gw-7","ts":1795580496255,"readings":[` + strings.Repeat(`{"device_id":"bldg1-f1-r101-s000","metric":"temperature","value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12},`, 7) +
	`{"device_id":"bldg1-f1-r101-s000","metric":"temperature","value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}]}`

const splitBenchConfig = `{"field":"readings","copy":["gateway","ts"]}`

func BenchmarkSplit_native(b *testing.B) {
	plugintest.BenchNative(b, splitBenchConfig, plugintest.Msg("gw/gw-7/batch", splitBench))
}
func BenchmarkSplit_wasm(b *testing.B) {
	plugintest.BenchWasm(b, splitBenchConfig, plugintest.Msg("gw/gw-7/batch", splitBench))
}
