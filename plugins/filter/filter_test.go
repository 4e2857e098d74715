package main

import (
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
)

func TestFilter(t *testing.T) {
	const hot = `{"device_id":"bldg1-f2-r201-s003","metric":"temperature","value":31.5,"unit":"celsius","tags":["north"],"meta":{"fw":"2.4.0"}}`
	const cold = `{"device_id":"bldg1-f1-r101-s000","metric":"temperature","value":18,"unit":"celsius","note":"a\"b"}`
	tests := []struct {
		name    string
		cfg     string
		payload string
		want    string // "keep", "drop" or "error: ~TEXT"
	}{
		{"gt keeps", `{"keep":{"field":"value","op":">","value":30}}`, hot, "keep"},
		{"gt drops", `{"keep":{"field":"value","op":">","value":30}}`, cold, "drop"},
		{"ge equal", `{"keep":{"field":"value","op":">=","value":18}}`, cold, "keep"},
		{"lt", `{"keep":{"field":"value","op":"<","value":18}}`, cold, "drop"},
		{"le", `{"keep":{"field":"value","op":"<=","value":18.0}}`, cold, "keep"},
		{"eq string", `{"keep":{"field":"metric","op":"==","value":"temperature"}}`, hot, "keep"},
		{"eq number int vs float", `{"keep":{"field":"value","op":"==","value":18.0}}`, cold, "keep"},
		{"eq kinds differ", `{"keep":{"field":"value","op":"==","value":"18"}}`, cold, "drop"},
		{"eq escaped string", `{"keep":{"field":"note","op":"==","value":"a\"b"}}`, cold, "keep"},
		{"ne", `{"keep":{"field":"unit","op":"!=","value":"celsius"}}`, hot, "drop"},
		{"ne missing field holds", `{"keep":{"field":"humidity","op":"!=","value":1}}`, hot, "keep"},
		{"comparison on missing field fails", `{"keep":{"field":"humidity","op":"<","value":1}}`, hot, "drop"},
		{"comparison across kinds fails", `{"keep":{"field":"metric","op":">","value":1}}`, hot, "drop"},
		{"string order", `{"keep":{"field":"metric","op":">","value":"humidity"}}`, hot, "keep"},
		{"exists", `{"keep":{"field":"meta.fw","op":"exists"}}`, hot, "keep"},
		{"exists missing", `{"keep":{"field":"meta.fw","op":"exists"}}`, cold, "drop"},
		{"missing", `{"keep":{"field":"meta","op":"missing"}}`, cold, "keep"},
		{"nested path and array index", `{"keep":{"field":"tags.0","op":"==","value":"north"}}`, hot, "keep"},
		{"in", `{"keep":{"field":"metric","op":"in","values":["humidity","temperature"]}}`, hot, "keep"},
		{"in none", `{"keep":{"field":"metric","op":"in","values":["co2",1,null]}}`, hot, "drop"},
		{"not_in", `{"keep":{"field":"metric","op":"not_in","values":["co2"]}}`, hot, "keep"},
		{"regex", `{"keep":{"field":"device_id","op":"regex","value":"^bldg1-f2-"}}`, hot, "keep"},
		{"regex no match", `{"keep":{"field":"device_id","op":"regex","value":"^bldg1-f2-"}}`, cold, "drop"},
		{"regex on number fails", `{"keep":{"field":"value","op":"regex","value":"3"}}`, hot, "drop"},
		{"drop mode", `{"drop":{"field":"value","op":">","value":30}}`, hot, "drop"},
		{"drop mode keeps others", `{"drop":{"field":"value","op":">","value":30}}`, cold, "keep"},
		{"all", `{"keep":{"all":[{"field":"metric","op":"==","value":"temperature"},{"field":"value","op":">","value":30}]}}`, cold, "drop"},
		{"any", `{"keep":{"any":[{"field":"metric","op":"==","value":"co2"},{"field":"value","op":"<","value":20}]}}`, cold, "keep"},
		{"nested any in all", `{"keep":{"all":[{"field":"unit","op":"==","value":"celsius"},{"any":[{"field":"value","op":">","value":30},{"field":"value","op":"<","value":16}]}]}}`, hot, "keep"},
		{"not", `{"keep":{"not":{"field":"tags","op":"exists"}}}`, hot, "drop"},
		{"not json", `{"keep":{"field":"value","op":">","value":30}}`, `temperature=31`, "error: ~payload is not JSON"},
		{"truncated json", `{"keep":{"field":"value","op":">","value":30}}`, `{"value":31,`, "error: ~payload is not JSON"},
		{"array payload", `{"keep":{"field":"value","op":">","value":30}}`, `[1,2]`, "error: ~payload is a JSON array, want an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := plugintest.RunNative(t, tc.cfg, plugintest.Msg("building/floor2/room201/sensor/s003/temperature", tc.payload))
			plugintest.CheckLines(t, got, []string{verdict(tc.want, tc.payload)})
		})
	}
}

// verdict turns a table's keep/drop into plugintest.Describe's form.
func verdict(want, payload string) string {
	switch want {
	case "keep":
		return payload
	case "drop":
		return "filtered"
	}
	return want
}

func TestFilter_configErrors(t *testing.T) {
	tests := []struct {
		cfg, want string
	}{
		{`{}`, "one of keep or drop is required"},
		{`{"keep":{"field":"a","op":"exists"},"drop":{"field":"a","op":"exists"}}`, "keep and drop are exclusive"},
		{`{"kep":{}}`, `unknown field "kep"`},
		{`{"keep":{"field":"a","op":"exists","valu":1}}`, `unknown field "valu"`},
		{`{"keep":{"field":"a","op":"=~","value":1}}`, `keep.op: unknown operator "=~"`},
		{`{"keep":{"field":"a","value":1}}`, `keep.op: required`},
		{`{"keep":{"op":">","value":1}}`, `keep.field: required`},
		{`{"keep":{"field":"a","op":">"}}`, `keep.value: op ">" needs one value`},
		{`{"keep":{"field":"a","op":">","value":[1]}}`, `keep.value: want a string, number, bool or null`},
		{`{"keep":{"field":"a","op":">","value":true}}`, `keep.value: op ">" needs a number or a string`},
		{`{"keep":{"field":"a","op":"in","value":1}}`, `keep.values: op "in" needs a list`},
		{`{"keep":{"field":"a","op":"exists","value":1}}`, `keep.value: op "exists" takes no value`},
		{`{"keep":{"field":"a","op":"regex","value":"("}}`, `keep.value: error parsing regexp`},
		{`{"keep":{"field":"a","op":"regex","value":1}}`, `keep.value: op regex needs a string`},
		{`{"keep":{"all":[]}}`, `keep.all: at least one condition is required`},
		{`{"drop":{"any":[{"field":"a","op":"exists"},{"all":[{"field":"b","op":"<>","value":1}]}]}}`, `drop.any[1].all[0].op: unknown operator`},
		{`{"keep":{"field":"a","op":"exists","all":[{"field":"a","op":"exists"}]}}`, `keep: want exactly one of`},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			err := sdk.Init([]byte(tc.cfg))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFilter_wasm(t *testing.T) {
	inst, err := plugintest.NewWasm(t, `{"keep":{"all":[{"field":"metric","op":"==","value":"temperature"},{"field":"value","op":">","value":25}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	hot := strings.Replace(plugintest.SensorPayload, `"value":21.25`, `"value":27.5`, 1)
	humid := strings.Replace(plugintest.SensorPayload, `"metric":"temperature"`, `"metric":"humidity"`, 1)
	got := plugintest.RunWasm(t, inst,
		plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload), plugintest.Msg(plugintest.SensorTopic, hot), plugintest.Msg(plugintest.SensorTopic, humid), plugintest.Msg(plugintest.SensorTopic, "not json"))
	want := [][]string{{"filtered"}, {hot}, {"filtered"}, {"error: filter: payload is not JSON"}}
	for i := range want {
		if i == 3 {
			if !strings.HasPrefix(got[i][0], want[i][0]) {
				t.Errorf("message %d: got %q, want prefix %q", i, got[i], want[i])
			}
			continue
		}
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("message %d: got %q, want %q", i, got[i], want[i])
		}
	}

	if _, err := plugintest.NewWasm(t, `{"keep":{"field":"value","op":"~","value":1}}`); err == nil || !strings.Contains(err.Error(), `keep.op: unknown operator "~"`) {
		t.Errorf("bad config in wasm: error %v, want the operator named", err)
	}
}

const benchFilterConfig = `{"keep":{"all":[{"field":"metric","op":"in","values":["temperature","humidity"]},{"field":"value","op":">","value":20},{"field":"device_id","op":"regex","value":"^bldg1-"}]}}`

func BenchmarkFilter_native(b *testing.B) {
	plugintest.BenchNative(b, benchFilterConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
func BenchmarkFilter_wasm(b *testing.B) {
	plugintest.BenchWasm(b, benchFilterConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
