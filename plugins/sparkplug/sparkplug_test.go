package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk"
	"github.com/tributary-gw/tributary/sdk/abi"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// le packs values little-endian, as Sparkplug array datatypes are sent.
func le(vs ...any) string {
	var buf bytes.Buffer
	for _, v := range vs {
		_ = binary.Write(&buf, binary.LittleEndian, v)
	}
	return b64(buf.Bytes())
}

// birth is an NBIRTH with one metric of every common datatype, properties,
// metadata, a null, a historical metric and a dataset.
var birth = `{"timestamp":1732500000000,"seq":0,"uuid":"u-1","body":"` + b64([]byte{1, 2}) + `","metrics":[
 {"name":"bdSeq","datatype":8,"long_value":"3"},
 {"name":"i8","alias":1,"datatype":1,"int_value":4294967291},
 {"name":"i16","alias":2,"datatype":2,"int_value":4294966996},
 {"name":"i32","alias":3,"datatype":3,"int_value":4294897296},
 {"name":"i64","alias":4,"datatype":4,"long_value":"18446744068709551616"},
 {"name":"u8","datatype":5,"int_value":200},
 {"name":"u16","datatype":6,"int_value":60000},
 {"name":"u32","datatype":7,"int_value":4000000000},
 {"name":"u64","datatype":8,"long_value":"9223372036854775813"},
 {"name":"f","datatype":9,"float_value":1.5},
 {"name":"d","datatype":10,"double_value":3.25},
 {"name":"b","datatype":11,"boolean_value":true},
 {"name":"s","datatype":12,"string_value":"h\u00e9llo \"q\"\n"},
 {"name":"when","datatype":13,"long_value":"1700000000000"},
 {"name":"t","datatype":14,"string_value":"text"},
 {"name":"id","datatype":15,"string_value":"0f8fad5b-d9cb-469f-a165-70867728950e"},
 {"name":"raw","datatype":17,"bytes_value":"` + b64([]byte{0, 255}) + `"},
 {"name":"file","datatype":18,"bytes_value":"` + b64([]byte("abc")) + `","metadata":{"file_name":"a.txt","size":"3","md5":"x"}},
 {"name":"nothing","datatype":10,"is_null":true},
 {"name":"old","timestamp":1732499999000,"datatype":3,"int_value":7,"is_historical":true,"is_transient":true},
 {"name":"temp","datatype":10,"double_value":21.5,"properties":{"keys":["engUnit","limits"],"values":[
   {"type":12,"string_value":"\u00b0C"},
   {"type":20,"propertyset_value":{"keys":["hi","lo"],"values":[{"type":3,"int_value":4294967286},{"type":9,"is_null":true}]}}]}},
 {"name":"table","datatype":16,"dataset_value":{"num_of_columns":"3","columns":["a","b","c"],"types":[3,12,11],
   "rows":[{"elements":[{"int_value":4294967295},{"string_value":"x"},{"boolean_value":true}]},
           {"elements":[{"int_value":2},{"string_value":"y"},{"boolean_value":false}]}]}}
]}`

var birthJSON = `{"namespace":"spBv1.0","group_id":"plant1","message_type":"NBIRTH","edge_node_id":"edge7",
"timestamp":1732500000000,"seq":0,"uuid":"u-1","body":"AQI=","metrics":[
 {"name":"bdSeq","datatype":"UInt64","value":3},
 {"name":"i8","alias":1,"datatype":"Int8","value":-5},
 {"name":"i16","alias":2,"datatype":"Int16","value":-300},
 {"name":"i32","alias":3,"datatype":"Int32","value":-70000},
 {"name":"i64","alias":4,"datatype":"Int64","value":-5000000000},
 {"name":"u8","datatype":"UInt8","value":200},
 {"name":"u16","datatype":"UInt16","value":60000},
 {"name":"u32","datatype":"UInt32","value":4000000000},
 {"name":"u64","datatype":"UInt64","value":9223372036854775813},
 {"name":"f","datatype":"Float","value":1.5},
 {"name":"d","datatype":"Double","value":3.25},
 {"name":"b","datatype":"Boolean","value":true},
 {"name":"s","datatype":"String","value":"h\u00e9llo \"q\"\n"},
 {"name":"when","datatype":"DateTime","value":1700000000000},
 {"name":"t","datatype":"Text","value":"text"},
 {"name":"id","datatype":"UUID","value":"0f8fad5b-d9cb-469f-a165-70867728950e"},
 {"name":"raw","datatype":"Bytes","value":"AP8="},
 {"name":"file","datatype":"File","value":"YWJj","metadata":{"size":3,"file_name":"a.txt","md5":"x"}},
 {"name":"nothing","datatype":"Double","is_null":true,"value":null},
 {"name":"old","timestamp":1732499999000,"datatype":"Int32","is_historical":true,"is_transient":true,"value":7},
 {"name":"temp","datatype":"Double","value":21.5,"properties":{"engUnit":{"type":"String","value":"\u00b0C"},
   "limits":{"type":"PropertySet","value":{"hi":{"type":"Int32","value":-10},"lo":{"type":"Float","value":null}}}}},
 {"name":"table","datatype":"DataSet","value":{"columns":["a","b","c"],"types":["Int32","String","Boolean"],
   "rows":[[-1,"x",true],[2,"y",false]]}}
]}`

var arrays = `{"timestamp":5,"seq":9,"metrics":[
 {"name":"i8a","datatype":22,"bytes_value":"` + le(int8(-1), int8(2)) + `"},
 {"name":"i16a","datatype":23,"bytes_value":"` + le(int16(-300), int16(5)) + `"},
 {"name":"i32a","datatype":24,"bytes_value":"` + le(int32(-70000)) + `"},
 {"name":"i64a","datatype":25,"bytes_value":"` + le(int64(-5000000000)) + `"},
 {"name":"u8a","datatype":26,"bytes_value":"` + le(uint8(255)) + `"},
 {"name":"u16a","datatype":27,"bytes_value":"` + le(uint16(65535)) + `"},
 {"name":"u32a","datatype":28,"bytes_value":"` + le(uint32(4000000000)) + `"},
 {"name":"u64a","datatype":29,"bytes_value":"` + le(uint64(1)<<63) + `"},
 {"name":"fa","datatype":30,"bytes_value":"` + le(float32(1.5), float32(-2)) + `"},
 {"name":"da","datatype":31,"bytes_value":"` + le(3.25, float64(math.Inf(1))) + `"},
 {"name":"ba","datatype":32,"bytes_value":"` + b64([]byte{3, 0, 0, 0, 0b10100000}) + `"},
 {"name":"sa","datatype":33,"bytes_value":"` + b64([]byte("ab\x00\x00c\x00")) + `"},
 {"name":"dta","datatype":34,"bytes_value":"` + le(uint64(1700000000000)) + `"}
]}`

var arraysJSON = `{"namespace":"spBv1.0","group_id":"g","message_type":"DDATA","edge_node_id":"n","device_id":"d",
"timestamp":5,"seq":9,"metrics":[
 {"name":"i8a","datatype":"Int8Array","value":[-1,2]},
 {"name":"i16a","datatype":"Int16Array","value":[-300,5]},
 {"name":"i32a","datatype":"Int32Array","value":[-70000]},
 {"name":"i64a","datatype":"Int64Array","value":[-5000000000]},
 {"name":"u8a","datatype":"UInt8Array","value":[255]},
 {"name":"u16a","datatype":"UInt16Array","value":[65535]},
 {"name":"u32a","datatype":"UInt32Array","value":[4000000000]},
 {"name":"u64a","datatype":"UInt64Array","value":[9223372036854775808]},
 {"name":"fa","datatype":"FloatArray","value":[1.5,-2]},
 {"name":"da","datatype":"DoubleArray","value":[3.25,"+Inf"]},
 {"name":"ba","datatype":"BooleanArray","value":[true,false,true]},
 {"name":"sa","datatype":"StringArray","value":["ab","","c"]},
 {"name":"dta","datatype":"DateTimeArray","value":[1700000000000]}
]}`

// ddata carries metrics by alias only, as DATA messages after a BIRTH do.
var ddata = `{"timestamp":1732500001000,"seq":4,"metrics":[
 {"alias":3,"datatype":3,"int_value":4294967295},
 {"alias":9,"timestamp":1732500000500,"datatype":10,"double_value":0.1}
]}`

func canon(t *testing.T, what string, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", what, err, b)
	}
	return v
}

func run(t *testing.T, cfg, topic string, payload []byte) abi.Result {
	t.Helper()
	if err := sdk.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init(%s): %v", cfg, err)
	}
	rs, err := sdk.Process(abi.Message{Topic: topic, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, cfg, topic string
		payload          []byte
		want             []string // JSON of each output
	}{
		{"birth, all datatypes", `{}`, "spBv1.0/plant1/NBIRTH/edge7", encodePayload(t, birth), []string{birthJSON}},
		{"arrays", `{"mode":"payload"}`, "spBv1.0/g/DDATA/n/d", encodePayload(t, arrays), []string{arraysJSON}},
		{"aliases per metric", `{"mode":"metric"}`, "spBv1.0/g/DDATA/n/d", encodePayload(t, ddata), []string{
			`{"namespace":"spBv1.0","group_id":"g","message_type":"DDATA","edge_node_id":"n","device_id":"d","seq":4,
			  "payload_timestamp":1732500001000,"alias":3,"timestamp":1732500001000,"datatype":"Int32","value":-1}`,
			`{"namespace":"spBv1.0","group_id":"g","message_type":"DDATA","edge_node_id":"n","device_id":"d","seq":4,
			  "payload_timestamp":1732500001000,"alias":9,"timestamp":1732500000500,"datatype":"Double","value":0.1}`,
		}},
		{"death", `{"mode":"metric"}`, "spBv1.0/g/NDEATH/n", encodePayload(t, `{"metrics":[{"name":"bdSeq","datatype":8,"long_value":"3"}]}`), []string{
			`{"namespace":"spBv1.0","group_id":"g","message_type":"NDEATH","edge_node_id":"n","name":"bdSeq","datatype":"UInt64","value":3}`,
		}},
		{"device death, no metrics", `{}`, "spBv1.0/g/DDEATH/n/d", encodePayload(t, `{"timestamp":1,"seq":5}`), []string{
			`{"namespace":"spBv1.0","group_id":"g","message_type":"DDEATH","edge_node_id":"n","device_id":"d","timestamp":1,"seq":5,"metrics":[]}`,
		}},
		{"empty payload per metric", `{"mode":"metric"}`, "spBv1.0/g/NDATA/n", nil, nil},
		{"state v3", `{}`, "spBv1.0/STATE/scada1", []byte(`{"online":true,"timestamp":1732500000000}`), []string{
			`{"namespace":"spBv1.0","message_type":"STATE","host_id":"scada1","state":{"online":true,"timestamp":1732500000000}}`,
		}},
		{"state v2", `{"mode":"metric"}`, "STATE/scada1", []byte("OFFLINE"), []string{
			`{"message_type":"STATE","host_id":"scada1","state":"OFFLINE"}`,
		}},
		{"unknown fields skipped", `{}`, "spBv1.0/g/NCMD/n", append(encodePayload(t, `{"seq":1}`), 0xf8, 0x01, 0x07), []string{
			`{"namespace":"spBv1.0","group_id":"g","message_type":"NCMD","edge_node_id":"n","seq":1,"metrics":[]}`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.cfg, tc.topic, tc.payload)
			if r.Failed {
				t.Fatalf("error: %s", r.Err)
			}
			if len(r.Outputs) != len(tc.want) {
				t.Fatalf("%d outputs, want %d", len(r.Outputs), len(tc.want))
			}
			for i, o := range r.Outputs {
				got, want := canon(t, "output", o.Payload), canon(t, "want", []byte(tc.want[i]))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("output %d:\n got  %s\n want %s", i, o.Payload, tc.want[i])
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := encodePayload(t, ddata)
	tests := []struct {
		name, topic string
		payload     []byte
		wantErr     string
	}{
		{"not sparkplug topic", "building/f1/temp", valid, "is not spBv1.0/"},
		{"node type with device", "spBv1.0/g/NDATA/n/d", valid, "is not spBv1.0/"},
		{"unknown type", "spBv1.0/g/NFOO/n", valid, "is not spBv1.0/"},
		{"truncated", "spBv1.0/g/NDATA/n", valid[:len(valid)-3], "NDATA payload: truncated protobuf"},
		{"json not protobuf", "spBv1.0/g/NDATA/n", []byte(`{"temp":21}`), "NDATA payload"},
		{"group wire type", "spBv1.0/g/NDATA/n", []byte{0xa3, 0x01}, "unsupported protobuf wire type 3"},
		{"template", "spBv1.0/g/NBIRTH/n", encodePayload(t, `{"metrics":[{"name":"tpl","datatype":19,"template_value":{"version":"1"}}]}`),
			`metric "tpl": Template values are not supported`},
		{"bad array", "spBv1.0/g/NDATA/n", encodePayload(t, `{"metrics":[{"name":"a","datatype":24,"bytes_value":"AAAA"}]}`),
			"not a multiple of 4"},
		{"state not json", "spBv1.0/STATE/h", []byte("ONLINE"), "STATE payload is not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, `{}`, tc.topic, tc.payload)
			if !r.Failed || !strings.Contains(r.Err, tc.wantErr) {
				t.Fatalf("result %+v, want an error containing %q", r, tc.wantErr)
			}
		})
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct{ cfg, wantErr string }{
		{`{"mode":"metrics"}`, `mode "metrics"`},
		{`{"mode":"metric","split":true}`, `unknown field "split"`},
		{`{"mode":1}`, "mode"},
	}
	for _, tc := range tests {
		if err := sdk.Init([]byte(tc.cfg)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Init(%s) = %v, want an error containing %q", tc.cfg, err, tc.wantErr)
		}
	}
}

// FuzzDecode checks that arbitrary payloads never panic and that every
// successful decode is valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add(encodePayload(f, birth), false)
	f.Add(encodePayload(f, arrays), true)
	f.Add(encodePayload(f, ddata), true)
	f.Fuzz(func(t *testing.T, payload []byte, perMetricMode bool) {
		cfg := `{}`
		if perMetricMode {
			cfg = `{"mode":"metric"}`
		}
		r := run(t, cfg, "spBv1.0/g/DDATA/n/d", payload)
		for _, o := range r.Outputs {
			if !json.Valid(o.Payload) {
				t.Fatalf("invalid JSON output %q", o.Payload)
			}
		}
	})
}

func sdkInit(cfg string) error        { return sdk.Init([]byte(cfg)) }
func handleFrame(frame []byte) []byte { return sdk.HandleFrame(frame) }
