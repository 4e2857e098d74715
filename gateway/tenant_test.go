package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// tenantSetup is a gateway configuration file with a tenants.dir, for tests that load
// tenants the way users declare them.
type tenantSetup struct {
	cfgPath, tenantsDir, pluginsDir string
}

// newTenantSetup writes a configuration file for mq and kf whose plugins.dir holds the
// conformance and stamp guests and whose tenants.dir starts with the given tenant.yaml files.
func newTenantSetup(t *testing.T, mqURL string, kf *gatewaytest.KafkaCluster, tenants map[string]string) *tenantSetup {
	t.Helper()
	root := t.TempDir()
	s := &tenantSetup{cfgPath: filepath.Join(root, "tributary.yaml"), tenantsDir: filepath.Join(root, "tenants"),
		pluginsDir: conformancePlugins(t)}
	stamp, err := os.ReadFile(filepath.Join(stampPlugins(t), "stamp.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.pluginsDir, "stamp.wasm"), stamp, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, doc := range tenants {
		s.writeTenant(t, name, doc)
	}
	clientID := "tributary-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	doc := fmt.Sprintf(`
mqtt: {url: %q, client_id: %q, reconnect_max: 500ms}
kafka: {brokers: [%s], compression: none}
admin: {listen: "127.0.0.1:0"}
flow: {drain_timeout: 20s}
plugins: {dir: %q, cache_dir: %q}
tenants: {dir: %q}
`, mqURL, clientID, strings.Join(kf.Brokers(), ", "), s.pluginsDir, compileCache(t), s.tenantsDir)
	if err := os.WriteFile(s.cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// setProtocol puts protocol in the configuration file's mqtt.protocol.
func (s *tenantSetup) setProtocol(t *testing.T, protocol string) {
	t.Helper()
	doc, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	doc = bytes.Replace(doc, []byte("reconnect_max: 500ms}"), []byte(fmt.Sprintf("reconnect_max: 500ms, protocol: %q}", protocol)), 1)
	if err := os.WriteFile(s.cfgPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTenant writes tenants.dir/name/tenant.yaml the way an operator would: to a temporary
// file renamed into place.
func (s *tenantSetup) writeTenant(t *testing.T, name, doc string) {
	t.Helper()
	dir := filepath.Join(s.tenantsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tenant.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, config.TenantFile)); err != nil {
		t.Fatal(err)
	}
}

func (s *tenantSetup) load(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(s.cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tenantDoc is a tenant.yaml owning prefix/ in MQTT and prefix. in Kafka, with one route
// "r" from prefix/# to prefix.out through plugin, plus extra YAML (limits).
func tenantDoc(prefix, plugin, extra string) string {
	return fmt.Sprintf(`
mqtt_prefixes: [%[1]s/]
kafka_prefixes: [%[1]s.]
%[3]s
routes:
  - name: r
    from: ["%[1]s/#"]
    chain: [{plugin: %[2]s}]
    to: {topic: %[1]s.out}
`, prefix, plugin, extra)
}

// TestTenants_IsolationAndNamespaces runs two tenants on one gateway. Acme's plugin loops on
// some messages, tries to write into globex's Kafka namespace and gets an oversized message;
// each of those becomes an acme dead letter naming the tenant, while globex's steady flow
// goes on with nothing lost. It logs globex's latency with acme idle and with acme looping:
// the figure the README quotes.
func TestTenants_IsolationAndNamespaces(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{
		"acme":   tenantDoc("acme", "conformance", "limits: {call_timeout: 300ms, max_instances: 1, max_message_bytes: 64}"),
		"globex": tenantDoc("globex", "stamp", ""),
	})
	gw := startGateway(t, s.load(t))

	pub := gatewaytest.NewPublisher(t, mq.URL())
	ctx := context.Background()
	// publishSteady sends n globex messages, one every 2 ms, starting at seq from, and
	// returns when each was sent.
	sent := map[int64]time.Time{}
	var globex []gatewaytest.PublishMsg
	publishSteady := func(from, n int) {
		for i := from; i < from+n; i++ {
			topic := fmt.Sprintf("globex/site/%d", i%20)
			m := gatewaytest.PublishMsg{Topic: topic, Seq: int64(i), Payload: gatewaytest.Payload(topic, int64(i))}
			sent[m.Seq] = time.Now()
			if err := pub.Publish(ctx, 1, []gatewaytest.PublishMsg{m}); err != nil {
				t.Fatal(err)
			}
			globex = append(globex, m)
			time.Sleep(2 * time.Millisecond)
		}
	}
	publishSteady(0, 300) // acme idle

	acme := []gatewaytest.PublishMsg{
		{Topic: "acme/steal", Payload: []byte("topic:globex.out")},
		{Topic: "acme/big", Payload: []byte("echo:" + strings.Repeat("x", 100))},
		{Topic: "acme/meta", Payload: []byte("meta")},
	}
	for i := range 6 {
		acme = append(acme, gatewaytest.PublishMsg{Topic: fmt.Sprintf("acme/loop/%d", i), Payload: []byte("loop")})
	}
	acmeDone := make(chan struct{})
	go func() {
		defer close(acmeDone)
		gatewaytest.Publish(t, mq.URL(), 1, acme, gatewaytest.WithClientID("acme-publisher"))
	}()
	publishSteady(300, 600) // acme's plugin loops meanwhile
	<-acmeDone

	rep := kf.WaitDelivered(t, "globex.out", globex, 60*time.Second)
	if err := rep.ExactlyOnce(); err != nil {
		t.Fatalf("globex: %v", err)
	}
	dead := kf.WaitRecords(t, "acme.out_dlq", 8, 60*time.Second)
	kinds := map[string]int{}
	for _, r := range dead {
		if got := header(r, gateway.HeaderTenant); got != "acme" {
			t.Errorf("acme dead letter %q: tributary.tenant = %q", r.Value, got)
		}
		kinds[header(r, gateway.HeaderErrorKind)]++
		if header(r, gateway.HeaderErrorKind) == gateway.KindNamespace && header(r, gateway.HeaderOriginalTopic) != "globex.out" {
			t.Errorf("namespace dead letter names topic %q", header(r, gateway.HeaderOriginalTopic))
		}
	}
	want := map[string]int{"timeout": 6, gateway.KindNamespace: 1, gateway.KindMessageTooLarge: 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("acme dead letters by kind = %v, want %v", kinds, want)
			break
		}
	}
	for _, r := range kf.Records(t, "globex.out") {
		if strings.HasPrefix(string(r.Key), "acme/") {
			t.Fatalf("acme's plugin wrote into globex's topic: %q", r.Value)
		}
	}
	meta := kf.WaitRecords(t, "acme.out", 1, 30*time.Second)
	var m struct{ Tenant, Route string }
	if err := json.Unmarshal(meta[0].Value, &m); err != nil || m.Tenant != "acme" || m.Route != "r" {
		t.Errorf("acme plugin saw tenant/route %+v (%v), want acme/r", m, err)
	}

	metrics := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
	for _, want := range []string{
		`tributary_route_messages_in_total{route="r",tenant="acme"} 9`,
		`tributary_route_dead_letters_total{kind="timeout",route="r",tenant="acme"} 6`,
		`tributary_plugin_errors_total{kind="timeout",plugin="conformance",tenant="acme"}`,
		`tributary_mqtt_connected{tenant="globex"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Globex's latency from publish to produce, with acme idle and with acme looping.
	var idle, busy []time.Duration
	for _, r := range kf.Records(t, "globex.out") {
		_, seq, err := gatewaytest.RecordIdentity(r)
		if err != nil {
			t.Fatal(err)
		}
		d := r.Timestamp.Sub(sent[seq].Truncate(time.Millisecond))
		if seq < 300 {
			idle = append(idle, d)
		} else {
			busy = append(busy, d)
		}
	}
	t.Logf("globex publish-to-produce latency: acme idle p50 %v p99 %v max %v; acme's plugin looping (call_timeout 300ms) p50 %v p99 %v max %v",
		quantile(idle, 0.5), quantile(idle, 0.99), quantile(idle, 1), quantile(busy, 0.5), quantile(busy, 0.99), quantile(busy, 1))
}

// quantile returns the q-quantile of ds (sorting it).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// TestTenants_AddAndRemoveLive drops a tenant folder into tenants.dir and removes another
// while the gateway runs: the new tenant's messages start flowing without a restart, the
// removed tenant's messages received before the removal are all delivered, and a broken
// tenant.yaml leaves the running tenants serving.
func TestTenants_AddAndRemoveLive(t *testing.T) {
	// With MQTT 3.1.1 too: each tenant is its own 3.1.1 session, added and removed live.
	forEachProtocol(t, testTenantsAddAndRemoveLive)
}

func testTenantsAddAndRemoveLive(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{"acme": tenantDoc("acme", "stamp", "")})
	s.setProtocol(t, protocol)
	gw := startGateway(t, s.load(t), gateway.WithReloadFrom(s.cfgPath, nil))

	acme := gatewaytest.Messages(gatewaytest.Topics("acme/s/%d", 10), 500)
	gatewaytest.Publish(t, mq.URL(), 1, acme)

	s.writeTenant(t, "globex", tenantDoc("globex", "stamp", ""))
	waitReload(t, gw, func(st *gateway.ReloadStatus) bool { return slices.Contains(st.TenantsAdded, "globex") })
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); !strings.Contains(m, `tributary_mqtt_connected{tenant="globex"} 1`) {
			return fmt.Errorf("globex's session not up yet")
		}
		return nil
	})
	globex := gatewaytest.Messages(gatewaytest.Topics("globex/s/%d", 10), 500)
	gatewaytest.Publish(t, mq.URL(), 1, globex)
	if err := kf.WaitDelivered(t, "globex.out", globex, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("globex, added live: %v", err)
	}
	if protocol == config.Protocol311 {
		for _, tenant := range []string{"acme", "globex"} {
			if !slices.ContainsFunc(strings.Split(gw.logs.String(), "\n"), func(l string) bool {
				return strings.Contains(l, "mqtt connected") && strings.Contains(l, "tenant="+tenant) && strings.Contains(l, "protocol=3.1.1")
			}) {
				t.Errorf("no MQTT 3.1.1 session logged for tenant %s", tenant)
			}
		}
	}

	// A broken tenant.yaml is refused; both tenants keep serving.
	s.writeTenant(t, "globex", "routes: [\n")
	waitReload(t, gw, func(st *gateway.ReloadStatus) bool {
		return !st.OK && strings.Contains(st.Error, filepath.Join("globex", config.TenantFile))
	})
	more := gatewaytest.Messages(gatewaytest.Topics("globex/t/%d", 5), 100)
	gatewaytest.Publish(t, mq.URL(), 1, more)
	if err := kf.WaitDelivered(t, "globex.out", append(globex, more...), 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("globex after a rejected reload: %v", err)
	}

	// Removing acme's folder drains and removes acme.
	if err := os.RemoveAll(filepath.Join(s.tenantsDir, "acme")); err != nil {
		t.Fatal(err)
	}
	s.writeTenant(t, "globex", tenantDoc("globex", "stamp", "")) // mend globex too
	waitReload(t, gw, func(st *gateway.ReloadStatus) bool { return slices.Contains(st.TenantsRemoved, "acme") })
	if err := kf.WaitDelivered(t, "acme.out", acme, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("acme, removed live: %v", err)
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); strings.Contains(m, `tributary_mqtt_connected{tenant="acme"}`) {
			return fmt.Errorf("acme's session still reported")
		}
		return nil
	})
	late := gatewaytest.Messages([]string{"acme/s/0"}, 5)
	gatewaytest.Publish(t, mq.URL(), 1, late)
	fence := gatewaytest.Messages([]string{"globex/s/0"}, 1) // published after acme's late ones
	gatewaytest.Publish(t, mq.URL(), 1, fence)
	kf.WaitRecords(t, "globex.out", len(globex)+len(more)+1, 30*time.Second)
	if n := len(kf.Records(t, "acme.out")); n != len(acme) {
		t.Errorf("acme.out holds %d records after the removal, want %d: the removed tenant still consumes", n, len(acme))
	}
}

// waitReload waits until the last reload satisfies ok.
func waitReload(t *testing.T, gw *running, ok func(*gateway.ReloadStatus) bool) {
	t.Helper()
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		st := gw.Stats().LastReload
		if st == nil || !ok(st) {
			return fmt.Errorf("last reload %+v", st)
		}
		return nil
	})
}

// TestTenants_RateLimitIsBackpressure caps a tenant at 200 messages/s: its burst waits in the
// broker and arrives complete, and another tenant's messages pass it by.
func TestTenants_RateLimitIsBackpressure(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{
		"slow": tenantDoc("slow", "stamp", "limits: {messages_per_second: 200}"),
		"fast": tenantDoc("fast", "stamp", ""),
	})
	startGateway(t, s.load(t))

	slow := gatewaytest.Messages(gatewaytest.Topics("slow/s/%d", 10), 1000)
	start := time.Now()
	gatewaytest.Publish(t, mq.URL(), 1, slow)
	fast := gatewaytest.Messages(gatewaytest.Topics("fast/s/%d", 10), 200)
	gatewaytest.Publish(t, mq.URL(), 1, fast)
	if err := kf.WaitDelivered(t, "fast.out", fast, 30*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("fast: %v", err)
	}
	if got := len(kf.Records(t, "slow.out")); got >= len(slow) {
		t.Errorf("the capped tenant's %d messages were all through before the other tenant's (%d records)", len(slow), got)
	}
	if err := kf.WaitDelivered(t, "slow.out", slow, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatalf("slow: %v", err)
	}
	// 1000 messages at 200/s with a burst of at most 64 cannot take less than 4.6 s: a
	// lower bound that holds on any machine, showing the cap was applied.
	if el := time.Since(start); el < 4*time.Second {
		t.Errorf("1000 messages capped at 200/s were delivered in %v", el)
	}
}
