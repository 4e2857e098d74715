package gateway_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
)

// TestLineage_FileDropStatusAndRollback runs a two-stage route with to.lineage on a gateway
// that reloads from its files. Each record read back from Kafka must name the plugins and
// versions it passed through; /api/v1/status must show the same versions per stage, in
// snake_case. A version dropped into plugins.dir by hand (the file watcher's path) must enter
// the plugin's history, so the admin API rolls back to the version it replaced and from it
// again, each step visible in the lineage header.
func TestLineage_FileDropStatusAndRollback(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, nil)
	if err := os.MkdirAll(s.tenantsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(s.pluginsDir, name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The second version of p is the conformance guest, which the route "warm" compiles at
	// start: the drop then finds its machine code ready.
	stamp, conformance := read("stamp"), read("conformance")
	if err := os.WriteFile(filepath.Join(s.pluginsDir, "p.wasm"), stamp, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	doc = []byte(strings.Replace(string(doc), `admin: {listen: "127.0.0.1:0"}`, `admin: {listen: "127.0.0.1:0", token: `+operatorToken+`}`, 1) + `
routes:
  - name: lin
    from: ["lin/#"]
    chain: [{plugin: p}, {plugin: stamp}]
    to: {topic: lin.out, lineage: true}
  - name: warm
    from: ["warm/#"]
    chain: [{plugin: conformance}]
    to: {topic: warm.out}
`)
	if err := os.WriteFile(s.cfgPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, s.load(t), gateway.WithReloadFrom(s.cfgPath, nil))
	api := "http://" + gw.AdminAddr() + "/api/v1"

	// lineage publishes one message and returns the lineage header of its record.
	seq := 0
	lineage := func() string {
		t.Helper()
		seq++
		topic := fmt.Sprintf("lin/%d", seq)
		gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: topic, Payload: []byte("echo")}})
		for _, r := range kf.WaitRecords(t, "lin.out", seq, 30*time.Second) {
			if string(r.Key) != topic {
				continue
			}
			for _, h := range r.Headers {
				if h.Key == kafkasink.HeaderLineage {
					return string(h.Value)
				}
			}
			t.Fatalf("record of %s has no %s header: %v", topic, kafkasink.HeaderLineage, r.Headers)
		}
		t.Fatalf("no record of %s", topic)
		return ""
	}
	want := func(p []byte) string { return "p@" + sha(p) + ",stamp@" + sha(stamp) }

	if got := lineage(); got != want(stamp) {
		t.Fatalf("lineage = %q, want %q", got, want(stamp))
	}

	// /api/v1/status: snake_case, the version serving each stage, durations in a named unit.
	code, body := apiCall(t, "GET", api+"/status", operatorToken, nil)
	var status map[string]any
	if err := json.Unmarshal([]byte(body), &status); err != nil || code != 200 {
		t.Fatalf("GET /status = %d %s (%v)", code, body, err)
	}
	for _, k := range []string{"mqtt_connected", "kafka_up", "in_flight", "in_flight_bytes", "unrouted", "routes", "tenants"} {
		if _, ok := status[k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	var typed struct {
		Routes []struct {
			Name   string `json:"name"`
			Stages []struct {
				Stage     int      `json:"stage"`
				Plugin    string   `json:"plugin"`
				Version   string   `json:"version"`
				CompileMs *float64 `json:"compile_ms"`
			} `json:"stages"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &typed); err != nil || len(typed.Routes) != 2 || typed.Routes[0].Name != "lin" || len(typed.Routes[0].Stages) != 2 {
		t.Fatalf("/status routes: %v; %s", err, body)
	}
	if st := typed.Routes[0].Stages[0]; st.Plugin != "p" || st.Version != sha(stamp) || st.CompileMs == nil {
		t.Errorf("/status stage 0 = %+v, want p at %s with compile_ms", st, sha(stamp))
	}
	if strings.Contains(body, `"Name"`) || strings.Contains(body, `"CompileTime"`) {
		t.Errorf("/status still has PascalCase keys: %s", body)
	}

	// Drop another version over p.wasm, as an operator's cp would: the watcher reloads it.
	tmp := filepath.Join(s.pluginsDir, ".p.tmp")
	if err := os.WriteFile(tmp, conformance, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.pluginsDir, "p.wasm")); err != nil {
		t.Fatal(err)
	}
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if got := lineage(); got != want(conformance) {
			return fmt.Errorf("lineage %q, want %q", got, want(conformance))
		}
		return nil
	})
	if st := gw.Stats().LastReload; st == nil || !st.OK || len(st.Serving) == 0 || st.Serving[0].Version != sha(conformance) {
		t.Errorf("last reload %+v, want serving p at %s", st, sha(conformance))
	}
	code, body = apiCall(t, "GET", api+"/tenants/_", operatorToken, nil)
	var top struct {
		Plugins []struct {
			Name     string   `json:"name"`
			Previous []string `json:"previous"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(body), &top); err != nil || code != 200 {
		t.Fatalf("GET /tenants/_ = %d %s (%v)", code, body, err)
	}
	for _, p := range top.Plugins {
		if p.Name == "p" && (len(p.Previous) != 1 || p.Previous[0] != sha(stamp)) {
			t.Fatalf("p's previous versions %v, want [%s]: the version the drop replaced", p.Previous, sha(stamp))
		}
	}

	// Roll back to the version the drop replaced, then from it to the dropped one.
	for _, back := range [][]byte{stamp, conformance} {
		code, body := apiCall(t, "POST", api+"/tenants/_/plugins/p/rollback", operatorToken, nil)
		if code != 200 || !strings.Contains(body, sha(back)) {
			t.Fatalf("rollback = %d %s, want 200 and %s", code, body, sha(back))
		}
		if got := lineage(); got != want(back) {
			t.Fatalf("lineage after rollback = %q, want %q", got, want(back))
		}
	}
}
