package pluginkit

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

func TestReadInputs(t *testing.T) {
	file := `{"topic":"a/1","payload":{"temp": 21.5, "unit":"C"}}

{"topic":"a/2","payload":"21.5","qos":0,"retain":true,"content_type":"text/plain","properties":{"z":"1","a":"2"}}
{"topic":"a/3","payload_base64":"AAEC","arrived_at_ms":42}
{"topic":"a/4"}
{"topic":"a/5","payload":null,"properties":null}
{"topic":"a/6","tenant":"acme","kafka_topic":"t","key":"k1","headers":{"z":"1","a":"2"}}
{"topic":"a/7","key":""}
{"topic":"a/8","key_base64":"AAE="}`
	got, err := ReadInputs(strings.NewReader(file), "in.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{
		{Line: 1, Message: abi.Message{Topic: "a/1", Payload: []byte(`{"temp":21.5,"unit":"C"}`), QoS: 1}},
		{Line: 3, Message: abi.Message{Topic: "a/2", Payload: []byte("21.5"), QoS: 0, Retain: true, ContentType: "text/plain",
			Properties: []abi.Property{{Name: "z", Value: "1"}, {Name: "a", Value: "2"}}}},
		{Line: 4, Message: abi.Message{Topic: "a/3", Payload: []byte{0, 1, 2}, QoS: 1, ArrivedAtMs: 42}},
		{Line: 5, Message: abi.Message{Topic: "a/4", QoS: 1}},
		{Line: 6, Message: abi.Message{Topic: "a/5", QoS: 1}},
		{Line: 7, Message: abi.Message{Topic: "a/6", QoS: 1, Tenant: "acme", KafkaTopic: "t", Key: []byte("k1"), KeySet: true,
			Headers: []abi.Property{{Name: "z", Value: "1"}, {Name: "a", Value: "2"}}}},
		{Line: 8, Message: abi.Message{Topic: "a/7", QoS: 1, Key: []byte{}, KeySet: true}},
		{Line: 9, Message: abi.Message{Topic: "a/8", QoS: 1, Key: []byte{0, 1}, KeySet: true}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadInputs:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadInputs_Errors(t *testing.T) {
	const ok = `{"topic":"a"}` + "\n"
	tests := []struct {
		name, file, wantErr string
	}{
		{name: "empty file", file: "\n\n", wantErr: "in.jsonl: no messages"},
		{name: "malformed JSON", file: ok + `{"topic":"a",}`, wantErr: "in.jsonl:2: malformed input"},
		{name: "unknown key", file: ok + ok + `{"topic":"a","topik":"b"}`, wantErr: `in.jsonl:3: malformed input: json: unknown field "topik"`},
		{name: "no topic", file: `{"payload":1}`, wantErr: `in.jsonl:1: "topic" is required`},
		{name: "wildcard topic", file: `{"topic":"a/#"}`, wantErr: "in.jsonl:1: topic \"a/#\": wildcards"},
		{name: "qos 3", file: ok + `{"topic":"a","qos":3}`, wantErr: `in.jsonl:2: "qos" 3: want 0, 1 or 2`},
		{name: "both payloads", file: `{"topic":"a","payload":1,"payload_base64":"AA=="}`, wantErr: "in.jsonl:1: \"payload\" and \"payload_base64\" are exclusive"},
		{name: "bad base64", file: `{"topic":"a","payload_base64":"%%%"}`, wantErr: `in.jsonl:1: "payload_base64": illegal base64`},
		{name: "property not a string", file: `{"topic":"a","properties":{"n":1}}`, wantErr: "in.jsonl:1: malformed input: n: want a string value"},
		{name: "properties not an object", file: `{"topic":"a","properties":["n"]}`, wantErr: "in.jsonl:1: malformed input: want an object of strings"},
		{name: "both keys", file: `{"topic":"a","key":"k","key_base64":"AA=="}`, wantErr: "in.jsonl:1: \"key\" and \"key_base64\" are exclusive"},
		{name: "bad key base64", file: `{"topic":"a","key_base64":"%%%"}`, wantErr: `in.jsonl:1: "key_base64": illegal base64`},
		{name: "header not a string", file: `{"topic":"a","headers":{"n":true}}`, wantErr: "in.jsonl:1: malformed input: n: want a string value"},
		{name: "two values on a line", file: `{"topic":"a"} {"topic":"b"}`, wantErr: "in.jsonl:1: malformed input: more than one JSON value"},
		{name: "not an object", file: `[1]`, wantErr: "in.jsonl:1: malformed input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadInputs(strings.NewReader(tc.file), "in.jsonl")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ReadInputs error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	file := writeTemp(t, "cfg.json", " {\"field\": \"temp\"}\n")
	bad := writeTemp(t, "bad.json", "[1]")
	tests := []struct {
		name, arg, want, wantErr string
	}{
		{name: "empty", arg: "", want: "{}"},
		{name: "inline", arg: `{"a": [1, 2]}`, want: `{"a":[1,2]}`},
		{name: "file", arg: "@" + file, want: `{"field":"temp"}`},
		{name: "not an object", arg: `[1]`, wantErr: "--config: want a JSON object"},
		{name: "null", arg: `null`, wantErr: "--config: want a JSON object"},
		{name: "malformed", arg: `{"a":}`, wantErr: "--config: want a JSON object"},
		{name: "bad file", arg: "@" + bad, wantErr: "--config file " + bad + ": want a JSON object"},
		{name: "missing file", arg: "@/nonexistent/cfg.json", wantErr: "--config file: open /nonexistent/cfg.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig(tc.arg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseConfig(%q) error = %v, want one containing %q", tc.arg, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("ParseConfig(%q) = %s, %v; want %s", tc.arg, got, err, tc.want)
			}
		})
	}
}
