package sdktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
	emptyKey := Msg("t", "meta")
	emptyKey.KeySet = true
	emptyKey.Key = []byte{}

	return []vector{
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
		{"mixed batch", []abi.Message{
			Msg("t/1", "echo"), Msg("t/2", "drop"), Msg("t/3", "error:e"), Msg("t/4", "split:2"),
			Msg("t/5", "set:x"), full, Msg("t/7", "key:k"),
		}, []expect{
			ok(unchanged), ok(), failed("e"), ok(payload("0"), payload("1")),
			ok(payload("x")), meta(), ok(abi.Output{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte("k")}),
		}},
	}
}

// Conformance runs the ABI v1 test vectors through call, one subtest per
// vector, against a guest that implements the behaviours in sdk/ABI.md,
// "Appendix: conformance guest" (the one in sdk/sdktest/guest, or any other
// language's). It checks every result frame decodes for its batch and that
// each message's result is the specified one; then it sends batches of
// growing and shrinking sizes to exercise the host's buffer reuse.
//
// All vectors use one guest instance in order, as a pool would; call must
// not be shared with parallel tests. The host's limits must allow a fan-out
// of 3 and result frames of 2 MiB (one vector sets a 1 MiB payload).
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
