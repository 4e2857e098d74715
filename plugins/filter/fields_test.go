package main

import (
	"testing"

	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"github.com/tributary-gw/tributary/sdk"
)

// TestFilter_sharedFields runs conditions that read the same field several
// times (one path in the Fields, its number read once) and checks the paths
// are deduplicated.
func TestFilter_sharedFields(t *testing.T) {
	const reading = `{"device_id":"bldg1-f1-r101-s000","metric":"temperature","value":21.25,"meta":{"fw":"2.4.0"}}`
	tests := []struct {
		name, cfg string
		paths     int
		want      string // "keep" or "drop"
	}{
		{"number read by several tests", `{"keep":{"all":[{"field":"value","op":">","value":20},{"field":"value","op":"in","values":[1,21.25]},{"field":"value","op":"!=","value":3}]}}`, 1, "keep"},
		{"number compared after a failing equality", `{"keep":{"any":[{"field":"value","op":"==","value":21},{"field":"value","op":"<=","value":21.25}]}}`, 1, "keep"},
		{"same path in not and any", `{"drop":{"any":[{"not":{"field":"meta.fw","op":"exists"}},{"field":"meta.fw","op":"==","value":"2.4.0"}]}}`, 1, "drop"},
		{"distinct paths in first-seen order", `{"keep":{"all":[{"field":"metric","op":"==","value":"temperature"},{"field":"device_id","op":"regex","value":"-s000$"},{"field":"metric","op":"exists"},{"field":"absent","op":"missing"}]}}`, 3, "keep"},
		{"regexp fallback", `{"keep":{"field":"device_id","op":"regex","value":"^BLDG1-F[0-9]"}}`, 1, "drop"},
		{"regexp fallback with flags", `{"keep":{"field":"device_id","op":"regex","value":"(?i)^BLDG1-F[0-9]"}}`, 1, "keep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := plugintest.RunNative(t, tc.cfg, plugintest.Msg(plugintest.SensorTopic, reading))
			plugintest.CheckLines(t, got, []string{verdict(tc.want, reading)})
			if fields.Len() != tc.paths {
				t.Errorf("%d paths in the Fields, want %d", fields.Len(), tc.paths)
			}
		})
	}
}

// TestFilter_reconfigure checks that a second configuration with more paths
// than the first replaces the fields and their buffers.
func TestFilter_reconfigure(t *testing.T) {
	if err := sdk.Init([]byte(`{"keep":{"field":"a","op":"exists"}}`)); err != nil {
		t.Fatal(err)
	}
	cfg := `{"keep":{"all":[{"field":"a","op":"exists"},{"field":"b","op":"==","value":2},{"field":"c","op":"<","value":"m"}]}}`
	for _, tc := range []struct{ payload, want string }{
		{`{"a":null,"b":2,"c":"k"}`, "keep"},
		{`{"a":null,"b":2,"c":"z"}`, "drop"},
		{`{"b":2,"c":"k"}`, "drop"},
	} {
		got := plugintest.RunNative(t, cfg, plugintest.Msg("t", tc.payload))
		plugintest.CheckLines(t, got, []string{verdict(tc.want, tc.payload)})
	}
}
