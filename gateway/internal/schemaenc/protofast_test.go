package schemaenc

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// richProto declares fields out of number order, of every scalar kind the fast path covers
// and of some it gives up on.
const richProto = `syntax = "proto3";
package acme.v1;
import "google/protobuf/timestamp.proto";
message Rich {
  enum Level { LOW = 0; HIGH = 1; NEGATIVE = -1; }
  message Point { double x = 1; float y = 2; repeated Point next = 3; }
  sint64 s64 = 9;
  sint32 s32 = 2;
  int32 i32 = 1;
  uint32 u32 = 3;
  uint64 u64 = 4;
  fixed32 f32 = 5;
  fixed64 f64 = 6;
  sfixed32 sf32 = 7;
  sfixed64 sf64 = 8;
  bool flag = 10;
  float ratio = 11;
  string device_id = 12 [json_name = "deviceRef"];
  Level level = 13;
  repeated int64 counts = 14;
  repeated Level levels = 15;
  repeated string names = 16;
  repeated Point points = 17;
  Point origin = 18;
  optional int32 maybe = 19;
  repeated int32 loose = 20 [packed = false];
  bytes blob = 21;
  map<string, int32> totals = 22;
  oneof choice { string a = 23; int32 b = 24; }
  google.protobuf.Timestamp at = 25;
  int64 big = 300;
}
`

// protoFastCases are documents for benchProto (the first ones) and richProto.
var protoFastCases = []string{
	sensorJSON,
	` { "tags" : [ ], "location":{"lon":-1.5e3,"lat":0},"ts":"-0","status":1,"humidity":null,"temp":-0,"device_id":"ü€"} `,
	`{"deviceId":"d","temp":1,"humidity":0,"status":"FAULT","ts":"9007199254740993","location":{},"tags":[""]}`,
	`{"device_id":"d","temp":1,"humidity":2147483648}`,
	`{"device_id":"d","device_id":"e"}`,
	`{"device_id":"d","deviceId":"e"}`,
	`{"device_id":"d\n"}`,
	`{"device_id":"d","temp":"NaN"}`,
	`{"ts":1.0}`, `{"ts":1e3}`, `{"status":"NOPE"}`, `{"status":7}`, `{"x":1}`, `{} x`, `{"tags":[null]}`,
	`{"i32":-1,"s32":-2,"u32":3,"u64":"18446744073709551615","f32":4,"f64":5,"sf32":-6,"sf64":-7,"s64":"-9223372036854775808",
	  "flag":true,"ratio":0.1,"deviceRef":"r","level":"NEGATIVE","counts":[1,-1,"300"],"levels":["HIGH",0,-1],"names":["a",""],
	  "points":[{"x":1,"next":[{}]},{}],"origin":{"y":3.4e38},"maybe":0,"loose":[0,1],"big":1}`,
	`{"i32":0,"s32":0,"u32":0,"u64":0,"f32":0,"f64":0,"sf32":0,"sf64":0,"s64":0,"flag":false,"ratio":-0,"device_id":"","level":"LOW","counts":[],"maybe":null}`,
	`{"ratio":3.5e38}`, `{"u32":-1}`, `{"i32":2147483648}`, `{"blob":"AAE="}`, `{"totals":{"a":1}}`, `{"a":"x"}`,
	`{"at":"2026-12-07T06:00:00Z"}`, `{"blob":null,"at":null}`, `{"level":"HIGH","level":1}`,
}

// protoFastAgrees fails when the fast path takes doc but writes other bytes than the general
// path, or takes a document the general path refuses.
func protoFastAgrees(t *testing.T, c *protoCodec, doc []byte) bool {
	t.Helper()
	fast, fastOK := c.fast.encodeFast([]byte{0xAA}, doc)
	general, err := c.encodeGeneral([]byte{0xAA}, doc)
	if fastOK && (err != nil || !bytes.Equal(fast, general)) {
		t.Fatalf("%q: fast path wrote % x, general path % x (%v)", doc, fast, general, err)
	}
	return fastOK
}

func protoFastCodecs(t testing.TB) []*protoCodec {
	var cs []*protoCodec
	for _, text := range []string{benchProto, richProto} {
		c, err := newProtoCodec(context.Background(), text, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if c.fast == nil {
			t.Fatalf("%.40q is not compiled for the fast path", text)
		}
		cs = append(cs, c)
	}
	return cs
}

func TestProtobufFastPath(t *testing.T) {
	cs := protoFastCodecs(t)
	taken := 0
	for _, c := range cs {
		for _, doc := range protoFastCases {
			if protoFastAgrees(t, c, []byte(doc)) {
				taken++
			}
		}
	}
	if taken < 6 {
		t.Errorf("the fast path took %d of the documents, want at least 6", taken)
	}
	long := []byte(`{"counts":[` + strings.Repeat(`1234567,`, 40) + `1],"names":["` + strings.Repeat("x", 200) + `"]}`)
	if !protoFastAgrees(t, cs[1], long) {
		t.Error("the fast path did not take long packed and string fields")
	}
	if !protoFastAgrees(t, cs[0], []byte(sensorJSON)) {
		t.Error("the fast path did not take the sensor payload")
	}
}

func FuzzProtobufFastPath(f *testing.F) {
	for _, doc := range protoFastCases {
		f.Add(false, []byte(doc))
		f.Add(true, []byte(doc))
	}
	cs := protoFastCodecs(f)
	f.Fuzz(func(t *testing.T, rich bool, doc []byte) {
		c := cs[0]
		if rich {
			c = cs[1]
		}
		protoFastAgrees(t, c, doc)
	})
}
