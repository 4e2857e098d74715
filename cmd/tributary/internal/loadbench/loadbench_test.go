package loadbench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

func TestPayload_RoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		topic int
		seq   int64
		ts    int64
		size  int
	}{
		{name: "minimum", topic: 0, seq: 0, ts: 1, size: MinPayloadBytes},
		{name: "minimum, longest numbers", topic: 99999, seq: 1 << 62, ts: 1 << 62, size: MinPayloadBytes},
		{name: "default size", topic: 999, seq: 123456, ts: 1764045000123456789, size: 180},
		{name: "large", topic: 7, seq: 1 << 40, ts: 42, size: 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := appendPayload(nil, "0123456789abcdef", tc.topic, tc.seq, tc.ts, tc.size)
			if len(p) != tc.size {
				t.Errorf("payload is %d bytes, want %d: %s", len(p), tc.size, p)
			}
			f, ok := parsePayload(p)
			if !ok {
				t.Fatalf("parsePayload(%s) failed", p)
			}
			if string(f.run) != "0123456789abcdef" || f.topic != tc.topic || f.seq != tc.seq || f.ts != tc.ts {
				t.Errorf("parsed %+v (run %s), want topic %d seq %d ts %d", f, f.run, tc.topic, tc.seq, tc.ts)
			}
		})
	}
}

func TestParsePayload_Rejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no run", `{"t":1,"seq":2,"ts":3}`},
		{"unterminated run", `{"run":"abc`},
		{"no seq", `{"run":"a","t":1,"ts":3}`},
		{"seq not a number", `{"run":"a","t":1,"seq":"x","ts":3}`},
		{"negative seq", `{"run":"a","t":1,"seq":-4,"ts":3}`},
		{"negative topic", `{"run":"a","t":-1,"seq":4,"ts":3}`},
		{"truncated", `{"run":"a","t":1,"seq":`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if f, ok := parsePayload([]byte(tc.in)); ok {
				t.Errorf("parsePayload(%q) = %+v, want failure", tc.in, f)
			}
		})
	}
}

func TestTracker_Tally(t *testing.T) {
	const run = "r1"
	tr := newTracker(run, 3)
	at := time.Unix(100, 0)
	rec := func(r string, topic int, seq int64) {
		tr.record(appendPayload(nil, r, topic, seq, at.Add(-time.Duration(seq+1)*time.Millisecond).UnixNano(), 120), at)
	}
	// topic 0: 0,1,2 once each; topic 1: 0 twice, 1 missing, 2 three times; topic 2: none.
	for _, s := range []int64{0, 1, 2} {
		rec(run, 0, s)
	}
	rec(run, 1, 0)
	rec(run, 1, 0)
	rec(run, 1, 2)
	rec(run, 1, 2)
	rec(run, 1, 2)
	rec("other-run", 0, 0)            // foreign: another run
	rec(run, 5, 0)                    // foreign: no such topic
	rec(run, 0, 9)                    // foreign: never published
	tr.record([]byte("not json"), at) // foreign: unparsable

	got := tr.tally([]int64{3, 3, 2})
	want := tally{unique: 5, lost: 3, dups: 3, foreign: 4}
	if got.unique != want.unique || got.lost != want.lost || got.dups != want.dups || got.foreign != want.foreign {
		t.Errorf("tally = unique %d lost %d dups %d foreign %d; want %d %d %d %d",
			got.unique, got.lost, got.dups, got.foreign, want.unique, want.lost, want.dups, want.foreign)
	}
	// Latencies of the first copies only: seqs 0,1,2 of topic 0 (1,2,3ms), 0 and 2 of topic 1
	// (1ms, 3ms) and the never-published seq 9 (10ms), which the tracker cannot yet tell apart.
	if len(got.latencies) != 6 || got.latencies[0] != time.Millisecond || got.latencies[5] != 10*time.Millisecond {
		t.Errorf("latencies = %v", got.latencies)
	}
}

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"p50 of 100", hundred, 0.50, 50},
		{"p99 of 100", hundred, 0.99, 99},
		{"p99.9 of 100", hundred, 0.999, 100},
		{"max", hundred, 1, 100},
		{"min", hundred, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestOptions_Check(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"bad mode", func(o *Options) { o.Mode = "fast" }, `mode "fast"`},
		{"rate needs rate", func(o *Options) { o.Mode, o.Rate = ModeRate, 0 }, "rate 0"},
		{"count", func(o *Options) { o.Count = 0 }, "count 0"},
		{"payload too small", func(o *Options) { o.PayloadBytes = 10 }, "payload 10"},
		{"qos", func(o *Options) { o.QoS = 3 }, "qos 3"},
		{"external needs topic", func(o *Options) { o.Gateway = GatewayExternal }, "kafka topic"},
		{"external no backlog", func(o *Options) { o.Gateway, o.Mode, o.KafkaTopic = GatewayExternal, ModeBacklog, "x" }, "mode backlog"},
		{"subprocess needs exe", func(o *Options) { o.Gateway = GatewaySubprocess }, "executable"},
		{"mosquitto and url", func(o *Options) { o.Mosquitto, o.MQTT = true, "tcp://x:1" }, "mosquitto"},
		{"bad gateway", func(o *Options) { o.Gateway = "remote" }, `gateway "remote"`},
		{"schema", func(o *Options) { o.Schema = SchemaProtobuf }, ""},
		{"bad schema", func(o *Options) { o.Schema = "thrift" }, `schema "thrift"`},
		{"schema needs our gateway", func(o *Options) { o.Schema, o.Gateway, o.KafkaTopic = SchemaAvro, GatewayExternal, "x" }, "schema avro: needs a gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			tc.change(&o)
			checkOptions(t, o, tc.wantErr)
		})
	}
}

func TestProc_Self(t *testing.T) {
	// Burn a little CPU so the clock-tick counter moves past zero.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Errorf("procCPU(self) = %v, %v; want > 0", cpu, err)
	}
	rss, err := procPeakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Errorf("procPeakRSS(self) = %d, %v; want at least 1 MiB", rss, err)
	}
	if _, err := procCPU(1 << 30); err == nil || !strings.Contains(err.Error(), "pid") {
		t.Errorf("procCPU(no such pid) error = %v, want one naming the pid", err)
	}
}

func TestGatewayConfig_Loads(t *testing.T) {
	o := Defaults()
	o.Chain, o.PluginDir = []string{"celsius", "filter"}, t.TempDir()
	for _, p := range o.Chain {
		if err := os.WriteFile(filepath.Join(o.PluginDir, p+".wasm"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o.ChainConfigs = []json.RawMessage{nil, json.RawMessage(`{"keep":{"field":"x","op":"exists"}}`)}
	cfg, err := gatewayConfig(&o, newLayout(&o, "bench_topic"), "tcp://127.0.0.1:1", []string{"127.0.0.1:2", "127.0.0.1:3"}, "", "127.0.0.1:4", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	y := string(cfg)
	for _, want := range []string{`client_id: "tributary-bench"`, `from: ["bench/#"]`, `- plugin: "filter"`, `topic: "bench_topic"`, `dir: ` + strconv.Quote(o.PluginDir)} {
		if !strings.Contains(y, want) {
			t.Errorf("config lacks %q:\n%s", want, y)
		}
	}
	loaded, err := config.LoadBytes([]byte(y), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	chain := loaded.Routes[0].Chain
	if len(chain) != 2 || chain[0].Config != nil || fmt.Sprint(chain[1].Config) != "map[keep:map[field:x op:exists]]" {
		t.Errorf("chain %+v, want celsius without config and filter with its config", chain)
	}
}

// runSmall runs a small benchmark end to end and checks nothing was lost or duplicated.
func runSmall(t *testing.T, o Options) *Result {
	t.Helper()
	o.Settle = 10 * time.Second
	o.Timeout = 2 * time.Minute
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != res.Published || res.Lost != 0 || res.Duplicated != 0 || res.Foreign != 0 {
		t.Fatalf("published %d, received %d, lost %d, duplicated %d, foreign %d; want all received once\n%s",
			res.Published, res.Received, res.Lost, res.Duplicated, res.Foreign, res)
	}
	if res.Latency.Max <= 0 || res.Latency.P50 > res.Latency.Max || res.Throughput <= 0 {
		t.Errorf("implausible latency or throughput:\n%s", res)
	}
	return res
}

func TestRun_RateEmbedded(t *testing.T) {
	o := Defaults()
	o.Mode, o.Rate, o.Duration, o.Topics, o.Publishers = ModeRate, 400, time.Second, 20, 2
	res := runSmall(t, o)
	if res.Published < 300 || res.Published > 400 {
		t.Errorf("published %d at 400 msg/s for 1s, want about 400", res.Published)
	}
	if !strings.Contains(res.CPUScope, "whole bench process") || res.PeakRSSBytes <= 0 {
		t.Errorf("in-process gateway: cpu scope %q, peak rss %d", res.CPUScope, res.PeakRSSBytes)
	}
}

func TestRun_BacklogMosquitto(t *testing.T) {
	if _, err := os.Stat(DefaultMosquitto); err != nil {
		if os.Getenv("TRIBUTARY_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Skipf("%s not found (apt-get install mosquitto, or set TRIBUTARY_REQUIRE_MOSQUITTO=1 to fail instead)", DefaultMosquitto)
	}
	o := Defaults()
	o.Mode, o.Count, o.Topics, o.Mosquitto = ModeBacklog, 3000, 50, true
	res := runSmall(t, o)
	if res.Published != 3000 || !strings.HasPrefix(res.Broker, "mosquitto ") {
		t.Errorf("published %d on %q, want 3000 on mosquitto", res.Published, res.Broker)
	}
}

func TestRun_SubprocessMeasuresTheGateway(t *testing.T) {
	o := Defaults()
	o.Executable = gatewaytest.BuildBinary(t, "./cmd/tributary")
	o.Gateway, o.Mode, o.Rate, o.Duration, o.Topics, o.Publishers = GatewaySubprocess, ModeRate, 300, time.Second, 10, 2
	res := runSmall(t, o)
	if !strings.HasPrefix(res.CPUScope, "gateway process ") || res.PeakRSSBytes < 1<<20 || res.CPUSeconds < 0 {
		t.Errorf("subprocess gateway: cpu scope %q, cpu %v s, peak rss %d", res.CPUScope, res.CPUSeconds, res.PeakRSSBytes)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	gatewaytest.RemoveBuilds()
	os.Exit(code)
}

// checkOptions asserts that o.Check accepts o (wantErr "") or rejects it
// with an error containing wantErr.
func checkOptions(t *testing.T, o Options, wantErr string) {
	t.Helper()
	err := o.Check()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Check() = %v, want nil", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("Check() = %v, want an error containing %q", err, wantErr)
	}
}
