package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// deviceSub is an MQTT subscriber standing for the devices: it records, per topic, the
// "seq" user property of each message in arrival order.
type deviceSub struct {
	mu    sync.Mutex
	seqs  map[string][]int
	total int
}

func subscribeDevices(t *testing.T, addr, filter string) *deviceSub {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d := &deviceSub{seqs: map[string][]int{}}
	cl := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: "devices-" + strconv.Itoa(gatewaytest.FreePort(t)),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			seq := -1
			if pr.Packet.Properties != nil {
				seq, _ = strconv.Atoi(pr.Packet.Properties.User.Get("seq"))
			}
			d.mu.Lock()
			d.seqs[pr.Packet.Topic] = append(d.seqs[pr.Packet.Topic], seq)
			d.total++
			d.mu.Unlock()
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Connect(ctx, &paho.Connect{ClientID: cl.ClientID(), KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *deviceSub) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// check reports what is missing (each key's seqs 0..want[topic]-1 must all arrive), and,
// when strict, any message out of order or twice. Without strict, a message may come again
// (at-least-once): a run of repeats restarts from an earlier seq and climbs again, never
// skipping one.
func (d *deviceSub) check(want map[string]int, strict bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []string
	for topic, n := range want {
		got := d.seqs[topic]
		seen := make([]bool, n)
		for i, s := range got {
			if s < 0 || s >= n {
				errs = append(errs, fmt.Sprintf("%s: unexpected seq %d", topic, s))
				continue
			}
			seen[s] = true
			if i > 0 && s != got[i-1]+1 {
				if strict || s > got[i-1]+1 {
					errs = append(errs, fmt.Sprintf("%s: seq %d after %d", topic, s, got[i-1]))
				}
			} else if i == 0 && s != 0 {
				errs = append(errs, fmt.Sprintf("%s: starts at seq %d", topic, s))
			}
		}
		missing := 0
		for _, ok := range seen {
			if !ok {
				missing++
			}
		}
		if missing > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d of %d missing", topic, missing, n))
		}
		if len(errs) > 10 {
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// produceCommands writes n records per key to topic, key "dev<k>", value payload, header
// seq counting from 0 per key, interleaving the keys.
func produceCommands(t *testing.T, kf *gatewaytest.KafkaCluster, topic string, keys, n int, payload string) map[string]int {
	t.Helper()
	cl := kf.Client(t)
	var recs []*kgo.Record
	for i := range n {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("dev%02d", k)), Value: []byte(payload),
				Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for k := range keys {
		want[fmt.Sprintf("dev%02d", k)] = n
	}
	return want
}

// TestReverse_TenantChainOrderPoison runs a tenant's reverse route with a plugin chain: every
// record reaches its device topic inside the tenant's namespace, each key's in order and
// once; a record the plugin traps on and one whose topic renders with a wildcard go to the
// dead-letter topic with headers saying why, and the others are delivered around them.
func TestReverse_TenantChainOrderPoison(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(3, "acme.commands"))
	cfg := testConfig(t, mq.URL(), kf)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.Tenants.Inline = []config.Tenant{{
		Name: "acme", MQTTPrefixes: []string{"acme/"}, KafkaPrefixes: []string{"acme."},
		Routes: []config.Route{{Name: "up", From: []string{"acme/up/#"}, QoS: 1,
			To: config.Destination{Topic: "acme.up", Key: config.DefaultKeyTemplate, Envelope: config.EnvelopeNone}, DeadLetter: "acme.up_dlq"}},
		ReverseRoutes: []config.ReverseRoute{{Name: "down", From: []string{"acme.commands"},
			Chain: []config.Stage{{Plugin: "conformance"}},
			To:    config.ReverseDestination{Topic: "acme/dev/{{.Key}}/cmd", QoS: 1}, DeadLetter: "acme.commands_dlq", MaxInFlight: 8}},
	}}
	loaded := validated(t, cfg)
	devices := subscribeDevices(t, mq.Addr(), "#")
	want := produceCommands(t, kf, "acme.commands", 12, 100, "echo")
	// The poison: the conformance guest traps on exit:3; a key with '+' renders an invalid topic.
	cl := kf.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "acme.commands", Key: []byte("dev03"), Value: []byte("exit:3")},
		&kgo.Record{Topic: "acme.commands", Key: []byte("a+b"), Value: []byte("echo")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	startGateway(t, loaded)

	topics := map[string]int{}
	for k, n := range want {
		topics["acme/dev/"+k+"/cmd"] = n
	}
	gatewaytest.WaitFor(t, 60*time.Second, func() error { return devices.check(topics, true) })
	dead := kf.WaitRecords(t, "acme.commands_dlq", 2, 30*time.Second)
	kinds := map[string]string{}
	for _, r := range dead {
		kinds[string(r.Key)] = header(r, "tributary.error.kind")
		if header(r, "tributary.route") != "down" || header(r, "tributary.tenant") != "acme" || header(r, "tributary.kafka.topic") != "acme.commands" {
			t.Errorf("dead letter %s: headers %v", r.Key, r.Headers)
		}
	}
	if kinds["dev03"] != "plugin_error" || kinds["a+b"] != "bad_topic" {
		t.Errorf("dead letters by key: %v, want dev03 plugin_error and a+b bad_topic", kinds)
	}
	if n := devices.count(); n != 1200 {
		t.Errorf("devices got %d messages, want 1200", n)
	}
}

// validated returns cfg after checking it as Load would; the tests set every reverse route
// field Load would default.
func validated(t *testing.T, cfg *config.Config) *config.Config {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReverse_MQTTCutAndBack cuts the reverse route's MQTT connection twice while records
// flow: after each reconnection it sends again what was not acknowledged, so every record
// arrives, each key's in order apart from repeats.
func TestReverse_MQTTCutAndBack(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	proxy := gatewaytest.Proxy(t, mq.Addr())
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(2, "commands"))
	cfg := testConfig(t, proxy.URL(), kf)
	cfg.ReverseRoutes = []config.ReverseRoute{{Name: "down", From: []string{"commands"},
		To: config.ReverseDestination{Topic: "dev/{{.Key}}/cmd", QoS: 1}, DeadLetter: "commands_dlq", MaxInFlight: 16}}
	devices := subscribeDevices(t, mq.Addr(), "dev/#")
	want := produceCommands(t, kf, "commands", 10, 400, "on")
	startGateway(t, validated(t, cfg))
	for _, at := range []int{500, 2000} {
		gatewaytest.WaitFor(t, 60*time.Second, func() error {
			if n := devices.count(); n < at {
				return fmt.Errorf("%d delivered", n)
			}
			return nil
		})
		proxy.Cut()
		time.Sleep(300 * time.Millisecond) // the gateway retries against a refused port meanwhile
		proxy.Restore()
	}
	topics := map[string]int{}
	for k, n := range want {
		topics["dev/"+k+"/cmd"] = n
	}
	gatewaytest.WaitFor(t, 60*time.Second, func() error { return devices.check(topics, false) })
	t.Logf("%d messages for %d records", devices.count(), 4000)
}

// TestReverse_SIGKILL kills `tributary run` while it publishes and starts it again: the
// consumer group resumes from the last committed offset, so every record arrives at least
// once and each key's in order apart from repeats.
func TestReverse_SIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tributary binary; skipped with -short")
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(3, "commands"))
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	dir := t.TempDir()
	conf := filepath.Join(dir, "tributary.yaml")
	doc := fmt.Sprintf(`mqtt:
  url: %s
  reconnect_max: 500ms
kafka:
  brokers: [%s]
  compression: none
log:
  level: debug
reverse_routes:
  - name: down
    from: [commands]
    to: {topic: "dev/{{.Key}}/cmd"}
    max_in_flight: 4
`, mq.URL(), strings.Join(kf.Brokers(), ", "))
	if err := os.WriteFile(conf, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	devices := subscribeDevices(t, mq.Addr(), "dev/#")
	want := produceCommands(t, kf, "commands", 8, 1000, "on")
	p := startGatewayProcess(t, bin, conf, "tributary-reverse-kill")
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if n := devices.count(); n < 1500 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	p.kill(t)
	killedAt := devices.count()
	startGatewayProcess(t, bin, conf, "tributary-reverse-kill")
	topics := map[string]int{}
	for k, n := range want {
		topics["dev/"+k+"/cmd"] = n
	}
	gatewaytest.WaitFor(t, 90*time.Second, func() error { return devices.check(topics, false) })
	t.Logf("killed after %d messages; %d messages for %d records", killedAt, devices.count(), 8000)
}

// TestReverse_Reload changes a reverse route while it publishes and adds another: the old
// version finishes its batch, commits and leaves, the new one goes on from there, and no
// record is lost.
func TestReverse_Reload(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(2, "commands", "notices"))
	route := func(name, from string, inFlight int) config.ReverseRoute {
		return config.ReverseRoute{Name: name, From: []string{from}, MaxInFlight: inFlight,
			To: config.ReverseDestination{Topic: name + "/{{.Key}}", QoS: 1}, DeadLetter: from + "_dlq"}
	}
	cfg := testConfig(t, mq.URL(), kf)
	cfg.ReverseRoutes = []config.ReverseRoute{route("cmd", "commands", 2)}
	devices := subscribeDevices(t, mq.Addr(), "#")
	want := produceCommands(t, kf, "commands", 6, 500, "on")
	gw := startGateway(t, validated(t, cfg))
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if n := devices.count(); n < 300 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	next := testConfig(t, mq.URL(), kf)
	next.ReverseRoutes = []config.ReverseRoute{route("cmd", "commands", 32), route("note", "notices", 4)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.Reload(ctx, validated(t, next)); err != nil {
		t.Fatal(err)
	}
	notes := produceCommands(t, kf, "notices", 3, 100, "hello")
	topics := map[string]int{}
	for k, n := range want {
		topics["cmd/"+k] = n
	}
	for k, n := range notes {
		topics["note/"+k] = n
	}
	gatewaytest.WaitFor(t, 60*time.Second, func() error { return devices.check(topics, false) })
	// The old version committed all it published before the new one joined: no repeats.
	if n := devices.count(); n != 3300 {
		t.Errorf("%d messages for 3300 records", n)
	}
}

// TestReverse_OverBrokerMaximum publishes to a broker whose maximum packet size is 2 KiB: the
// record too large for it goes to the dead-letter topic, the records around it are delivered.
func TestReverse_OverBrokerMaximum(t *testing.T) {
	mq := gatewaytest.Mosquitto(t, gatewaytest.WithConfig("max_packet_size 2048"))
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(1, "commands"))
	cfg := testConfig(t, mq.URL(), kf)
	cfg.ReverseRoutes = []config.ReverseRoute{{Name: "down", From: []string{"commands"},
		To: config.ReverseDestination{Topic: "dev/{{.Key}}/cmd", QoS: 1}, DeadLetter: "commands_dlq", MaxInFlight: 4}}
	devices := subscribeDevices(t, mq.Addr(), "dev/#")
	cl := kf.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := func(seq int, size int) *kgo.Record {
		return &kgo.Record{Topic: "commands", Key: []byte("dev00"), Value: make([]byte, size),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(seq))}}}
	}
	if err := cl.ProduceSync(ctx, rec(0, 100), rec(1, 4096), rec(2, 100)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	startGateway(t, validated(t, cfg))
	dead := kf.WaitRecords(t, "commands_dlq", 1, 30*time.Second)[0]
	if k := header(dead, "tributary.error.kind"); k != "message_too_large" || len(dead.Value) != 4096 {
		t.Errorf("dead letter: kind %q, %d bytes", k, len(dead.Value))
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		devices.mu.Lock()
		defer devices.mu.Unlock()
		if got := devices.seqs["dev/dev00/cmd"]; len(got) != 2 || got[0] != 0 || got[1] != 2 {
			return fmt.Errorf("devices got seqs %v, want [0 2]", got)
		}
		return nil
	})
}

// TestReverse_PayloadFieldTopic renders the MQTT topic from a payload field: a record without
// the field is dead-lettered as missing_field, the others reach their topics.
func TestReverse_PayloadFieldTopic(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(1, "commands"))
	cfg := testConfig(t, mq.URL(), kf)
	cfg.ReverseRoutes = []config.ReverseRoute{{Name: "down", From: []string{"commands"},
		To: config.ReverseDestination{Topic: `site/{{.Payload "site"}}/{{.Key}}`, QoS: 1}, DeadLetter: "commands_dlq", MaxInFlight: 4}}
	devices := subscribeDevices(t, mq.Addr(), "site/#")
	cl := kf.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := func(seq int, value string) *kgo.Record {
		return &kgo.Record{Topic: "commands", Key: []byte("dev00"), Value: []byte(value),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(seq))}}}
	}
	if err := cl.ProduceSync(ctx, rec(0, `{"site":"north","cmd":"on"}`), rec(1, `not json`), rec(2, `{"site":"south"}`)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	startGateway(t, validated(t, cfg))
	dead := kf.WaitRecords(t, "commands_dlq", 1, 30*time.Second)[0]
	if k := header(dead, "tributary.error.kind"); k != "missing_field" || string(dead.Value) != "not json" {
		t.Errorf("dead letter: kind %q, value %q", k, dead.Value)
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		devices.mu.Lock()
		defer devices.mu.Unlock()
		if n, s := devices.seqs["site/north/dev00"], devices.seqs["site/south/dev00"]; len(n) != 1 || len(s) != 1 || n[0] != 0 || s[0] != 2 {
			return fmt.Errorf("devices got %v", devices.seqs)
		}
		return nil
	})
}

// TestReverse_TenantReverseOnly runs a tenant that has reverse routes and no forward route:
// it is served without an MQTT session of a forward flow, its reverse route publishes inside
// its namespace, and /api/v1/status lists the tenant and the reverse route (snake_case, with
// its counters, lag and the plugin version serving its stage). A reload giving the tenant a
// forward route and taking it away again starts and stops that flow and leaves the reverse
// route running as it was.
func TestReverse_TenantReverseOnly(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(2, "acme.commands"))
	tenant := func(forward bool) config.Tenant {
		tn := config.Tenant{Name: "acme", MQTTPrefixes: []string{"acme/"}, KafkaPrefixes: []string{"acme."},
			ReverseRoutes: []config.ReverseRoute{{Name: "down", From: []string{"acme.commands"},
				Chain: []config.Stage{{Plugin: "conformance"}},
				To:    config.ReverseDestination{Topic: "acme/dev/{{.Key}}/cmd", QoS: 1}, DeadLetter: "acme.commands_dlq", MaxInFlight: 4}}}
		if forward {
			tn.Routes = []config.Route{{Name: "up", From: []string{"acme/up/#"}, QoS: 1,
				To: config.Destination{Topic: "acme.up", Key: config.DefaultKeyTemplate, Envelope: config.EnvelopeNone}, DeadLetter: "acme.up_dlq"}}
		}
		return tn
	}
	plugins := conformancePlugins(t)
	conf := func(forward bool) *config.Config {
		cfg := testConfig(t, mq.URL(), kf)
		cfg.Plugins.Dir = plugins
		cfg.Tenants.Inline = []config.Tenant{tenant(forward)}
		return validated(t, cfg)
	}
	devices := subscribeDevices(t, mq.Addr(), "#")
	want := produceCommands(t, kf, "acme.commands", 4, 50, "echo")
	gw := startGateway(t, conf(false))
	topics := map[string]int{}
	for k, n := range want {
		topics["acme/dev/"+k+"/cmd"] = n
	}
	gatewaytest.WaitFor(t, 60*time.Second, func() error { return devices.check(topics, true) })

	forwardSession := func() bool {
		return strings.Contains(httpGet(t, "http://"+gw.AdminAddr()+"/metrics"), `tributary_mqtt_connected{tenant="acme"}`)
	}
	if forwardSession() {
		t.Error("a tenant without forward routes has a forward MQTT session")
	}
	var st struct {
		Tenants       []map[string]any `json:"tenants"`
		ReverseRoutes []map[string]any `json:"reverse_routes"`
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		st.Tenants, st.ReverseRoutes = nil, nil
		if err := json.Unmarshal([]byte(httpGet(t, "http://"+gw.AdminAddr()+"/api/v1/status")), &st); err != nil {
			return err
		}
		if len(st.ReverseRoutes) != 1 {
			return fmt.Errorf("reverse_routes %v", st.ReverseRoutes)
		}
		r := st.ReverseRoutes[0]
		if r["committed"] != float64(200) || r["lag"] != float64(0) {
			return fmt.Errorf("reverse route %v: want 200 committed, lag 0", r)
		}
		return nil
	})
	r := st.ReverseRoutes[0]
	if r["tenant"] != "acme" || r["name"] != "down" || r["group"] == "" || r["state"] != "running" || r["ready"] != true ||
		r["consumed"] != float64(200) || r["published"] != float64(200) || r["dead_lettered"] != float64(0) {
		t.Errorf("reverse route in /api/v1/status: %v", r)
	}
	stages, _ := r["stages"].([]any)
	if len(stages) != 1 || stages[0].(map[string]any)["plugin"] != "conformance" || stages[0].(map[string]any)["version"] == "" {
		t.Errorf("reverse route stages: %v", r["stages"])
	}
	if !slices.ContainsFunc(st.Tenants, func(tn map[string]any) bool { return tn["name"] == "acme" && tn["state"] == "serving" }) {
		t.Errorf("tenants in /api/v1/status: %v", st.Tenants)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.Reload(ctx, conf(true)); err != nil {
		t.Fatal(err)
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if !forwardSession() {
			return errors.New("no forward MQTT session after the tenant got a route")
		}
		return nil
	})
	if err := gw.Reload(ctx, conf(false)); err != nil {
		t.Fatal(err)
	}
	last := gw.Stats().LastReload
	if !slices.Contains(last.Removed, "acme/up") || slices.Contains(last.Changed, "reverse:acme/down") {
		t.Errorf("reload to reverse routes only: changed %v, removed %v", last.Changed, last.Removed)
	}
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if forwardSession() {
			return errors.New("the forward MQTT session outlives the tenant's last route")
		}
		return nil
	})
	later := subscribeDevices(t, mq.Addr(), "acme/#")
	more := produceCommands(t, kf, "acme.commands", 1, 10, "echo")
	gatewaytest.WaitFor(t, 60*time.Second, func() error { return later.check(map[string]int{"acme/dev/dev00/cmd": more["dev00"]}, true) })
	if ts := gw.Stats().Tenants; !slices.ContainsFunc(ts, func(s gateway.TenantStatus) bool { return s.Name == "acme" && s.State == gateway.TenantServing }) {
		t.Errorf("tenants after the reloads: %v", ts)
	}
}

// TestReverse_TenantPluginBrokenIsHeld: a tenant whose reverse route's plugin does not load
// is held alone, naming the route and plugin, and the gateway is built; the same failure at the
// top level fails New, as a top-level route's does.
func TestReverse_TenantPluginBrokenIsHeld(t *testing.T) {
	cfg := config.Default()
	cfg.MQTT.URL = "tcp://127.0.0.1:1"
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Plugins.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Plugins.Dir, "broken.wasm"), []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	down := config.ReverseRoute{Name: "down", From: []string{"acme.commands"}, Chain: []config.Stage{{Plugin: "broken"}},
		To: config.ReverseDestination{Topic: "acme/{{.Key}}", QoS: 1}, DeadLetter: "acme.commands_dlq", MaxInFlight: 4}
	cfg.Tenants.Inline = []config.Tenant{{Name: "acme", MQTTPrefixes: []string{"acme/"}, KafkaPrefixes: []string{"acme."},
		ReverseRoutes: []config.ReverseRoute{down}}}
	gw, err := gateway.New(validated(t, cfg))
	if err != nil {
		t.Fatalf("New with a tenant's broken reverse route: %v", err)
	}
	ts := gw.TenantStatuses()
	if len(ts) != 1 || ts[0].State != gateway.TenantHeld || !strings.Contains(ts[0].Error, "down") || !strings.Contains(ts[0].Error, "broken") {
		t.Errorf("tenant statuses %+v, want acme held naming route down and plugin broken", ts)
	}
	if rs := gw.Stats().ReverseRoutes; len(rs) != 0 {
		t.Errorf("reverse routes built: %+v", rs)
	}

	cfg.Tenants.Inline = nil
	down.From, down.DeadLetter, down.To.Topic = []string{"commands"}, "commands_dlq", "dev/{{.Key}}"
	cfg.ReverseRoutes = []config.ReverseRoute{down}
	if _, err := gateway.New(validated(t, cfg)); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("New with a top-level broken reverse route: %v, want an error naming the plugin", err)
	}
}

// TestReverse_TenantUploadRebuilds: a plugin uploaded to a tenant with reverse routes only
// rebuilds the reverse route that runs it; /api/v1/status then shows the new version serving.
func TestReverse_TenantUploadRebuilds(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(1, "acme.commands"))
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{"acme": `
mqtt_prefixes: [acme/]
kafka_prefixes: [acme.]
admin_token: ` + acmeToken + `
reverse_routes:
  - name: down
    from: [acme.commands]
    chain: [{plugin: p}]
    to: {topic: "acme/{{.Key}}"}
`})
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(s.pluginsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := os.WriteFile(filepath.Join(s.tenantsDir, "acme", "p.wasm"), read("stamp.wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, s.load(t))
	version := func() string {
		rs := gw.Stats().ReverseRoutes
		if len(rs) != 1 || len(rs[0].Plugins) != 1 {
			t.Fatalf("reverse routes %+v", rs)
		}
		return rs[0].Plugins[0].Version
	}
	before := version()
	code, resp := apiCall(t, "PUT", "http://"+gw.AdminAddr()+"/api/v1/tenants/acme/plugins/p", acmeToken, read("conformance.wasm"))
	if code != 200 {
		t.Fatalf("upload: %d %s", code, resp)
	}
	if after := version(); after == before || after == "" {
		t.Errorf("stage version %q after the upload, %q before: the reverse route was not rebuilt", after, before)
	}
	if last := gw.Stats().Tenants; len(last) != 1 || last[0].State != gateway.TenantServing {
		t.Errorf("tenants after the upload: %+v", last)
	}
}
