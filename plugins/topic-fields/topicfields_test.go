package main

import (
	"github.com/tributary-gw/tributary/plugins/internal/plugintest"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
)

const exampleConfig = `{"pattern":"building/floor{floor}/room{room}/sensor/{sensor}/{metric}","numbers":["floor","room"],"key":"{sensor}","topic":"sensors.{metric}"}`

func TestTopicFields(t *testing.T) {
	tests := []struct {
		name, cfg, topic, payload string
		want                      []string
	}{
		{"example", exampleConfig, "building/floor2/room203/sensor/s007/humidity", `{"value":41.5}`,
			[]string{`{"value":41.5,"floor":2,"room":203,"sensor":"s007","metric":"humidity"} topic=sensors.humidity key=s007`}},
		{"plain captures and +", `{"pattern":"building/{floor}/+/sensor/{sensor}/{metric}"}`, "building/f1/r101/sensor/s000/co2", `{"value":612}`,
			[]string{`{"value":612,"floor":"f1","sensor":"s000","metric":"co2"}`}},
		{"into an object", `{"pattern":"site/{site}/{device}","into":"meta"}`, "site/hq/d1", `{"v":1}`,
			[]string{`{"v":1,"meta":{"site":"hq","device":"d1"}}`}},
		{"overwrites an existing field", `{"pattern":"site/{site}"}`, "site/hq", `{"site":"old","v":1}`,
			[]string{`{"site":"hq","v":1}`}},
		{"trailing # matches more levels", `{"pattern":"site/{site}/#"}`, "site/hq/a/b/c", `{}`,
			[]string{`{"site":"hq"}`}},
		{"trailing # matches no level", `{"pattern":"site/{site}/#"}`, "site/hq", `{}`,
			[]string{`{"site":"hq"}`}},
		{"key and topic only", `{"pattern":"site/{site}/{device}","fields":false,"key":"{site}:{device}","topic":"t-{site}"}`, "site/hq/d1", `not json at all`,
			[]string{`not json at all topic=t-hq key=hq:d1`}},
		{"escaped capture name", `{"pattern":"x/{a.b}"}`, "x/1", `{}`, []string{`{"a.b":"1"}`}},
		{"string needs escaping", `{"pattern":"x/{a}"}`, `x/q"t`, `{}`, []string{`{"a":"q\"t"}`}},
		{"no match passes", exampleConfig, "building/lobby/door", `{"open":true}`, []string{`{"open":true}`}},
		{"too few levels passes", exampleConfig, "building/floor2/room203", `{}`, []string{`{}`}},
		{"too many levels passes", exampleConfig, "building/floor2/room203/sensor/s007/humidity/x", `{}`, []string{`{}`}},
		{"prefix mismatch passes", exampleConfig, "building/level2/room203/sensor/s007/humidity", `{}`, []string{`{}`}},
		{"empty capture does not match", `{"pattern":"x/{a}/y"}`, "x//y", `{}`, []string{`{}`}},
		{"no match dead letter", `{"pattern":"x/{a}","no_match":"dead_letter"}`, "y/1", `{}`, []string{`error: ~topic "y/1" does not match pattern`}},
		{"number that is not one", exampleConfig, "building/floorB1/room203/sensor/s007/humidity", `{}`, []string{`error: ~floor: topic level "B1" is not a number`}},
		{"not json", exampleConfig, "building/floor2/room203/sensor/s007/humidity", `21.5C`, []string{`error: ~payload is not JSON`}},
		{"not an object", exampleConfig, "building/floor2/room203/sensor/s007/humidity", `[21.5]`, []string{`error: ~payload is a JSON array, want an object`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plugintest.CheckLines(t, plugintest.RunNative(t, tc.cfg, plugintest.Msg(tc.topic, tc.payload)), tc.want)
		})
	}
}

func TestTopicFields_configErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "pattern: required"},
		{`{"pattern":"a/b"}`, "captures nothing"},
		{`{"pattern":"a/{x}","patern":1}`, `unknown field "patern"`},
		{`{"pattern":"a/#/{x}"}`, "# must be the last level"},
		{`{"pattern":"a/x+/{x}"}`, "+ and # must be whole levels"},
		{`{"pattern":"a/{x}{y}"}`, "at most one {name} per level"},
		{`{"pattern":"a/{}"}`, "bad capture name"},
		{`{"pattern":"{x}/{x}"}`, `"x" captured twice`},
		{`{"pattern":"a/{x}","numbers":["y"]}`, `numbers[0]: "y" is not captured`},
		{`{"pattern":"a/{x}","key":"{y}"}`, `key: {y} is not captured by the pattern (captured: x)`},
		{`{"pattern":"a/{x}","topic":"t-{x"}`, `topic: unclosed {`},
		{`{"pattern":"a/{x}","no_match":"drop"}`, `no_match: "drop" is not pass or dead_letter`},
		{`{"pattern":"a/{x}","fields":false}`, `would do nothing`},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			if err := sdk.Init([]byte(tc.cfg)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Init error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestTopicFields_wasm(t *testing.T) {
	inst, err := plugintest.NewWasm(t, exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := plugintest.RunWasm(t, inst, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload), plugintest.Msg("building/lobby", `{}`), plugintest.Msg(plugintest.SensorTopic, `oops`))
	want := []string{
		strings.TrimSuffix(plugintest.SensorPayload, "}") + `,"sensor":"s000"} topic=sensors.temperature key=s000`,
		`{}`,
		"error: topic-fields: payload is not JSON",
	}
	// The reading already has floor and room; they are rewritten in place.
	for i, w := range want {
		if g := strings.Join(got[i], "|"); !strings.HasPrefix(g, w) {
			t.Errorf("message %d:\n got  %s\n want %s", i, g, w)
		}
	}
	if _, err := plugintest.NewWasm(t, `{"pattern":"a/{x}","key":"{nope}"}`); err == nil || !strings.Contains(err.Error(), "{nope} is not captured") {
		t.Errorf("bad config in wasm: error %v, want the template named", err)
	}
}

func BenchmarkTopicFields_native(b *testing.B) {
	plugintest.BenchNative(b, exampleConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
func BenchmarkTopicFields_wasm(b *testing.B) {
	plugintest.BenchWasm(b, exampleConfig, plugintest.Msg(plugintest.SensorTopic, plugintest.SensorPayload))
}
