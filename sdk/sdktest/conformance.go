package sdktest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// Caller hands one input frame (sdk/ABI.md §3) to a guest instance and
// returns the guest's result frame (§4). A host implements it around its
// own instance; an error means the call itself failed (trap, timeout, bad
// pointer). The returned frame is only read before the next call.
type Caller func(frame []byte) ([]byte, error)

// Frame returns the input frame for msgs, a fresh slice.
func Frame(msgs ...abi.Message) []byte { return abi.AppendBatch(nil, msgs) }

// Call encodes msgs, calls the guest and decodes the result frame, failing
// the test on a call error or a malformed result. The results do not alias
// the guest's frame.
func Call(t testing.TB, call Caller, msgs ...abi.Message) []abi.Result {
	t.Helper()
	out, err := call(Frame(msgs...))
	if err != nil {
		t.Fatalf("sdktest: calling the guest with %d messages: %v", len(msgs), err)
	}
	rs, err := abi.DecodeResults(bytes.Clone(out), len(msgs), 0, nil)
	if err != nil {
		t.Fatalf("sdktest: result frame for %d messages: %v", len(msgs), err)
	}
	return rs
}

// Msg returns a message as a host would send it for an MQTT publish on
// topic with payload, on route "conformance" at QoS 1.
func Msg(topic, payload string) abi.Message {
	return abi.Message{Topic: topic, Payload: []byte(payload), Route: "conformance", QoS: 1, ArrivedAtMs: 1732500000123}
}

// Meta is the JSON the conformance guest's "meta" command answers with
// (sdk/ABI.md, "Appendix: conformance guest").
type Meta struct {
	Topic       string      `json:"topic"`
	ContentType string      `json:"content_type"`
	Route       string      `json:"route"`
	Tenant      string      `json:"tenant"`
	QoS         byte        `json:"qos"`
	Retain      bool        `json:"retain"`
	ArrivedAtMs int64       `json:"arrived_at_ms"`
	KafkaTopic  string      `json:"kafka_topic"`
	Key         *string     `json:"key"`
	Properties  [][2]string `json:"properties"`
	Headers     [][2]string `json:"headers"`
}

// MetaOf returns the Meta the conformance guest must answer for m.
func MetaOf(m abi.Message) Meta {
	md := Meta{
		Topic: m.Topic, ContentType: m.ContentType, Route: m.Route, Tenant: m.Tenant, QoS: m.QoS,
		Retain: m.Retain, ArrivedAtMs: m.ArrivedAtMs, KafkaTopic: m.KafkaTopic,
		Properties: pairs(m.Properties), Headers: pairs(m.Headers),
	}
	if m.KeySet {
		k := string(m.Key)
		md.Key = &k
	}
	return md
}

func pairs(ps []abi.Property) [][2]string {
	out := make([][2]string, len(ps))
	for i, p := range ps {
		out[i] = [2]string{p.Name, p.Value}
	}
	return out
}

// vector is one conformance case: a batch and what each result must be.
type vector struct {
	name string
	in   []abi.Message
	want []expect
}

// expect checks one result; it returns "" when r is right.
type expect func(in abi.Message, r abi.Result) string

func ok(outs ...abi.Output) expect {
	return func(_ abi.Message, r abi.Result) string {
		if r.Failed {
			return fmt.Sprintf("got error %q, want %d outputs", r.Err, len(outs))
		}
		if !slices.EqualFunc(r.Outputs, outs, sameOutput) {
			return fmt.Sprintf("outputs:\n got  %s\n want %s", showOutputs(r.Outputs), showOutputs(outs))
		}
		return ""
	}
}

func failed(text string) expect {
	return func(_ abi.Message, r abi.Result) string {
		if !r.Failed {
			return fmt.Sprintf("got %d outputs, want error %q", len(r.Outputs), text)
		}
		if text != "*" && r.Err != text {
			return fmt.Sprintf("error %q, want %q", r.Err, text)
		}
		return ""
	}
}

func meta() expect {
	return func(in abi.Message, r abi.Result) string {
		if r.Failed || len(r.Outputs) != 1 || r.Outputs[0].Flags != 0 {
			return fmt.Sprintf("want one output with a new payload and no other fields, got %+v", r)
		}
		var got Meta
		if err := json.Unmarshal(r.Outputs[0].Payload, &got); err != nil {
			return fmt.Sprintf("meta payload %q: %v", r.Outputs[0].Payload, err)
		}
		want := MetaOf(in)
		if g, w := fmt.Sprintf("%+v", show(got)), fmt.Sprintf("%+v", show(want)); g != w {
			return fmt.Sprintf("meta:\n got  %s\n want %s", g, w)
		}
		return ""
	}
}

func show(m Meta) any {
	type plain Meta
	key := "<unset>"
	if m.Key != nil {
		key = fmt.Sprintf("%q", *m.Key)
	}
	if len(m.Properties) == 0 {
		m.Properties = nil
	}
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	m.Key = nil
	return struct {
		plain
		Key string
	}{plain(m), key}
}

func sameOutput(a, b abi.Output) bool {
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
	return a.Flags&abi.SetHeaders == 0 || slices.Equal(a.Headers, b.Headers)
}

func showOutputs(os []abi.Output) string {
	var b strings.Builder
	b.WriteString("[")
	for i, o := range os {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{flags=%04b", o.Flags)
		if o.Flags&abi.PayloadUnchanged == 0 {
			p := o.Payload
			if len(p) > 32 {
				p = append(p[:32:32], "..."...)
			}
			fmt.Fprintf(&b, " payload=%q", p)
		}
		if o.Flags&abi.SetKafkaTopic != 0 {
			fmt.Fprintf(&b, " topic=%q", o.KafkaTopic)
		}
		if o.Flags&abi.SetKey != 0 {
			fmt.Fprintf(&b, " key=%q", o.Key)
		}
		if o.Flags&abi.SetHeaders != 0 {
			fmt.Fprintf(&b, " headers=%v", o.Headers)
		}
		b.WriteString("}")
	}
	b.WriteString("]")
	return b.String()
}

var unchanged = abi.Output{Flags: abi.PayloadUnchanged}

func payload(p string) abi.Output { return abi.Output{Payload: []byte(p)} }

func vectors() []vector {
	big := strings.Repeat("x", 1<<20)
	full := abi.Message{
		Topic: "building/floor2/sensor/017/temp", Payload: []byte("meta"), ContentType: "application/json",
		Route: "building-sensors", Tenant: "acme", QoS: 2, Retain: true, ArrivedAtMs: 1732500000123,
		KafkaTopic: "sensors", Key: []byte("dev-17"), KeySet: true,
		Properties: []abi.Property{{Name: "unit", Value: "°C"}, {Name: "unit", Value: "K"}, {Name: "empty", Value: ""}},
		Headers:    []abi.Property{{Name: "stage", Value: "1"}},
	}
	withHeaders := Msg("t", "header:a=1")
	withHeaders.Headers = []abi.Property{{Name: "x", Value: "1"}, {Name: "a", Value: "0"}}
	headerCase := Msg("t", "header:Unit=K")
	headerCase.Headers = []abi.Property{{Name: "unit", Value: "C"}, {Name: "Unit", Value: "0"}, {Name: "UNIT", Value: "F"}}
	emptyKey := Msg("t", "meta")
	emptyKey.KeySet = true
	emptyKey.Key = []byte{}

	vs := []vector{
		{"echo", []abi.Message{Msg("t", "echo")}, []expect{ok(unchanged)}},
		{"drop", []abi.Message{Msg("t", "drop")}, []expect{ok()}},
		{"set", []abi.Message{Msg("t", "set:hello")}, []expect{ok(payload("hello"))}},
		{"set empty", []abi.Message{Msg("t", "set:")}, []expect{ok(payload(""))}},
		{"set binary", []abi.Message{Msg("t", "set:\x00\xff\x01")}, []expect{ok(payload("\x00\xff\x01"))}},
		{"split", []abi.Message{Msg("t", "split:3")}, []expect{ok(payload("0"), payload("1"), payload("2"))}},
		{"split 0", []abi.Message{Msg("t", "split:0")}, []expect{ok()}},
		{"error", []abi.Message{Msg("t", "error:temp missing")}, []expect{failed("temp missing")}},
		{"error empty", []abi.Message{Msg("t", "error:")}, []expect{failed("")}},
		{"unknown command", []abi.Message{Msg("t", "nonsense")}, []expect{failed("*")}},
		{"topic", []abi.Message{Msg("t", "topic:alerts")}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic, KafkaTopic: "alerts"})}},
		{"topic reset", []abi.Message{Msg("t", "topic:")}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic})}},
		{"key", []abi.Message{Msg("t", "key:dev-1")}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte("dev-1")})}},
		{"key empty", []abi.Message{Msg("t", "key:")}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte{}})}},
		{"header", []abi.Message{withHeaders}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetHeaders,
			Headers: []abi.Property{{Name: "x", Value: "1"}, {Name: "a", Value: "1"}}})}},
		{"meta minimal", []abi.Message{Msg("a/b", "meta")}, []expect{meta()}},
		{"meta full", []abi.Message{full}, []expect{meta()}},
		{"meta empty key set", []abi.Message{emptyKey}, []expect{meta()}},
		{"large echo", []abi.Message{Msg("t", "echo"), {Topic: "t", Payload: []byte("echo:" + big)}}, []expect{ok(unchanged), ok(unchanged)}},
		{"large set", []abi.Message{Msg("t", "set:"+big)}, []expect{ok(payload(big))}},
		{"header case", []abi.Message{headerCase}, []expect{ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetHeaders,
			Headers: []abi.Property{{Name: "unit", Value: "C"}, {Name: "UNIT", Value: "F"}, {Name: "Unit", Value: "K"}}})}},
		// §6: the first message's outputs outgrow its input while later messages are still
		// to be read: a guest writing its result over the input buffer corrupts them.
		{"input kept", []abi.Message{Msg("t/1", "split:300"), Msg("t/2", "set:"+strings.Repeat("q", 600)), full},
			[]expect{ok(splitOutputs(300)...), ok(payload(strings.Repeat("q", 600))), meta()}},
		// §6: two frames of one size in a row: the host writes the second into the same
		// buffer without calling tributary_alloc, so a guest keeping references into the
		// first frame would answer with its bytes.
		{"same size before", []abi.Message{Msg("aaaa/1", "meta")}, []expect{meta()}},
		{"same size again", []abi.Message{Msg("bbbb/2", "meta")}, []expect{meta()}},
		{"mixed batch", []abi.Message{
			Msg("t/1", "echo"), Msg("t/2", "drop"), Msg("t/3", "error:e"), Msg("t/4", "split:2"),
			Msg("t/5", "set:x"), full, Msg("t/7", "key:k"),
		}, []expect{
			ok(unchanged), ok(), failed("e"), ok(payload("0"), payload("1")),
			ok(payload("x")), meta(), ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte("k")}),
		}},
	}
	for _, c := range jsonCases() {
		vs = append(vs, vector{"json " + c.name, []abi.Message{Msg("t", c.payload)}, []expect{c.want}})
	}
	return vs
}

func splitOutputs(n int) []abi.Output {
	outs := make([]abi.Output, n)
	for i := range outs {
		outs[i] = payload(strconv.Itoa(i))
	}
	return outs
}

// jsonCase is one check of sdk/ABI.md §2.1.1 through the conformance guest's json_*
// commands.
type jsonCase struct {
	name, payload string
	want          expect
}

// The answers of the json_* commands (sdk/ABI.md, "Appendix: conformance guest").
var (
	notFound  = failed("not found")
	malformed = failed("malformed")
)

func jsonIs(s string) expect { return ok(payload(s)) }

func jsonCases() []jsonCase {
	get := func(path, doc string) string { return "json_get:" + path + "\n" + doc }
	set := func(path, val, doc string) string { return "json_set:" + path + "\n" + val + "\n" + doc }
	del := func(path, doc string) string { return "json_delete:" + path + "\n" + doc }
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	return []jsonCase{
		// What is JSON.
		{"parse trims whitespace", "json_parse: \t[1, 2]\r\n", jsonIs("[1, 2]")},
		{"parse trailing data", "json_parse:{} x", malformed},
		{"parse empty", "json_parse:", malformed},
		{"control byte in string", "json_parse:\"a\x01\"", malformed},
		{"bad escape", `json_parse:"\x41"`, malformed},
		{"invalid UTF-8 accepted", "json_parse:\"\xff\xfe\"", jsonIs("\"\xff\xfe\"")},
		{"lone surrogate accepted", `json_parse:"\ud800"`, jsonIs(`"\ud800"`)},
		{"long number accepted", "json_parse:-123456789012345678901234567890.5e-999999", jsonIs("-123456789012345678901234567890.5e-999999")},
		{"leading zero", "json_parse:01", malformed},
		{"bare fraction", "json_parse:1.", malformed},
		{"NaN literal", "json_parse:NaN", malformed},
		{"upper-case literal", "json_parse:True", malformed},
		{"depth 10000", "json_parse:" + deep(10000), jsonIs(deep(10000))},
		{"depth 10001", "json_parse:" + deep(10001), malformed},
		{"duplicate keys get first", get("a", `{"a":1,"a":2}`), jsonIs("1")},
		{"duplicate keys set first", set("a", "3", `{"a":1,"a":2}`), jsonIs(`{"a":3,"a":2}`)},
		{"duplicate keys delete first", del("a", `{"a":1,"a":2}`), jsonIs(`{"a":2}`)},
		// How much is validated.
		{"get stops at the value", get("a", `{"a":1,"b":} x`), jsonIs("1")},
		{"get absent scans the object", get("c", `{"a":1,"b":}`), malformed},
		{"get malformed before", get("b", `{"a":tru,"b":1}`), malformed},
		{"set validates all", set("a", "2", `{"a":1} x`), malformed},
		{"delete validates all", del("a", `{"a":1,"b":}`), malformed},
		// Paths.
		{"empty path", get("", " {\"a\":1} "), jsonIs(`{"a":1}`)},
		{"nested", get("a.b", `{"a.b":1,"a":{"b":2}}`), jsonIs("2")},
		{"escaped dot", get(`a\.b`, `{"a.b":1,"a":{"b":2}}`), jsonIs("1")},
		{"escaped backslash", get(`a\\b`, `{"a\\b":1}`), jsonIs("1")},
		{"empty segment", get("a.", `{"a":{"":2}}`), jsonIs("2")},
		{"key case-sensitive", get("A", `{"a":1}`), notFound},
		{"key escapes decoded", get("ab", `{"a\u0062":1}`), jsonIs("1")},
		{"key surrogate pair", get("\U0001F600", `{"\ud83d\ude00":1}`), jsonIs("1")},
		{"key no normalisation", get("e\u0301", `{"\u00e9":1}`), notFound},
		{"key invalid UTF-8", get("\ufffd", "{\"\xff\":1}"), jsonIs("1")},
		{"path invalid UTF-8", get("\xff", "{\"\xff\":1}"), jsonIs("1")},
		{"key lone surrogate", get("\ufffd", `{"\udc00":1}`), jsonIs("1")},
		{"array index", get("x.1", `{"x":[1,[2],3]}`), jsonIs("[2]")},
		{"array index past end", get("x.3", `{"x":[1,[2],3]}`), notFound},
		{"array index leading zero", get("x.01", `{"x":[1,[2],3]}`), notFound},
		{"array index not a number", get("x.a", `{"x":[1]}`), notFound},
		{"digits are a key in an object", get("1", `{"1":5}`), jsonIs("5")},
		{"step into a scalar", get("a.b", `{"a":1}`), notFound},
		// Writes.
		{"set replaces", set("a", " [1,  2] ", `{"a": 1 ,"b":2}`), jsonIs(`{"a": [1,  2] ,"b":2}`)},
		{"set appends member", set("c", "3", `{ "a" : 1 }`), jsonIs(`{ "a" : 1,"c":3 }`)},
		{"set into empty object", set("c", "3", `{ }`), jsonIs(`{ "c":3}`)},
		{"set appends element", set("1", "2", `[1 ]`), jsonIs(`[1,2 ]`)},
		{"set index past end", set("a.2", "2", `{"a":[1]}`), malformed},
		{"set creates objects", set("b.0", "1", `{}`), jsonIs(`{"b":{"0":1}}`)},
		{"set appends then creates", set("0.x", "1", `[]`), jsonIs(`[{"x":1}]`)},
		{"set through a scalar", set("a.b", "2", `{"a":1}`), malformed},
		{"set bad value", set("a", "1 2", `{}`), malformed},
		{"set empty path", set("", "2", ` {"a":1} `), jsonIs("2")},
		{"set key escaping", set("q\"b\\\\s\tc\x01<&>\u2028é", "1", `{}`), jsonIs("{\"q\\\"b\\\\s\\tc\\u0001<&>\u2028é\":1}")},
		{"set key invalid UTF-8", set("\xff", "1", `{}`), jsonIs("{\"\ufffd\":1}")},
		// Floats.
		{"float", "json_float:0.1", jsonIs("0.1")},
		{"float exponent", "json_float:1E2", jsonIs("100")},
		{"float long", "json_float:123456789012345678901234567890", jsonIs("1.2345678901234568e+29")},
		{"float overflow", "json_float:1e400", failed("NaN")},
		{"float negative overflow", "json_float:-1e400", failed("NaN")},
		{"float underflow", "json_float:1e-400", jsonIs("0")},
		{"float negative zero", "json_float:-0", jsonIs("-0")},
		{"float whitespace", "json_float: 1", failed("NaN")},
		{"float not a number", `json_float:"1"`, failed("NaN")},
		{"float 1e21", "json_float:1e21", jsonIs("1e+21")},
		{"float below 1e21", "json_float:1e20", jsonIs("100000000000000000000")},
		{"float 1e-6", "json_float:0.000001", jsonIs("0.000001")},
		{"float below 1e-6", "json_float:0.0000001", jsonIs("1e-7")},
		// Deletes.
		{"delete first", del("a", `{"a":1, "b":2, "c":3}`), jsonIs(`{"b":2, "c":3}`)},
		{"delete middle", del("b", `{"a":1, "b":2, "c":3}`), jsonIs(`{"a":1, "c":3}`)},
		{"delete last", del("b", `{"a":1 , "b":2}`), jsonIs(`{"a":1}`)},
		{"delete only", del("a", `{ "a" : 1 }`), jsonIs(`{  }`)},
		{"delete element", del("0", `[1, 2 ,3]`), jsonIs(`[2 ,3]`)},
		{"delete absent", del("c", `{"a":1}`), notFound},
		{"delete through a scalar", del("a.b", `{"a":1}`), notFound},
		{"delete empty path", del("", `{"a":1}`), malformed},
		// The batched imports.
		{"find", find(" {\"a\":1,\"b\":{\"c\":[2]}} ", "a", "b.c", "x"), jsonIs("{\"a\":1,\"b\":{\"c\":[2]}}\n1\n[2]\n-")},
		{"find duplicate keys", find(`{"a":1,"a":2}`, "a"), jsonIs(`{"a":1,"a":2}` + "\n1")},
		{"find validates all", find(`{"a":1} x`, "a"), malformed},
		{"children of an object", "json_children:" + `{"a":1,"a":[2]}`, jsonIs("1:3 5:1 7:3 11:3")},
		{"children keys as written", "json_children:" + `{"a\u0062" : 1}`, jsonIs("1:9 13:1")},
		{"children of an array", "json_children:" + `[ 1 , "x" ]`, jsonIs("2:1 6:3")},
		{"children of an empty array", "json_children:[]", jsonIs("")},
		{"children with whitespace", "json_children: [1]", malformed},
		{"children of a scalar", "json_children:1", malformed},
		{"edit", edit(`{"a":1,"b":2,"c":3}`,
			editOp(1, "a", "2"), editOp(4, "b"), editOp(5, "c", "d.e"), editOp(3, "a", "9"), editOp(3, "f", "true"), editOp(4, "zz")),
			jsonIs(`{"a":2,"d":{"e":3},"f":true}`)},
		{"edit set float", edit(`{}`, editFloat("t", 0.1)), jsonIs(`{"t":0.1}`)},
		{"edit select", edit(`{"x":{"y":1,"w":2},"q":3}`, editSelect("x.y", "z", "q")), jsonIs(`{"x":{"y":1},"q":3}`)},
		{"edit failing operation", edit(`{"a":1}`, editOp(1, "b", "2"), editOp(1, "a.b", "1")), malformed},
		{"edit unknown opcode", edit(`{"a":1}`, editOp(9, "a")), malformed},
		{"edit empty program", edit(` {"a":1} `), jsonIs(` {"a":1} `)},
	}
}

// find is a json_find command: the paths, then the document.
func find(doc string, paths ...string) string {
	return "json_find:" + strings.Join(paths, "\n") + "\n" + doc
}

// edit is a json_edit command: the edit program (sdk/ABI.md §2.1) in hex, then the document.
func edit(doc string, ops ...[]byte) string {
	return "json_edit:" + hex.EncodeToString(bytes.Join(ops, nil)) + "\n" + doc
}

// editOp encodes an edit operation whose operands are all strings.
func editOp(opcode byte, operands ...string) []byte {
	b := []byte{opcode}
	for _, o := range operands {
		b = binary.AppendUvarint(b, uint64(len(o)))
		b = append(b, o...)
	}
	return b
}

func editFloat(path string, f float64) []byte {
	return binary.LittleEndian.AppendUint64(editOp(2, path), math.Float64bits(f))
}

func editSelect(paths ...string) []byte {
	b := binary.AppendUvarint([]byte{6}, uint64(len(paths)))
	return append(b, editOp(0, paths...)[1:]...)
}

// Conformance runs the ABI v1 test vectors through call, one subtest per
// vector, against a guest that implements the behaviours in sdk/ABI.md,
// "Appendix: conformance guest" (the one in sdk/sdktest/guest, or any other
// language's). It checks every result frame decodes for its batch and that
// each message's result is the specified one; then it sends batches of
// growing and shrinking sizes to exercise the host's buffer reuse.
//
// Vectors named after a normative rule of sdk/ABI.md check it: "header
// case" (§3), "input kept" and "same size again" (§6), and the "json …"
// vectors (§2.1.1), which need the guest to reach the host's JSON imports or
// code giving the same results.
//
// All vectors use one guest instance in order, as a pool would; call must
// not be shared with parallel tests. The host's limits must allow a fan-out
// of 300 and result frames of 2 MiB (one vector sets a 1 MiB payload).
func Conformance(t *testing.T, call Caller) {
	t.Helper()
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			rs := Call(t, call, v.in...)
			for i, want := range v.want {
				if msg := want(v.in[i], rs[i]); msg != "" {
					t.Errorf("message %d (payload %.40q): %s", i, v.in[i].Payload, msg)
				}
			}
		})
	}
	t.Run("batch sizes", func(t *testing.T) {
		for _, n := range []int{1, 64, 1, 500, 3} {
			in := make([]abi.Message, n)
			for i := range in {
				in[i] = Msg(fmt.Sprintf("t/%d", i), fmt.Sprintf("set:%d", i))
			}
			rs := Call(t, call, in...)
			for i, r := range rs {
				if msg := ok(payload(fmt.Sprint(i)))(in[i], r); msg != "" {
					t.Fatalf("batch of %d, message %d: %s", n, i, msg)
				}
			}
		}
	})
}
