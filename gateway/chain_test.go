package gateway_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// conformancePlugins returns a plugins dir holding the SDK's conformance guest as
// "conformance.wasm": a guest whose behaviour each message's payload picks (sdk/ABI.md,
// appendix).
func conformancePlugins(t *testing.T) string {
	t.Helper()
	wasm, err := os.ReadFile(sdktest.BuildConformanceGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conformance.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestChain_EndToEnd(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	two := route("two", "chain/#", 1, "chained")
	two.Chain = []config.Stage{{Plugin: "conformance"}, {Plugin: "conformance", Config: map[string]any{}}}
	one := route("one", "split/#", 1, "splits")
	one.Chain = []config.Stage{{Plugin: "conformance"}}
	cfg := testConfig(t, mq.URL(), kf, two, one)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Plugins.Limits.CallTimeout = 300 * time.Millisecond
	cfg.Plugins.Limits.MemoryMB = 32
	cfg.Plugins.Instances = 2
	gw := startGateway(t, cfg)

	pub := func(topic, payload string) gatewaytest.PublishMsg {
		return gatewaytest.PublishMsg{Topic: topic, Payload: []byte(payload)}
	}
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		pub("chain/a", "echo"),
		pub("chain/a", "drop"),
		pub("chain/a", "topic:rerouted"),
		pub("chain/a", "key:k1"),
		pub("chain/a", "header:h=v"),
		pub("chain/a", "error:bad reading"),
		pub("chain/b", "loop"),
		pub("chain/b", "exit:3"),
		pub("chain/b", "grow:64"),
		pub("chain/b", "set:garbage"), // stage 1 does not know "garbage": rejected at stage 1
		pub("chain/c", "echo"),
		pub("split/x", "split:3"),
	})

	chained := kf.WaitRecords(t, "chained", 3, 60*time.Second)
	got := map[string]string{}
	for _, r := range chained {
		got[string(r.Value)] = string(r.Key) + "|" + header(r, "h")
	}
	if got["echo"] == "" || got["key:k1"] != "k1|" || got["header:h=v"] != "chain/a|v" {
		t.Errorf("chained records = %v", got)
	}
	if _, ok := got["drop"]; ok {
		t.Error("a dropped message reached Kafka")
	}
	if r := kf.WaitRecords(t, "rerouted", 1, 30*time.Second)[0]; string(r.Value) != "topic:rerouted" {
		t.Errorf("rerouted record %q", r.Value)
	}
	splits := kf.WaitRecords(t, "splits", 3, 30*time.Second)
	for i, r := range splits {
		if string(r.Value) != fmt.Sprint(i) || string(r.Key) != "split/x" {
			t.Errorf("split %d = %q key %q", i, r.Value, r.Key)
		}
	}

	dead := kf.WaitRecords(t, "chained_dlq", 5, 60*time.Second)
	kinds := map[string]string{}
	for _, r := range dead {
		kinds[string(r.Value)] = header(r, "tributary.error.kind") + "@" + header(r, "tributary.stage")
		if header(r, "tributary.plugin") != "conformance" || len(header(r, "tributary.plugin.version")) != 64 ||
			header(r, "tributary.route") != "two" {
			t.Errorf("dead letter %q headers %v", r.Value, r.Headers)
		}
	}
	want := map[string]string{
		"error:bad reading": "rejected@0",
		"loop":              "timeout@0",
		"exit:3":            "trap@0",
		"grow:64":           "out_of_memory@0",
		"set:garbage":       "rejected@1",
	}
	for payload, w := range want {
		if kinds[payload] != w {
			t.Errorf("dead letter of %q: kind@stage = %q, want %q", payload, kinds[payload], w)
		}
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		for _, rs := range gw.Stats().Routes {
			if rs.Name == "two" && (rs.Filtered != 1 || rs.DeadLettered != 5) {
				return fmt.Errorf("route two stats %+v", rs)
			}
		}
		if s := gw.Stats(); s.InFlight != 0 {
			return fmt.Errorf("%d in flight", s.InFlight)
		}
		return nil
	})
	resp := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
	for _, m := range []string{`tributary_plugin_calls_total{plugin="conformance",tenant=""}`, `tributary_plugin_errors_total{kind="timeout",plugin="conformance",tenant=""}`,
		`tributary_route_dead_letters_total{kind="trap",route="two",tenant=""} 1`} {
		if !strings.Contains(resp, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestChain_InitFailureFailsNew(t *testing.T) {
	cfg := config.Default()
	r := route("r", "x/#", 1, "x")
	r.DeadLetter = "x_dlq"
	r.To.Key, r.To.Envelope = config.DefaultKeyTemplate, config.EnvelopeNone
	r.Chain = []config.Stage{{Plugin: "conformance", Config: map[string]any{"fail_init": "no such sensor table"}}}
	cfg.Routes = []config.Route{r}
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Plugins.CacheDir = compileCache(t)
	_, err := gateway.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "routes[0] (r).chain[0] (conformance)") ||
		!strings.Contains(err.Error(), "no such sensor table") {
		t.Fatalf("New = %v, want the init error naming route, stage and plugin", err)
	}
	reports, err := gateway.CheckPlugins(context.Background(), cfg, nil)
	if err == nil || len(reports) != 0 {
		t.Fatalf("CheckPlugins = %v, %v", reports, err)
	}
	r.Chain[0].Config = nil
	cfg.Routes = []config.Route{r}
	reports, err = gateway.CheckPlugins(context.Background(), cfg, nil)
	if err != nil || len(reports) != 1 || len(reports[0].Version) != 64 || reports[0].Size == 0 {
		t.Fatalf("CheckPlugins = %+v, %v", reports, err)
	}
}

// TestChain_InstancesSharedAndReleased: routes running the same plugin version with the same
// config share their stage's instances, another config gets its own; instances unused for
// plugins.idle_timeout are closed, and the next message starts one again.
func TestChain_InstancesSharedAndReleased(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	a := route("a", "a/#", 1, "out_a")
	a.Chain = []config.Stage{{Plugin: "conformance"}}
	b := route("b", "b/#", 1, "out_b")
	b.Chain = []config.Stage{{Plugin: "conformance", Config: map[string]any{}}} // "{}" as a's
	c := route("c", "c/#", 1, "out_c")
	c.Chain = []config.Stage{{Plugin: "conformance", Config: map[string]any{"fail_init": ""}}}
	cfg := testConfig(t, mq.URL(), kf, a, b, c)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Plugins.Instances = 2
	cfg.Plugins.IdleTimeout = time.Hour
	gw := startGateway(t, cfg)
	const live = `tributary_plugin_instances{plugin="conformance",tenant=""}`
	instances := func() string {
		for line := range strings.Lines(httpGet(t, "http://"+gw.AdminAddr()+"/metrics")) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), live+" "); ok {
				return v
			}
		}
		return "none"
	}
	if got := instances(); got != "2" {
		t.Fatalf("%s = %s after start, want 2: one for routes a and b, one for c", live, got)
	}
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}

	cfg = testConfig(t, mq.URL(), kf, a)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Plugins.IdleTimeout = 100 * time.Millisecond
	gw = startGateway(t, cfg)
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if got := instances(); got != "0" {
			return fmt.Errorf("%s = %s, want 0 once idle", live, got)
		}
		return nil
	})
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: "a/1", Payload: []byte("echo")}})
	if r := kf.WaitRecords(t, "out_a", 1, 30*time.Second)[0]; string(r.Value) != "echo" {
		t.Fatalf("record after the idle release = %q, want echo", r.Value)
	}
}
