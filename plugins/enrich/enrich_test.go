package main

import (
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

const sensor = `{"device_id":"bldg1-f1-r101-s000","floor":1,"room":101,"metric":"temperature","ts":1795580496255,"value":21.25,"unit":"celsius","battery":76.07,"rssi":-48,"seq":12}`

const tableCfg = `"table":{"bldg1-f1-r101-s000":{"site":"HQ","zone":{"id":7},"tags":["a","b"]},"101":{"wing":"east"}}`

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name, cfg, wantErr string
	}{
		{"ok field", `{"key_field":"device_id",` + tableCfg + `}`, ""},
		{"ok topic", `{"key_topic_segment":-1,"on_miss":"drop",` + tableCfg + `}`, ""},
		{"no key", `{` + tableCfg + `}`, "one of key_field or key_topic_segment"},
		{"both keys", `{"key_field":"a","key_topic_segment":1,` + tableCfg + `}`, "exclusive"},
		{"bad on_miss", `{"key_field":"a","on_miss":"ignore",` + tableCfg + `}`, `on_miss "ignore"`},
		{"empty table", `{"key_field":"a","table":{}}`, "table: at least one entry"},
		{"entry not object", `{"key_field":"a","table":{"k":42}}`, `table["k"]`},
		{"unknown key", `{"key_field":"a","colour":1,` + tableCfg + `}`, `unknown field "colour"`},
		{"bad type", `{"key_field":5,` + tableCfg + `}`, "key_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sdk.Init([]byte(tc.cfg))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Init: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Init error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name, cfg, topic, payload string
		want                      string // payload; "=" unchanged, "-" filtered, "!text" error containing text
	}{
		{"field hit", `{"key_field":"device_id",` + tableCfg + `}`, "s/1", sensor,
			strings.TrimSuffix(sensor, "}") + `,"site":"HQ","zone":{"id":7},"tags":["a","b"]}`},
		{"number key", `{"key_field":"room",` + tableCfg + `}`, "s/1", sensor,
			strings.TrimSuffix(sensor, "}") + `,"wing":"east"}`},
		{"into nested", `{"key_field":"room","into":"meta.loc",` + tableCfg + `}`, "s/1", `{"room":101}`,
			`{"room":101,"meta":{"loc":{"wing":"east"}}}`},
		{"overwrites", `{"key_field":"room",` + tableCfg + `}`, "s/1", `{"room":101,"wing":"west"}`,
			`{"room":101,"wing":"east"}`},
		{"topic segment", `{"key_topic_segment":1,` + tableCfg + `}`, "b/101/temp", `{"v":1}`,
			`{"v":1,"wing":"east"}`},
		{"topic segment from end", `{"key_topic_segment":-1,` + tableCfg + `}`, "b/101", `{}`, `{"wing":"east"}`},
		{"topic segment out of range", `{"key_topic_segment":5,"on_miss":"drop",` + tableCfg + `}`, "b/101", `{}`, "-"},
		{"miss pass", `{"key_field":"device_id",` + tableCfg + `}`, "s/1", `{"device_id":"x"}`, "="},
		{"miss drop", `{"key_field":"device_id","on_miss":"drop",` + tableCfg + `}`, "s/1", `{"device_id":"x"}`, "-"},
		{"miss dead letter", `{"key_field":"device_id","on_miss":"dead_letter",` + tableCfg + `}`, "s/1", `{"device_id":"x"}`, `!key "x" not in table`},
		{"absent key dead letter", `{"key_field":"device_id","on_miss":"dead_letter",` + tableCfg + `}`, "s/1", `{"id":"x"}`, "!no lookup key"},
		{"absent key pass", `{"key_field":"device_id",` + tableCfg + `}`, "s/1", `{"id":"x"}`, "="},
		{"null key is a miss", `{"key_field":"device_id","on_miss":"drop",` + tableCfg + `}`, "s/1", `{"device_id":null}`, "-"},
		{"object key", `{"key_field":"device_id",` + tableCfg + `}`, "s/1", `{"device_id":{}}`, "!want a string or number"},
		{"not json", `{"key_field":"device_id",` + tableCfg + `}`, "s/1", `temp=21`, "!not JSON"},
		{"topic hit, not json", `{"key_topic_segment":1,` + tableCfg + `}`, "b/101", `temp=21`, "!not JSON"},
		{"dotted field name", `{"key_field":"k","table":{"a":{"x.y":1}}}`, "s", `{"k":"a"}`, `{"k":"a","x.y":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := handleOne(t, tc.cfg, tc.topic, tc.payload); got != tc.want && !(strings.HasPrefix(tc.want, "!") && strings.HasPrefix(got, "!") && strings.Contains(got, tc.want[1:])) {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// describe renders one result as the tests' want strings do.
// handleOne initialises the plugin with cfg, runs one message through it
// and describes the result.
func handleOne(t *testing.T, cfg, topic, payload string) string {
	t.Helper()
	if err := sdk.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	rs, err := sdk.Process(abi.Message{Topic: topic, Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return describe(rs[0])
}

// describe is r as the tests write it: "!error", "-" (filtered), "="
// (unchanged) or the new payload.
func describe(r abi.Result) string {
	switch {
	case r.Failed:
		return "!" + r.Err
	case len(r.Outputs) == 0:
		return "-"
	case r.Outputs[0].Flags&abi.PayloadUnchanged != 0:
		return "="
	}
	return string(r.Outputs[0].Payload)
}

func BenchmarkNative(b *testing.B) {
	if err := sdk.Init([]byte(`{"key_field":"device_id",` + tableCfg + `}`)); err != nil {
		b.Fatal(err)
	}
	batch := make([]abi.Message, 64)
	for i := range batch {
		batch[i] = abi.Message{Topic: "s/1", Payload: []byte(sensor)}
	}
	frame := abi.AppendBatch(nil, batch)
	b.ReportAllocs()
	for b.Loop() {
		if len(sdk.HandleFrame(frame)) == 0 {
			b.Fatal("empty result frame")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
}

func TestHandleTopLevelCases(t *testing.T) {
	if err := sdk.Init([]byte(`{"key_field":"k","table":{"a":{"x":1,"y":"two"}}}`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{`{"k":"a"}`, `{"k":"a","x":1,"y":"two"}`},
		{` {"k":"a", "z":[1]} `, `{"k":"a", "z":[1],"x":1,"y":"two"}`},
		{`{"k":"a","y":0}`, `{"k":"a","y":"two","x":1}`},
		{`["k"]`, "="}, // key path not found in an array: a miss, passed on
	}
	for _, tc := range tests {
		rs, err := sdk.Process(abi.Message{Topic: "t", Payload: []byte(tc.in)})
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(rs[0]); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}
