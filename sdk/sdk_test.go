package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

var fullMsg = abi.Message{
	Topic: "building/floor2/sensor/017/temp", Payload: []byte(`{"temp":21.37}`), ContentType: "application/json",
	Route: "building-sensors", Tenant: "acme", QoS: 2, Retain: true, ArrivedAtMs: 1732500000123,
	KafkaTopic: "sensors", Key: []byte("dev-17"), KeySet: true,
	Properties: []abi.Property{{Name: "unit", Value: "C"}, {Name: "unit", Value: "K"}},
	Headers:    []abi.Property{{Name: "stage", Value: "1"}, {Name: "x", Value: "a"}},
}

// only registers fn and runs one message through the export path.
func only(t *testing.T, fn HandlerFunc, in abi.Message) abi.Result {
	t.Helper()
	Handle(fn)
	rs, err := Process(in)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return rs[0]
}

func TestMessageAccessors(t *testing.T) {
	var seen []string
	only(t, func(m *Message) ([]*Message, error) {
		k, keyed := m.Key()
		p, _ := m.Property("unit")
		h, _ := m.Header("x")
		_, missing := m.Property("nope")
		seen = append(seen, m.Topic(), string(m.Payload()), m.ContentType(), m.Route(), m.Tenant(),
			fmt.Sprint(m.QoS(), m.Retain(), keyed, missing), m.ArrivedAt().UTC().Format(time.RFC3339Nano),
			m.KafkaTopic(), string(k), p, h, fmt.Sprint(len(m.Properties()), len(m.Headers())))
		return nil, nil
	}, fullMsg)
	want := []string{"building/floor2/sensor/017/temp", `{"temp":21.37}`, "application/json", "building-sensors",
		"acme", "2 true true false", "2024-11-25T02:00:00.123Z", "sensors", "dev-17", "C", "a", "2 2"}
	if !slices.Equal(seen, want) {
		t.Fatalf("accessors:\n got  %q\n want %q", seen, want)
	}
}

func TestHandleResults(t *testing.T) {
	unkeyed := fullMsg
	unkeyed.KeySet, unkeyed.Key = false, nil
	tests := []struct {
		name string
		in   abi.Message
		fn   HandlerFunc
		want abi.Result
	}{
		{"filtered", fullMsg, func(*Message) ([]*Message, error) { return nil, nil }, abi.Result{}},
		{"unchanged", fullMsg, func(m *Message) ([]*Message, error) { return []*Message{m}, nil },
			abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged}}}},
		{"payload set to itself counts as changed", fullMsg, func(m *Message) ([]*Message, error) {
			m.SetPayload(m.Payload())
			return []*Message{m}, nil
		}, abi.Result{Outputs: []abi.Output{{Payload: fullMsg.Payload}}}},
		{"topic and key", unkeyed, func(m *Message) ([]*Message, error) {
			if _, ok := m.Key(); ok {
				return nil, errors.New("key reported set on an unkeyed message")
			}
			m.SetKafkaTopic("alerts")
			m.SetKey(nil)
			return []*Message{m}, nil
		}, abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic | abi.SetKey, KafkaTopic: "alerts", Key: []byte{}}}}},
		{"headers", fullMsg, func(m *Message) ([]*Message, error) {
			m.AddHeader("x", "b")
			m.SetHeader("stage", "2")
			m.DeleteHeader("none")
			return []*Message{m}, nil
		}, abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetHeaders,
			Headers: []abi.Property{{Name: "x", Value: "a"}, {Name: "x", Value: "b"}, {Name: "stage", Value: "2"}}}}}},
		{"split with clones", fullMsg, func(m *Message) ([]*Message, error) {
			a, b := m.Clone(), m.Clone()
			a.SetPayload([]byte("a"))
			b.SetHeader("part", "b")
			return []*Message{a, b, m}, nil
		}, abi.Result{Outputs: []abi.Output{
			{Payload: []byte("a")},
			{Flags: abi.PayloadUnchanged | abi.SetHeaders, Headers: append(slices.Clone(fullMsg.Headers), abi.Property{Name: "part", Value: "b"})},
			{Flags: abi.PayloadUnchanged},
		}}},
		{"error", fullMsg, func(*Message) ([]*Message, error) { return nil, errors.New("field temp missing") },
			abi.Result{Failed: true, Err: "field temp missing"}},
		{"error discards outputs", fullMsg, func(m *Message) ([]*Message, error) { return []*Message{m}, errors.New("e") },
			abi.Result{Failed: true, Err: "e"}},
		{"panic", fullMsg, func(*Message) ([]*Message, error) { panic("boom") }, abi.Result{Failed: true, Err: "panic: boom"}},
		{"nil entry", fullMsg, func(m *Message) ([]*Message, error) { return []*Message{m, nil}, nil },
			abi.Result{Failed: true, Err: "handler returned a nil message at index 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := only(t, tc.fn, tc.in)
			if !sameResult(got, tc.want) {
				t.Fatalf("result:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func sameResult(a, b abi.Result) bool {
	if a.Failed != b.Failed || a.Err != b.Err || len(a.Outputs) != len(b.Outputs) {
		return false
	}
	for i, o := range a.Outputs {
		w := b.Outputs[i]
		if o.Flags != w.Flags || !bytes.Equal(o.Payload, w.Payload) || o.KafkaTopic != w.KafkaTopic ||
			!bytes.Equal(o.Key, w.Key) || !slices.Equal(o.Headers, w.Headers) {
			return false
		}
	}
	return true
}

func TestHeaderChangesDoNotLeak(t *testing.T) {
	in := fullMsg
	in.Headers = slices.Clone(fullMsg.Headers)
	var cloneHeaders []abi.Property
	only(t, func(m *Message) ([]*Message, error) {
		c := m.Clone()
		m.DeleteHeader("stage")
		m.SetHeader("x", "changed")
		cloneHeaders = slices.Clone(c.Headers())
		return nil, nil
	}, in)
	if !slices.Equal(cloneHeaders, fullMsg.Headers) {
		t.Fatalf("clone headers changed with the original: %v", cloneHeaders)
	}
}

func TestMapAndFilter(t *testing.T) {
	Map(func(m *Message) error {
		if m.Topic() == "bad" {
			return errors.New("bad topic")
		}
		m.SetPayload(bytes.ToUpper(m.Payload()))
		return nil
	})
	rs, err := Process(abi.Message{Topic: "ok", Payload: []byte("abc")}, abi.Message{Topic: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	if string(rs[0].Outputs[0].Payload) != "ABC" || !rs[1].Failed || rs[1].Err != "bad topic" {
		t.Fatalf("Map results: %+v", rs)
	}

	Filter(func(m *Message) (bool, error) { return m.Topic() == "keep", nil })
	rs, err = Process(abi.Message{Topic: "keep"}, abi.Message{Topic: "drop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs[0].Outputs) != 1 || rs[0].Outputs[0].Flags != abi.PayloadUnchanged || len(rs[1].Outputs) != 0 || rs[1].Failed {
		t.Fatalf("Filter results: %+v", rs)
	}
}

func TestInit(t *testing.T) {
	defer func() { handler, hooks, config = nil, nil, nil }()
	handler, hooks = nil, nil
	if err := Init(nil); !errors.Is(err, errNoHandler) {
		t.Fatalf("Init without a handler = %v, want errNoHandler", err)
	}
	Map(func(*Message) error { return nil })
	var order []string
	var cfg struct{ Field string }
	OnInit(func(raw []byte) error { order = append(order, "first:"+string(raw)); return Config(&cfg) })
	OnInit(func([]byte) error {
		order = append(order, "second")
		if cfg.Field == "" {
			return errors.New("field is required")
		}
		return nil
	})
	tests := []struct {
		config, wantErr string
		wantOrder       []string
	}{
		{`{"field":"temp"}`, "", []string{`first:{"field":"temp"}`, "second"}},
		{``, "field is required", []string{"first:{}", "second"}},
		{`{"feild":"temp"}`, `config: json: unknown field "feild"`, []string{`first:{"feild":"temp"}`}},
	}
	for _, tc := range tests {
		order, cfg.Field = nil, ""
		err := Init([]byte(tc.config))
		if got := fmt.Sprint(err); (err == nil) != (tc.wantErr == "") || (err != nil && got != tc.wantErr) {
			t.Errorf("Init(%q) = %v, want %q", tc.config, err, tc.wantErr)
		}
		if !slices.Equal(order, tc.wantOrder) {
			t.Errorf("Init(%q) ran hooks %q, want %q", tc.config, order, tc.wantOrder)
		}
	}
}

func TestInitCopiesConfig(t *testing.T) {
	defer func() { hooks, config = nil, nil }()
	Map(func(*Message) error { return nil })
	raw := []byte(`{"a":1}`)
	if err := Init(raw); err != nil {
		t.Fatal(err)
	}
	copy(raw, `{"b":2}`) // the host reuses its buffer
	var v struct{ A int }
	if err := Config(&v); err != nil || v.A != 1 {
		t.Fatalf("Config after the buffer changed: %+v, %v", v, err)
	}
}

func TestHandleFrame_steadyStateNoAllocs(t *testing.T) {
	Map(func(m *Message) error { m.SetKafkaTopic("t"); return nil })
	frame := abi.AppendBatch(nil, []abi.Message{fullMsg, fullMsg, fullMsg})
	HandleFrame(frame)
	if a := testing.AllocsPerRun(100, func() { HandleFrame(frame) }); a != 0 {
		t.Fatalf("HandleFrame: %v allocs per call, want 0", a)
	}
}

func BenchmarkHandleFrame(b *testing.B) {
	key := []byte("k")
	Map(func(m *Message) error { m.SetKey(key); return nil })
	msgs := make([]abi.Message, 64)
	for i := range msgs {
		msgs[i] = fullMsg
	}
	frame := abi.AppendBatch(nil, msgs)
	b.ReportAllocs()
	for b.Loop() {
		HandleFrame(frame)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}

// A handler may build every message's payload and key in one buffer it
// reuses: each result is copied into the frame when its handler returns.
func TestHandleFrame_reusedBuffers(t *testing.T) {
	var buf []byte
	Handle(func(m *Message) ([]*Message, error) {
		buf = append(append(buf[:0], "out:"...), m.Payload()...)
		m.SetPayload(buf)
		m.SetKey(buf[4:])
		return []*Message{m}, nil
	})
	in := []abi.Message{{Topic: "a", Payload: []byte("first")}, {Topic: "b", Payload: []byte("second")}, {Topic: "c", Payload: []byte("3")}}
	rs, err := Process(in...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		want := "out:" + string(in[i].Payload)
		if len(r.Outputs) != 1 || string(r.Outputs[0].Payload) != want || string(r.Outputs[0].Key) != want[4:] {
			t.Errorf("message %d: outputs %+v, want payload %q and key %q", i, r.Outputs, want, want[4:])
		}
	}
}

// Changed headers live in memory each message slot keeps from batch to
// batch: a later batch, and clones, never see another message's headers.
func TestHandleFrame_headerMemoryReused(t *testing.T) {
	Handle(func(m *Message) ([]*Message, error) {
		m.AddHeader("n", string(m.Payload()))
		c := m.Clone()
		c.SetHeader("n", "clone")
		c.AddHeader("extra", "1")
		return []*Message{m, c}, nil
	})
	in := abi.Message{Topic: "a", Headers: []abi.Property{{Name: "stage", Value: "1"}}}
	for round, payloads := range [][]string{{"x", "yy"}, {"z"}, {"w", "v", "u"}} {
		batch := make([]abi.Message, len(payloads))
		for i, p := range payloads {
			batch[i] = in
			batch[i].Payload = []byte(p)
		}
		rs, err := Process(batch...)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			orig, clone := r.Outputs[0].Apply(batch[i]), r.Outputs[1].Apply(batch[i])
			want := []abi.Property{{Name: "stage", Value: "1"}, {Name: "n", Value: payloads[i]}}
			wantClone := []abi.Property{{Name: "stage", Value: "1"}, {Name: "n", Value: "clone"}, {Name: "extra", Value: "1"}}
			if !slices.Equal(orig.Headers, want) || !slices.Equal(clone.Headers, wantClone) {
				t.Errorf("round %d message %d: headers %v and %v, want %v and %v", round, i, orig.Headers, clone.Headers, want, wantClone)
			}
		}
	}
}
