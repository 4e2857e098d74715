package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

// outcome renders a ChainResult as "err:STAGE:KIND:TEXT" or the outputs'
// payloads (with topic, key and header count when set), joined by "|".
func outcome(r ChainResult) string {
	if r.Err != nil {
		return fmt.Sprintf("err:%d:%s:%v", r.Err.Stage, r.Err.Kind, r.Err.Err)
	}
	var parts []string
	for _, m := range r.Outputs {
		s := string(m.Payload)
		if m.KafkaTopic != "" {
			s += "@" + m.KafkaTopic
		}
		if m.KeySet {
			s += "#" + string(m.Key)
		}
		if len(m.Headers) > 0 {
			s += fmt.Sprintf("+%dh", len(m.Headers))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "|")
}

func TestChain_Process(t *testing.T) {
	p := testGuest(t)
	stage := func(config string) *Pool {
		return newTestPool(t, p, config, Limits{CallTimeout: 300 * time.Millisecond}, 1)
	}
	tests := []struct {
		name   string
		stages []string // configs
		in     []string
		want   []string
	}{
		{name: "empty chain passes through", in: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "one stage", stages: []string{`{"prefix":"1-"}`}, in: []string{"a", "b"}, want: []string{"1-a", "1-b"}},
		{name: "outputs feed the next stage", stages: []string{`{}`, `{"prefix":"2-"}`},
			in: []string{"split:x,y", "drop", "z"}, want: []string{"2-x|2-y", "", "2-z"}},
		{name: "overrides survive later stages", stages: []string{`{}`, `{}`, `{}`},
			in: []string{"split:topic:t1,key:k1,header:a=b"}, want: []string{"topic:t1@t1|key:k1#k1|header:a=b+2h"}}, // stages 1 and 2 each add a header
		{name: "rejected at stage 1 drops siblings", stages: []string{`{}`, `{}`},
			in: []string{"split:ok,reject:no", "fine"}, want: []string{"err:1:rejected:no", "fine"}},
		{name: "rejected at stage 0", stages: []string{`{}`, `{"prefix":"2-"}`},
			in: []string{"reject:bad", "good"}, want: []string{"err:0:rejected:bad", "2-good"}},
		{name: "trap isolated to its message", stages: []string{`{"prefix":"1-"}`},
			in: []string{"a", "trap", "b"}, want: []string{"1-a", "err:0:trap:", "1-b"}},
		{name: "timeout isolated at stage 1", stages: []string{`{}`, `{"prefix":"2-"}`},
			in: []string{"a", "split:loop,c", "b"}, want: []string{"2-a", "err:1:timeout:", "2-b"}},
		{name: "bad result isolated", stages: []string{`{}`},
			in: []string{"garbage", "a"}, want: []string{"err:0:bad_result:", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pools []*Pool
			for _, cfg := range tc.stages {
				pools = append(pools, stage(cfg))
			}
			c := NewChain(pools)
			got := c.Process(context.Background(), msgs(tc.in...))
			if len(got) != len(tc.in) {
				t.Fatalf("got %d results for %d messages", len(got), len(tc.in))
			}
			for i, r := range got {
				o := outcome(r)
				if strings.HasPrefix(tc.want[i], "err:") && strings.HasPrefix(o, tc.want[i]) {
					continue
				}
				if o != tc.want[i] {
					t.Errorf("message %d (%q): got %q, want %q", i, tc.in[i], o, tc.want[i])
				}
			}
		})
	}
}

// TestChain_midChain checks failures and filtering at a stage between two
// others: the messages a stage drops or fails, and their siblings' outputs,
// never reach the next stage, and lineage stays exact. No case needs a short
// call timeout, so the test uses a generous one (the machine may be loaded).
func TestChain_midChain(t *testing.T) {
	p := testGuest(t)
	tests := []struct {
		name   string
		stages []string // configs
		in     []string
		want   []string
	}{
		{name: "rejected drops siblings", stages: []string{`{}`, `{}`, `{"prefix":"3-"}`},
			in: []string{"split:ok,reject:no", "fine", "split:a,b"}, want: []string{"err:1:rejected:no", "3-fine", "3-a|3-b"}},
		{name: "trap drops siblings", stages: []string{`{}`, `{}`, `{"prefix":"3-"}`},
			in: []string{"a", "split:x,trap,y", "split:b,c"}, want: []string{"3-a", "err:1:trap:", "3-b|3-c"}},
		{name: "bad result isolated", stages: []string{`{}`, `{}`, `{}`},
			in: []string{"split:p,q", "split:garbage", "r"}, want: []string{"p|q", "err:1:bad_result:", "r"}},
		{name: "filtered", stages: []string{`{}`, `{}`, `{"prefix":"3-"}`},
			in: []string{"split:drop", "split:drop,k"}, want: []string{"", "3-k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pools []*Pool
			for _, cfg := range tc.stages {
				pools = append(pools, newTestPool(t, p, cfg, Limits{CallTimeout: 30 * time.Second}, 1))
			}
			got := NewChain(pools).Process(context.Background(), msgs(tc.in...))
			for i, r := range got {
				o := outcome(r)
				if strings.HasPrefix(tc.want[i], "err:") && strings.HasPrefix(o, tc.want[i]) {
					continue
				}
				if o != tc.want[i] {
					t.Errorf("message %d (%q): got %q, want %q", i, tc.in[i], o, tc.want[i])
				}
			}
		})
	}
}

// TestChain_metadataThroughStages checks that the fields no stage replaces
// reach the outputs and a later stage's guest as the message arrived (ABI.md
// §3), beside the ones earlier stages set.
func TestChain_metadataThroughStages(t *testing.T) {
	p := testGuest(t)
	chain := func(configs ...string) *Chain {
		var pools []*Pool
		for _, cfg := range configs {
			// A generous call timeout: the test checks fields, not speed, on a loaded machine.
			pools = append(pools, newTestPool(t, p, cfg, Limits{CallTimeout: 30 * time.Second}, 1))
		}
		return NewChain(pools)
	}
	in := abi.Message{Topic: "site/7/temp", ContentType: "text/plain", Route: "r7", Tenant: "acme",
		QoS: 2, Retain: true, ArrivedAtMs: 1700000000123,
		Properties: []abi.Property{{Name: "p", Value: "1"}, {Name: "p", Value: "2"}}}

	// Stage 0 splits; the next stages set the topic of one output and the
	// key of the other (each stage again: the payload stays the command).
	in.Payload = []byte("split:topic:out,key:k1")
	rs := chain(`{}`, `{}`, `{}`).Process(context.Background(), []abi.Message{in})
	if got := outcome(rs[0]); got != "topic:out@out|key:k1#k1" {
		t.Fatalf("outputs %q", got)
	}
	for _, o := range rs[0].Outputs {
		if o.Topic != in.Topic || o.ContentType != in.ContentType || o.Route != in.Route || o.Tenant != in.Tenant ||
			o.QoS != in.QoS || !o.Retain || o.ArrivedAtMs != in.ArrivedAtMs || fmt.Sprint(o.Properties) != fmt.Sprint(in.Properties) {
			t.Fatalf("output %+v lost the message's metadata", o)
		}
	}

	// Stages 0 and 1 rewrite the payload "ta" into "meta", which stage 2
	// answers with the message as it sees it.
	in.Payload = []byte("ta")
	rs = chain(`{"prefix":"e"}`, `{"prefix":"m"}`, `{}`).Process(context.Background(), []abi.Message{in})
	if rs[0].Err != nil || len(rs[0].Outputs) != 1 {
		t.Fatalf("result %+v", rs[0])
	}
	want := `{"arrived_at_ms":1700000000123,"content_type":"text/plain","headers":null,"kafka_topic":"",` +
		`"key":"","key_set":false,"properties":[{"Name":"p","Value":"1"},{"Name":"p","Value":"2"}],` +
		`"qos":2,"retain":true,"route":"r7","tenant":"acme","topic":"site/7/temp"}`
	if got := string(rs[0].Outputs[0].Payload); got != want {
		t.Fatalf("the last stage saw\n%s\nwant\n%s", got, want)
	}
}

// TestChain_outputsOwned checks that outputs stay intact after the stage's
// instance serves other calls.
func TestChain_outputsOwned(t *testing.T) {
	c := NewChain([]*Pool{newTestPool(t, testGuest(t), `{"prefix":"own-"}`, Limits{}, 1)})
	first := c.Process(context.Background(), msgs("first", "split:k,l"))
	for range 3 {
		c.Process(context.Background(), msgs("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "yyyyyyyyyyyyyy"))
	}
	if got := outcome(first[0]) + " " + outcome(first[1]); got != "own-first k|l" {
		t.Fatalf("outputs changed under later calls: %q", got)
	}
}

func TestChain_canceled(t *testing.T) {
	c := NewChain([]*Pool{newTestPool(t, testGuest(t), "", Limits{}, 1)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range c.Process(ctx, msgs("a", "b")) {
		if r.Err == nil || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %+v, want an error wrapping context.Canceled", r)
		}
	}
}

func TestChain_observerSeesStage(t *testing.T) {
	obs := &stageObserver{}
	ctx := context.Background()
	h, err := NewHost(ctx, HostConfig{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Compile(ctx, "pt", passthroughModule().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var pools []*Pool
	for range 3 {
		pool, err := NewPool(ctx, h, p, nil, Limits{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		pools = append(pools, pool)
	}
	c := NewChain(pools)
	defer c.Close(ctx)
	rs := c.Process(ctx, []abi.Message{msg("x")})
	if outcome(rs[0]) != "x" {
		t.Fatalf("got %q", outcome(rs[0]))
	}
	if fmt.Sprint(obs.stages) != "[0 1 2]" {
		t.Fatalf("observer saw stages %v, want [0 1 2]", obs.stages)
	}
}

type stageObserver struct{ stages []int }

func (o *stageObserver) PluginCall(_ *Plugin, stage int, _ int, _ time.Duration, _ error) {
	o.stages = append(o.stages, stage)
}
func (o *stageObserver) InstanceStarted(*Plugin, RecycleReason)  {}
func (o *stageObserver) InstanceRecycled(*Plugin, RecycleReason) {}
