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
