package abi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

var batchCases = []struct {
	name string
	msgs []abi.Message
}{
	{"one minimal", []abi.Message{{}}},
	{"one full", []abi.Message{{
		Topic: "building/floor2/sensor/017/temp", Payload: []byte(`{"temp":21.37}`),
		ContentType: "application/json", Route: "building-sensors", Tenant: "acme",
		QoS: 1, Retain: true, ArrivedAtMs: 1732500000123,
		KafkaTopic: "sensors", Key: []byte("k"), KeySet: true,
		Properties: []abi.Property{{"unit", "C"}, {"bin", "\x00\xff"}},
		Headers:    []abi.Property{{"stage", "1"}},
	}}},
	{"empty key set", []abi.Message{{Topic: "t", KeySet: true, Key: []byte{}}}},
	{"negative time", []abi.Message{{Topic: "t", ArrivedAtMs: -1, QoS: 2}}},
	{"several", []abi.Message{
		{Topic: "a", Payload: []byte("1"), Route: "r"},
		{Topic: "a", Payload: []byte("2"), Route: "r", QoS: 2},
		{Topic: "b", Payload: []byte("3"), Route: "r", Headers: []abi.Property{{"h", ""}}},
	}},
}

var resultCases = []struct {
	name   string
	inputs int
	rs     []abi.Result
}{
	{"filtered", 1, []abi.Result{{}}},
	{"unchanged", 1, []abi.Result{{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged}}}}},
	{"mapped", 1, []abi.Result{{Outputs: []abi.Output{{Payload: []byte("new")}}}}},
	{"error", 1, []abi.Result{{Failed: true, Err: "field temp missing"}}},
	{"all fields", 1, []abi.Result{{Outputs: []abi.Output{{
		Flags:   abi.SetKafkaTopic | abi.SetKey | abi.SetHeaders,
		Payload: []byte("p"), KafkaTopic: "alerts", Key: []byte("dev-1"),
		Headers: []abi.Property{{"a", "1"}, {"b", "\x00"}},
	}}}}},
	{"reset topic, empty key, no headers", 1, []abi.Result{{Outputs: []abi.Output{{
		Flags: abi.PayloadUnchanged | abi.SetKafkaTopic | abi.SetKey | abi.SetHeaders,
	}}}}},
	{"split and mixed", 3, []abi.Result{
		{Outputs: []abi.Output{{Payload: []byte("0")}, {Payload: []byte("1")}, {Payload: []byte("2")}}},
		{Failed: true, Err: ""},
		{},
	}},
}

func eqProps(a, b []abi.Property) bool { return slices.Equal(a, b) }

func eqMessage(a, b abi.Message) bool {
	return a.Topic == b.Topic && bytes.Equal(a.Payload, b.Payload) && a.ContentType == b.ContentType &&
		a.Route == b.Route && a.Tenant == b.Tenant && a.QoS == b.QoS && a.Retain == b.Retain &&
		a.ArrivedAtMs == b.ArrivedAtMs && a.KafkaTopic == b.KafkaTopic && bytes.Equal(a.Key, b.Key) &&
		a.KeySet == b.KeySet && eqProps(a.Properties, b.Properties) && eqProps(a.Headers, b.Headers)
}

func eqOutput(a, b abi.Output) bool {
	a.Flags &= abi.PayloadUnchanged | abi.SetKafkaTopic | abi.SetKey | abi.SetHeaders
	if a.Flags != b.Flags {
		return false
	}
	if a.Flags&abi.PayloadUnchanged == 0 && !bytes.Equal(a.Payload, b.Payload) {
		return false
	}
	if a.Flags&abi.SetKafkaTopic != 0 && a.KafkaTopic != b.KafkaTopic {
		return false
	}
	if a.Flags&abi.SetKey != 0 && !bytes.Equal(a.Key, b.Key) {
		return false
	}
	return a.Flags&abi.SetHeaders == 0 || eqProps(a.Headers, b.Headers)
}

func eqResult(a, b abi.Result) bool {
	if a.Failed != b.Failed {
		return false
	}
	if a.Failed {
		return a.Err == b.Err
	}
	return slices.EqualFunc(a.Outputs, b.Outputs, eqOutput)
}

func TestBatchRoundTrip(t *testing.T) {
	var into []abi.Message
	for _, tc := range batchCases {
		t.Run(tc.name, func(t *testing.T) {
			frame := abi.AppendBatch(nil, tc.msgs)
			got, err := abi.DecodeBatch(frame, into)
			if err != nil {
				t.Fatalf("DecodeBatch: %v", err)
			}
			if !slices.EqualFunc(got, tc.msgs, eqMessage) {
				t.Fatalf("round trip:\n got  %+v\n want %+v", got, tc.msgs)
			}
			if again := abi.AppendBatch(nil, got); !bytes.Equal(again, frame) {
				t.Fatalf("re-encoding differs:\n got  %x\n want %x", again, frame)
			}
			into = got // reuse across cases, as the guest does
		})
	}
}

func TestResultsRoundTrip(t *testing.T) {
	var into []abi.Result
	for _, tc := range resultCases {
		t.Run(tc.name, func(t *testing.T) {
			frame := abi.AppendResults(nil, tc.rs)
			got, err := abi.DecodeResults(frame, tc.inputs, 3, into)
			if err != nil {
				t.Fatalf("DecodeResults: %v", err)
			}
			if !slices.EqualFunc(tc.rs, got, eqResult) {
				t.Fatalf("round trip:\n got  %+v\n want %+v", got, tc.rs)
			}
			if again := abi.AppendResults(nil, got); !bytes.Equal(again, frame) {
				t.Fatalf("re-encoding differs:\n got  %x\n want %x", again, frame)
			}
			into = got
		})
	}
}

func TestAppendResults_dropsUnknownFlags(t *testing.T) {
	frame := abi.AppendResults(nil, []abi.Result{{Outputs: []abi.Output{{Flags: 0xF0 | abi.PayloadUnchanged}}}})
	got, err := abi.DecodeResults(frame, 1, 0, nil)
	if err != nil {
		t.Fatalf("DecodeResults: %v", err)
	}
	if f := got[0].Outputs[0].Flags; f != abi.PayloadUnchanged {
		t.Fatalf("flags = %#x, want %#x", f, abi.PayloadUnchanged)
	}
}

// le builds frames by hand for the malformed cases.
type le []byte

func (b le) u32(v uint32) le       { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u8(v byte) le          { return append(b, v) }
func (b le) str(s string) le       { return append(b.u32(uint32(len(s))), s...) }
func hdr(count uint32) le          { return le(nil).u32(abi.Version).u32(count) }
func okOutputs(n uint32) le        { return hdr(1).u8(0).u32(n) }
func frameOf(b le) []byte          { return []byte(b) }
func payloadOut(p string, b le) le { return b.u8(0).str(p) }

func TestDecodeResults_malformed(t *testing.T) {
	tests := []struct {
		name      string
		frame     []byte
		inputs    int
		maxFanOut int
		wantErr   string
	}{
		{"empty", nil, 1, 0, "result version: need 4 bytes"},
		{"version 2", le(nil).u32(2).u32(1).u8(0).u32(0), 1, 0, "result version: got 2, want 1"},
		{"count mismatch", hdr(2).u8(0).u32(0).u8(0).u32(0), 1, 0, "result count: got 2, want 1"},
		{"huge count", hdr(4_000_000_000), 4_000_000_000, 0, "result count: count 4000000000 cannot fit"},
		{"status 2", hdr(1).u8(2).u32(0), 1, 0, "offset 8: status: got 2, want 0 or 1"},
		{"truncated status", hdr(1), 1, 0, "result count: count 1 cannot fit in 0 bytes left"},
		{"unknown flags", okOutputs(1).u8(0x10), 1, 0, "output flags: unknown bits 0x10"},
		{"fan-out", payloadOut("b", payloadOut("a", okOutputs(2))), 1, 1, "2 outputs exceed max_fan_out 1"},
		{"huge output count", okOutputs(4_000_000_000), 1, 0, "output count: count 4000000000 cannot fit"},
		{"payload past end", okOutputs(1).u8(0).u32(10).u8('x'), 1, 0, "output payload: length 10 runs past the end"},
		{"error past end", hdr(1).u8(1).u32(1 << 31), 1, 0, "error: length 2147483648 runs past the end"},
		{"trailing", okOutputs(0).u8(0), 1, 0, "result: 1 trailing bytes"},
		{"headers past end", okOutputs(1).u8(byte(abi.PayloadUnchanged | abi.SetHeaders)).u32(1).str("a").u32(5).u8(0x78), 1, 0, "output header value: length 5 runs past the end"},
		{"huge header count", okOutputs(1).u8(byte(abi.PayloadUnchanged | abi.SetHeaders)).u32(1 << 30), 1, 0, "output headers: count 1073741824 cannot fit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := abi.DecodeResults(tc.frame, tc.inputs, tc.maxFanOut, nil)
			if !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %q, want it to contain %q", err, tc.wantErr)
			}
			if len(got) != 0 {
				t.Fatalf("got %d results with an error", len(got))
			}
		})
	}
}

func TestDecodeResults_hugeCountDoesNotAllocate(t *testing.T) {
	frame := okOutputs(4_000_000_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := abi.DecodeResults(frame, 1, 0, nil)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("hostile count accepted")
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 { // the error text only, never a 4e9-element slice
		t.Fatalf("%d bytes allocated for a hostile count", d)
	}
}

func TestDecodeBatch_malformed(t *testing.T) {
	good := abi.AppendBatch(nil, []abi.Message{{Topic: "t", QoS: 1}})
	qosAt := 8 + 4 + 1 + 4*4 // version, count, topic "t", payload/content_type/route/tenant lengths
	withByte := func(at int, v byte) []byte { b := slices.Clone(good); b[at] = v; return b }
	tests := []struct {
		name    string
		frame   []byte
		wantErr string
	}{
		{"empty", nil, "batch version: need 4 bytes"},
		{"version 0", withByte(0, 0), "batch version: got 0, want 1"},
		{"count 0", frameOf(hdr(0)), "batch count: must be at least 1"},
		{"huge count", frameOf(hdr(1 << 31)), "batch count: count 2147483648 cannot fit"},
		{"qos 3", withByte(qosAt, 3), "qos: got 3"},
		{"unknown flag", withByte(qosAt+1, 4), "flags: unknown bits 0x04"},
		{"truncated", good[:len(good)-1], "headers: need 4 bytes"},
		{"trailing", append(slices.Clone(good), 0), "batch: 1 trailing bytes"},
		{"topic past end", frameOf(hdr(1).u32(100).str(strings.Repeat("x", 60))), "topic: length 100 runs past the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := abi.DecodeBatch(tc.frame, nil)
			if !errors.Is(err, abi.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrMalformed containing %q", err, tc.wantErr)
			}
			if len(got) != 0 {
				t.Fatalf("got %d messages with an error", len(got))
			}
		})
	}
}

func TestDecode_aliasing(t *testing.T) {
	frame := abi.AppendBatch(nil, batchCases[1].msgs)
	msgs, err := abi.DecodeBatch(frame, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Payload aliases the frame; appending to it must not write into the frame.
	p := msgs[0].Payload
	if !within(p, frame) {
		t.Fatal("payload does not alias the frame")
	}
	before := slices.Clone(frame)
	_ = append(p, "overwrite"...)
	if !bytes.Equal(frame, before) {
		t.Fatal("append to a decoded payload wrote into the frame")
	}
	// Strings are copies: changing the frame does not change them.
	topic := msgs[0].Topic
	clear(frame)
	if topic != "building/floor2/sensor/017/temp" {
		t.Fatalf("topic changed with the frame: %q", topic)
	}
}

func within(sub, frame []byte) bool {
	if len(sub) == 0 {
		return true
	}
	start := &frame[0]
	for i := range frame {
		if &frame[i] == &sub[0] {
			return i+len(sub) <= len(frame) && start != nil
		}
	}
	return false
}

func TestOutputApply(t *testing.T) {
	in := abi.Message{Topic: "t", Payload: []byte("in"), KafkaTopic: "k0", Key: []byte("key0"), KeySet: true,
		Headers: []abi.Property{{"h", "0"}}, Route: "r", QoS: 1}
	tests := []struct {
		name string
		out  abi.Output
		want abi.Message
	}{
		{"payload only", abi.Output{Payload: []byte("new")},
			abi.Message{Topic: "t", Payload: []byte("new"), KafkaTopic: "k0", Key: []byte("key0"), KeySet: true, Headers: in.Headers, Route: "r", QoS: 1}},
		{"unchanged ignores payload", abi.Output{Flags: abi.PayloadUnchanged, Payload: []byte("x")}, in},
		{"set everything", abi.Output{Flags: abi.SetKafkaTopic | abi.SetKey | abi.SetHeaders, Payload: []byte{}},
			abi.Message{Topic: "t", Payload: []byte{}, KeySet: true, Route: "r", QoS: 1}},
		{"key set on unkeyed", abi.Output{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte("k")},
			abi.Message{Topic: "t", Payload: []byte("in"), KafkaTopic: "k0", Key: []byte("k"), KeySet: true, Headers: in.Headers, Route: "r", QoS: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.out.Apply(in); !eqMessage(got, tc.want) {
				t.Fatalf("Apply:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestAppendBatch_noAllocs(t *testing.T) {
	msgs := batchCases[4].msgs
	buf := abi.AppendBatch(nil, msgs)
	if a := testing.AllocsPerRun(100, func() { buf = abi.AppendBatch(buf[:0], msgs) }); a != 0 {
		t.Fatalf("AppendBatch with a reused buffer: %v allocs, want 0", a)
	}
	rs := resultCases[6].rs
	out := abi.AppendResults(nil, rs)
	if a := testing.AllocsPerRun(100, func() { out = abi.AppendResults(out[:0], rs) }); a != 0 {
		t.Fatalf("AppendResults with a reused buffer: %v allocs, want 0", a)
	}
}

func TestDecode_steadyStateNoAllocs(t *testing.T) {
	msgs := batchCases[4].msgs
	frame := abi.AppendBatch(nil, msgs)
	into, _ := abi.DecodeBatch(frame, nil)
	if a := testing.AllocsPerRun(100, func() { into, _ = abi.DecodeBatch(frame, into) }); a != 0 {
		t.Fatalf("DecodeBatch into a reused slice: %v allocs, want 0", a)
	}
	rs := abi.AppendResults(nil, resultCases[4].rs)
	res, _ := abi.DecodeResults(rs, 1, 0, nil)
	if a := testing.AllocsPerRun(100, func() { res, _ = abi.DecodeResults(rs, 1, 0, res) }); a != 0 {
		t.Fatalf("DecodeResults into a reused slice: %v allocs, want 0", a)
	}
}
