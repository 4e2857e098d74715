package wasmhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/abi"
)

func TestPool_Handle_transforms(t *testing.T) {
	p := testGuest(t)
	plain := newTestPool(t, p, "", Limits{}, 1)
	prefixed := newTestPool(t, p, `{"prefix":"cfg:"}`, Limits{}, 1)
	in := msg("")
	in.Headers = []abi.Property{{Name: "h0", Value: "v0"}}

	tests := []struct {
		name    string
		pool    *Pool
		payload string
		want    abi.Result
	}{
		{name: "passthrough", pool: plain, payload: "x", want: abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged}}}},
		{name: "config reaches guest", pool: prefixed, payload: "x", want: abi.Result{Outputs: []abi.Output{{Payload: []byte("cfg:x")}}}},
		{name: "split", pool: plain, payload: "split:a,b,c", want: abi.Result{Outputs: []abi.Output{{Payload: []byte("a")}, {Payload: []byte("b")}, {Payload: []byte("c")}}}},
		{name: "filter", pool: plain, payload: "drop", want: abi.Result{}},
		{name: "topic", pool: plain, payload: "topic:t2", want: abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKafkaTopic, KafkaTopic: "t2"}}}},
		{name: "key", pool: plain, payload: "key:k1", want: abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetKey, Key: []byte("k1")}}}},
		{name: "header", pool: plain, payload: "header:h1=v1", want: abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged | abi.SetHeaders,
			Headers: []abi.Property{{Name: "h0", Value: "v0"}, {Name: "h1", Value: "v1"}}}}}},
		{name: "reject", pool: plain, payload: "reject:bad reading", want: abi.Result{Failed: true, Err: "bad reading"}},
		{name: "fan out", pool: plain, payload: "fanout:3", want: abi.Result{Outputs: []abi.Output{{Flags: abi.PayloadUnchanged}, {Flags: abi.PayloadUnchanged}, {Flags: abi.PayloadUnchanged}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := in
			m.Payload = []byte(tc.payload)
			rs, err := tc.pool.Handle(context.Background(), []abi.Message{m})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1", len(rs))
			}
			if got, want := fmt.Sprintf("%+v", rs[0]), fmt.Sprintf("%+v", tc.want); got != want {
				t.Fatalf("result\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestPool_Handle_metadata checks that every field of the input frame reaches
// the guest.
func TestPool_Handle_metadata(t *testing.T) {
	pool := newTestPool(t, testGuest(t), "", Limits{}, 1)
	m := abi.Message{Topic: "a/b", Payload: []byte("meta"), ContentType: "application/json", Route: "r", Tenant: "acme",
		QoS: 2, Retain: true, ArrivedAtMs: 42, KafkaTopic: "kt", Key: []byte("k"), KeySet: true,
		Properties: []abi.Property{{Name: "p", Value: "1"}}, Headers: []abi.Property{{Name: "h", Value: "2"}}}
	rs, err := pool.Handle(context.Background(), []abi.Message{m})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(rs[0].Outputs[0].Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := `map[arrived_at_ms:42 content_type:application/json headers:[map[Name:h Value:2]] kafka_topic:kt key:k key_set:true ` +
		`properties:[map[Name:p Value:1]] qos:2 retain:true route:r tenant:acme topic:a/b]`
	if s := fmt.Sprint(got); s != want {
		t.Fatalf("guest saw\n %s\nwant\n %s", s, want)
	}
}

func TestPool_Handle_failures(t *testing.T) {
	p := testGuest(t)
	tests := []struct {
		name    string
		payload string
		lim     Limits
		want    Kind
		wantErr string
	}{
		{name: "panic", payload: "trap", want: Trap, wantErr: "wasm error: unreachable"},
		{name: "proc_exit", payload: "exit", want: Trap, wantErr: "exit_code(3)"},
		{name: "infinite loop", payload: "loop", lim: Limits{CallTimeout: 200 * time.Millisecond}, want: Timeout, wantErr: "deadline exceeded"},
		{name: "unbounded allocation", payload: "oom", want: OutOfMemory},
		{name: "result pointer out of range", payload: "badptr", want: BadResult, wantErr: "outside"},
		{name: "garbage frame", payload: "garbage", want: BadResult, wantErr: "malformed"},
		{name: "too many outputs", payload: "fanout:1001", want: BadResult, wantErr: "exceed max_fan_out 1000"},
		{name: "result too large", payload: "big:5000", lim: Limits{MaxOutputBytes: 4096}, want: BadResult, wantErr: "exceeds max_output_bytes 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool := newTestPool(t, p, "", tc.lim, 1)
			_, err := pool.Handle(ctx, msgs("ok", tc.payload))
			pe := wantKind(t, err, tc.want)
			if pe.Plugin != "testguest" || pe.Version != p.Version() {
				t.Errorf("error names plugin %q %q", pe.Plugin, pe.Version)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			// The failed instance was replaced: the pool still serves.
			for range 3 {
				rs, err := pool.Handle(ctx, msgs("fine"))
				if err != nil {
					t.Fatalf("after %s: %v", tc.name, err)
				}
				if len(rs) != 1 || len(rs[0].Outputs) != 1 {
					t.Fatalf("after %s: results %+v", tc.name, rs)
				}
			}
		})
	}
}

func TestInstance_outOfMemory_capped(t *testing.T) {
	ctx := context.Background()
	for _, pages := range []uint32{256, 384} {
		t.Run(fmt.Sprint(pages), func(t *testing.T) {
			// A generous call timeout: under -race on a loaded machine growing to the cap
			// takes longer than the default second, and this test is about the cap.
			in, err := NewInstance(ctx, testHostV, testGuest(t), nil, Limits{MemoryPages: pages, CallTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close(ctx)
			_, err = in.Handle(ctx, msgs("oom"))
			wantKind(t, err, OutOfMemory)
			if got, limit := in.MemorySize(), uint64(pages)*wasmPageSize; got > limit {
				t.Fatalf("memory grew to %d bytes, above the %d-byte limit", got, limit)
			}
			if _, err := in.Handle(ctx, msgs("x")); !errors.Is(err, ErrInstanceClosed) {
				t.Fatalf("Handle after failure: %v, want ErrInstanceClosed", err)
			}
		})
	}
}

func TestNewPool_initFailure(t *testing.T) {
	_, err := NewPool(context.Background(), testHostV, testGuest(t), []byte(`{"fail_init":"field temp is required"}`), Limits{}, 2)
	pe := wantKind(t, err, Rejected)
	if !strings.Contains(pe.Error(), `plugin "testguest"`) || !strings.Contains(pe.Error(), "field temp is required") {
		t.Fatalf("error %q does not name the plugin and the guest's reason", pe)
	}
	_, err = NewPool(context.Background(), testHostV, testGuest(t), []byte(`not json`), Limits{}, 1)
	wantKind(t, err, Rejected)
}

func TestNewPool_badLimits(t *testing.T) {
	_, err := NewPool(context.Background(), testHostV, testGuest(t), nil, Limits{MemoryPages: 70000}, 1)
	if err == nil || !strings.Contains(err.Error(), "memory_pages 70000") {
		t.Fatalf("error %v, want one naming memory_pages", err)
	}
}

func TestGuestLog(t *testing.T) {
	p, err := testHostV.Compile(context.Background(), "logger", guestWasm(t, "testguest"))
	if err != nil {
		t.Fatal(err)
	}
	pool := newTestPool(t, p, `{"log":"init says hi"}`, Limits{}, 1)
	if _, err := pool.Handle(context.Background(), msgs("log:handle says hi", "print:to stdout", "stderr:to stderr")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`level=INFO msg="plugin log" plugin=logger version=` + p.Version()[:12] + ` source=log line="init says hi"`,
		`level=WARN msg="plugin log" plugin=logger version=` + p.Version()[:12] + ` source=log line="handle says hi"`,
		`msg="plugin log" plugin=logger version=` + p.Version()[:12] + ` source=stdout line="to stdout"`,
		`source=stderr line="to stderr"`,
	} {
		if !testLogs.contains(want) {
			t.Errorf("log does not contain %s", want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	p := &Plugin{name: "lw", entry: &compileEntry{hash: strings.Repeat("ab", 32)}}
	var lines []string
	p.logger = testHostV.logger
	long := strings.Repeat("x", maxLogLine+10)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{name: "two lines one write", writes: []string{"a\nb\n"}, want: []string{"a", "b"}},
		{name: "line across writes", writes: []string{"he", "llo\n", "tail"}, want: []string{"hello", "tail"}},
		{name: "long line is cut", writes: []string{long + "\n"}, want: []string{long[:maxLogLine], "xxxxxxxxxx"}},
		{name: "empty lines skipped", writes: []string{"\n\nz\n"}, want: []string{"z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines = lines[:0]
			w := &lineWriter{p: p, source: "stdout", sink: func(s string) { lines = append(lines, s) }}
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			if !slices.Equal(lines, tc.want) {
				t.Fatalf("lines %q, want %q", lines, tc.want)
			}
		})
	}
}

func TestLogLimiter(t *testing.T) {
	var l logLimiter
	now := time.Unix(1000, 0)
	allowed := 0
	for range logBurst + 20 {
		if ok, _ := l.allow(now); ok {
			allowed++
		}
	}
	if allowed != logBurst {
		t.Fatalf("allowed %d lines in a burst, want %d", allowed, logBurst)
	}
	ok, dropped := l.allow(now.Add(time.Second))
	if !ok || dropped != 20 {
		t.Fatalf("after a second: ok=%v dropped=%d, want true 20", ok, dropped)
	}
}
