package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// stampPlugins returns a plugins dir holding the stamp test guest as "stamp.wasm".
func stampPlugins(t *testing.T) string {
	t.Helper()
	wasm, err := os.ReadFile(sdktest.Build(t, "testdata/guests/stamp"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stamp.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reloadUnderLoad publishes 8000 QoS 1 messages over 50 topics load/N, reloads gw (running
// cfg) to next once 1500 records are out, and returns the messages once all are published.
func reloadUnderLoad(t *testing.T, mqURL string, gw *running, cfg, next *config.Config) []gatewaytest.PublishMsg {
	t.Helper()
	msgs := gatewaytest.Messages(gatewaytest.Topics("load/%d", 50), 8000)
	published := make(chan struct{})
	go func() {
		defer close(published)
		gatewaytest.Publish(t, mqURL, 1, msgs, gatewaytest.WithWorkers(8))
	}()
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if out := gw.Stats().Routes[0].Out; out < 1500 {
			return fmt.Errorf("%d records out", out)
		}
		return nil
	})
	next.MQTT.ClientID, next.Admin = cfg.MQTT.ClientID, cfg.Admin
	if err := gw.Reload(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	<-published
	return msgs
}

func stampRoute(stamp string) config.Route {
	r := route("r", "load/#", 1, "stamped")
	r.Chain = []config.Stage{{Plugin: "stamp", Config: map[string]any{"stamp": stamp}}}
	return r
}

// TestReload_SwapUnderLoad swaps a route's plugin configuration while thousands of messages
// flow, and checks the switch is exact per topic: every message after the swap sees the new
// version and none before it does, with nothing lost or duplicated.
func TestReload_SwapUnderLoad(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	plugins := stampPlugins(t)
	cfg := testConfig(t, mq.URL(), kf, stampRoute("v1"))
	cfg.Plugins.Dir = plugins
	gw := startGateway(t, cfg)

	next := testConfig(t, mq.URL(), kf, stampRoute("v2"))
	next.Plugins.Dir = plugins
	msgs := reloadUnderLoad(t, mq.URL(), gw, cfg, next)
	rep := kf.WaitDelivered(t, "stamped", msgs, 120*time.Second)
	if err := rep.ExactlyOnce(); err != nil {
		t.Fatal(err)
	}

	recs := kf.Records(t, "stamped")
	seen := map[string]string{} // topic -> last stamp
	counts := map[string]int{}
	for _, r := range recs { // partition by partition in offset order; one topic, one partition
		topic, stamp := string(r.Key), header(r, "stamp")
		counts[stamp]++
		if seen[topic] == "v2" && stamp == "v1" {
			t.Fatalf("topic %s: a message handled by v1 after one handled by v2", topic)
		}
		seen[topic] = stamp
	}
	if counts["v1"] == 0 || counts["v2"] == 0 || counts["v1"]+counts["v2"] != len(msgs) {
		t.Fatalf("stamps %v over %d messages: want both versions and nothing else", counts, len(msgs))
	}
	st := gw.Stats().LastReload
	if st == nil || !st.OK || !slices.Equal(st.Changed, []string{"r"}) {
		t.Fatalf("last reload %+v", st)
	}
	t.Logf("swap under load: %d messages by v1, %d by v2", counts["v1"], counts["v2"])
}

// TestReload_RejectedKeepsRunning: a broken .wasm, a plugin whose init fails and a change that
// needs a restart each leave the running version serving.
func TestReload_RejectedKeepsRunning(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	plugins := stampPlugins(t)
	cfg := testConfig(t, mq.URL(), kf, stampRoute("v1"))
	cfg.Plugins.Dir = plugins
	gw := startGateway(t, cfg)

	variant := func(edit func(c *config.Config)) *config.Config {
		c := testConfig(t, mq.URL(), kf, stampRoute("v1"))
		c.Plugins.Dir, c.MQTT.ClientID, c.Admin = plugins, cfg.MQTT.ClientID, cfg.Admin
		edit(c)
		return c
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "stamp.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     *config.Config
		wantErr string
	}{
		{"broken wasm", variant(func(c *config.Config) { c.Plugins.Dir = broken; c.Routes[0].Chain[0].Config["stamp"] = "v2" }),
			"routes[0] (r).chain[0] (stamp)"},
		{"init fails", variant(func(c *config.Config) { c.Routes[0].Chain[0].Config["bogus"] = true }),
			"routes[0] (r).chain[0] (stamp)"},
		{"needs a restart", variant(func(c *config.Config) { c.MQTT.ClientID = "other" }),
			"reload not supported for mqtt.client_id: old=" + cfg.MQTT.ClientID + ", new=other"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := gw.Reload(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Reload = %v, want an error containing %q", err, tc.wantErr)
			}
			if st := gw.Stats().LastReload; st == nil || st.OK || st.Error == "" {
				t.Fatalf("last reload %+v, want the failure", st)
			}
			msg := []gatewaytest.PublishMsg{{Topic: "load/x", Seq: int64(i), Payload: gatewaytest.Payload("load/x", int64(i))}}
			gatewaytest.Publish(t, mq.URL(), 1, msg)
			gatewaytest.WaitFor(t, 30*time.Second, func() error {
				recs, err := kf.FetchRecords(context.Background(), "stamped")
				if err != nil {
					return err
				}
				if len(recs) < i+1 {
					return fmt.Errorf("%d records", len(recs))
				}
				if s := header(recs[len(recs)-1], "stamp"); s != "v1" {
					t.Fatalf("served by %q after a rejected reload", s)
				}
				return nil
			})
		})
	}
	if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); !strings.Contains(m, `tributary_reloads_total{result="failure"} 3`) ||
		!strings.Contains(m, "tributary_config_last_reload_successful 0") {
		t.Errorf("reload metrics missing from /metrics")
	}
}

// TestReload_FromFile edits the configuration file of a running gateway: a new route with a
// new filter starts receiving, a removed route's filter is unsubscribed.
func TestReload_FromFile(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.yaml")
	write := func(routes string) {
		t.Helper()
		yaml := fmt.Sprintf("mqtt:\n  url: %s\n  client_id: reload-from-file\nkafka:\n  brokers: [%s]\n  compression: none\nadmin:\n  listen: 127.0.0.1:0\nplugins:\n  dir: %s\n  cache_dir: %q\nroutes:\n%s",
			mq.URL(), kf.Brokers()[0], dir, compileCache(t), routes)
		if err := os.WriteFile(path+".tmp", []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil { // as editors and config managers do
			t.Fatal(err)
		}
	}
	write("  - name: a\n    from: [a/#]\n    to: {topic: a}\n")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, cfg, gatewayWithReload(path))

	write("  - name: b\n    from: [b/#]\n    to: {topic: b}\n")
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if st := gw.Stats().LastReload; st == nil || !st.OK {
			return fmt.Errorf("last reload %+v", st)
		}
		return nil
	})
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: "a/1", Seq: 1, Payload: []byte("to a")},
		{Topic: "b/1", Seq: 2, Payload: []byte("to b")},
	})
	if r := kf.WaitRecords(t, "b", 1, 30*time.Second); string(r[0].Value) != "to b" {
		t.Fatalf("b got %q", r[0].Value)
	}
	if recs := kf.Records(t, "a"); len(recs) != 0 {
		t.Fatalf("removed route a still produced %d records", len(recs))
	}
	if s := gw.Stats(); s.Unrouted != 0 {
		t.Fatalf("%d unrouted: the removed filter was not unsubscribed", s.Unrouted)
	}

	write("  - name: b\n    from: [b/#]\n    to: {topic: b}\n    unknown_key: 1\n")
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		st := gw.Stats().LastReload
		if st == nil || st.OK || !strings.Contains(st.Error, "unknown_key") {
			return errors.New("waiting for the rejected reload")
		}
		return nil
	})
}

// TestReload_FilterChangeUnderLoad changes a route's MQTT filters while thousands of messages
// flow: the new filter is subscribed before the old one is dropped, so every message on a
// topic both cover arrives exactly once, in order.
func TestReload_FilterChangeUnderLoad(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "load/#", 1, "filtered"))
	gw := startGateway(t, cfg)

	msgs := reloadUnderLoad(t, mq.URL(), gw, cfg, testConfig(t, mq.URL(), kf, route("r", "load/+", 1, "filtered")))
	if err := kf.WaitDelivered(t, "filtered", msgs, 120*time.Second).ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
	if s := gw.Stats(); s.Unrouted != 0 {
		t.Errorf("%d messages unrouted across the filter change", s.Unrouted)
	}
	for _, line := range strings.Split(httpGet(t, "http://"+gw.AdminAddr()+"/metrics"), "\n") {
		if strings.HasPrefix(line, "tributary_mqtt_duplicate_copies_total") {
			t.Logf("extra broker copies across the change: %s", line)
		}
	}
}
