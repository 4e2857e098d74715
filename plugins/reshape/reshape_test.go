package main

import (
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
)

const reading = `{"device_id":"s000","value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"meta":{"fw":"2.4.0","a.b":1}}`

func TestReshape(t *testing.T) {
	tests := []struct {
		name, cfg, payload, want string
	}{
		{"select keeps order listed", `{"ops":[{"select":["value","device_id","meta.fw","absent"]}]}`, reading,
			`{"value":21.25,"device_id":"s000","meta":{"fw":"2.4.0"}}`},
		{"drop", `{"ops":[{"drop":["rssi","meta.fw","absent"]}]}`, reading,
			`{"device_id":"s000","value":21.25,"unit":"celsius","battery":76.07,"meta":{"a.b":1}}`},
		{"rename in place of parent", `{"ops":[{"rename":{"value":"reading","meta.fw":"firmware"}}]}`, reading,
			`{"device_id":"s000","unit":"celsius","battery":76.07,"rssi":-48,"meta":{"a.b":1,"firmware":"2.4.0"},"reading":21.25}`},
		{"rename to a key with a dot", `{"ops":[{"rename":{"unit":"unit.name"}}]}`, `{"unit":"C"}`, `{"unit.name":"C"}`},
		{"rename escaped source", `{"ops":[{"rename":{"meta.a\\.b":"ab"}}]}`, reading,
			`{"device_id":"s000","value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"meta":{"fw":"2.4.0","ab":1}}`},
		{"move across levels", `{"ops":[{"move":{"meta.fw":"fw","battery":"health.battery"}}]}`, reading,
			`{"device_id":"s000","value":21.25,"unit":"celsius","rssi":-48,"meta":{"a.b":1},"fw":"2.4.0","health":{"battery":76.07}}`},
		{"move absent is ignored", `{"ops":[{"move":{"nope":"x"}}]}`, `{"a":1}`, `{"a":1}`},
		{"nest", `{"ops":[{"nest":{"into":"radio","fields":["rssi","battery"]}}]}`, `{"v":1,"rssi":-48,"battery":76}`,
			`{"v":1,"radio":{"rssi":-48,"battery":76}}`},
		{"nest into existing object", `{"ops":[{"nest":{"into":"meta","fields":["battery"]}}]}`, `{"battery":76,"meta":{"fw":"x"}}`,
			`{"meta":{"fw":"x","battery":76}}`},
		{"add constants", `{"ops":[{"add":{"site":"hq","meta.schema":2,"tags":["a"],"unit":"C"}}]}`, `{"unit":"celsius"}`,
			`{"unit":"C","site":"hq","meta":{"schema":2},"tags":["a"]}`},
		{"add topic levels", `{"ops":[{"add_topic":{"floor":1,"metric":-1,"loc.room":2}}]}`, `{}`,
			`{"floor":"floor1","metric":"temperature","loc":{"room":"room101"}}`},
		{"ops in order", `{"ops":[{"rename":{"value":"v"}},{"select":["device_id","v"]},{"add":{"src":"mqtt"}}]}`, reading,
			`{"device_id":"s000","v":21.25,"src":"mqtt"}`},
		{"topic too short", `{"ops":[{"add_topic":{"x":9}}]}`, `{}`, `error: ~add_topic x: topic "building/floor1/room101/sensor/s000/temperature" has no level 9`},
		{"path through a scalar", `{"ops":[{"add":{"value.x":1}}]}`, reading, `error: ~reshape: add value.x:`},
		{"not json", `{"ops":[{"drop":["a"]}]}`, `{"a":`, `error: ~payload is not JSON`},
		{"not an object", `{"ops":[{"drop":["a"]}]}`, `"a"`, `error: ~payload is a JSON string, want an object`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plugintest.CheckLines(t, plugintest.RunNative(t, tc.cfg, plugintest.Msg(plugintest.SensorTopic, tc.payload)), []string{tc.want})
		})
	}
}

func TestTopicLevelAt(t *testing.T) {
	tests := []struct {
		topic string
		i     int
		want  string
		ok    bool
	}{
		{"a/b/c", 0, "a", true}, {"a/b/c", 2, "c", true}, {"a/b/c", -1, "c", true}, {"a/b/c", -3, "a", true},
		{"a/b/c", 3, "", false}, {"a/b/c", -4, "", false}, {"a//c", 1, "", true}, {"a", 0, "a", true},
	}
	for _, tc := range tests {
		if got, ok := topicLevelAt(tc.topic, tc.i); got != tc.want || ok != tc.ok {
			t.Errorf("topicLevelAt(%q, %d) = %q, %v; want %q, %v", tc.topic, tc.i, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReshape_configErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "ops: at least one operation is required"},
		{`{"op":[]}`, `unknown field "op"`},
		{`{"ops":[{"select":["a"],"drop":["b"]}]}`, "ops[0]: want exactly one of"},
		{`{"ops":[{"drop":["a"]},{"selct":["a"]}]}`, `unknown field "selct"`},
		{`{"ops":[{"select":[]}]}`, "ops[0].select: at least one path"},
		{`{"ops":[{"drop":["a",""]}]}`, "ops[0].drop[1]: empty path"},
		{`{"ops":[{"rename":{"a":1}}]}`, "ops[0].rename.a: want the new key name as a string"},
		{`{"ops":[{"rename":["a"]}]}`, "ops[0].rename: want an object"},
		{`{"ops":[{"move":{"a":"a.b"}}]}`, "ops[0].move.a: cannot move a field into itself"},
		{`{"ops":[{"add":{}}]}`, "ops[0].add: at least one entry"},
		{`{"ops":[{"add_topic":{"x":"1"}}]}`, "ops[0].add_topic.x: want a topic level index"},
		{`{"ops":[{"nest":{"fields":["a"]}}]}`, "ops[0].nest.into: required"},
		{`{"ops":[{"nest":{"into":"m","fields":["m"]}}]}`, `ops[0].nest.fields: "m" is the target object itself`},
		{`{"ops":[{"nest":{"into":"m","field":["a"]}}]}`, `unknown field "field"`},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

const benchReshapeConfig = `{"ops":[{"drop":["rssi","seq"]},{"rename":{"value":"reading"}},{"nest":{"into":"location","fields":["floor","room"]}},{"add":{"site":"hq"}}]}`

func TestReshape_wasm(t *testing.T) {
	inst, err := plugintest.NewWasm(t, benchReshapeConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := plugintest.RunWasm(t, inst, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload), plugintest.Msg(plugintest.SensorTopic, "21.25"))
	want := []string{
		`{"device_id":"bldg1-f1-r101-s000","metric":"temperature","ts":1795580496255,"unit":"celsius","battery":76.07,"reading":21.25,"location":{"floor":1,"room":101},"site":"hq"}`,
		"error: reshape: payload is a JSON number, want an object",
	}
	for i, w := range want {
		if g := strings.Join(got[i], "|"); g != w {
			t.Errorf("message %d:\n got  %s\n want %s", i, g, w)
		}
	}
	if _, err := plugintest.NewWasm(t, `{"ops":[{"nest":{"into":"m"}}]}`); err == nil || !strings.Contains(err.Error(), "ops[0].nest.fields") {
		t.Errorf("bad config in wasm: error %v, want the key named", err)
	}
}

func BenchmarkReshape_native(b *testing.B) {
	plugintest.BenchNative(b, benchReshapeConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
func BenchmarkReshape_wasm(b *testing.B) {
	plugintest.BenchWasm(b, benchReshapeConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}

// TestReshape_readmeExample keeps README.md's example true.
func TestReshape_readmeExample(t *testing.T) {
	const cfg = `{"ops":[{"drop":["rssi","seq"]},{"rename":{"value":"reading"}},{"move":{"meta.fw":"firmware"}},
		{"nest":{"into":"location","fields":["floor","room"]}},{"add":{"site":"hq","schema":2}},{"add_topic":{"sensor":-2,"metric":-1}},
		{"select":["device_id","reading","unit","location","site","sensor","metric"]}]}`
	in := `{"device_id":"s000","floor":1,"room":101,"value":21.25,"unit":"celsius","rssi":-48,"seq":12,"meta":{"fw":"2.4.0"}}`
	want := `{"device_id":"s000","reading":21.25,"unit":"celsius","location":{"floor":1,"room":101},"site":"hq","sensor":"s000","metric":"temperature"}`
	plugintest.CheckLines(t, plugintest.RunNative(t, cfg, plugintest.Msg(plugintest.SensorTopic, in)), []string{want})
}
