package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// testConfig is a configuration for one gateway against mq and kf with the given routes.
// Route defaults that config.Load would fill in are filled here.
func testConfig(t *testing.T, mqURL string, kf *gatewaytest.KafkaCluster, routes ...config.Route) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.MQTT.URL = mqURL
	cfg.MQTT.ClientID = "tributary-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	cfg.Kafka.Brokers = kf.Brokers()
	cfg.Kafka.Compression = "none"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Flow.DrainTimeout = 20 * time.Second
	cfg.MQTT.ReconnectMax = 500 * time.Millisecond
	cfg.Plugins.CacheDir = compileCache(t)
	for i := range routes {
		r := &routes[i]
		if r.To.Key == "" {
			r.To.Key = config.DefaultKeyTemplate
		}
		if r.To.Envelope == "" {
			r.To.Envelope = config.EnvelopeNone
		}
		if r.DeadLetter == "" {
			r.DeadLetter = r.To.Topic + "_dlq"
		}
	}
	cfg.Routes = routes
	return cfg
}

// forEachProtocol runs f as one subtest per MQTT protocol the gateway speaks: "v5" and
// "v3.1.1", with the protocol to put in mqtt.protocol.
func forEachProtocol(t *testing.T, f func(t *testing.T, protocol string)) {
	for _, p := range []string{config.Protocol5, config.Protocol311} {
		t.Run("v"+p, func(t *testing.T) { f(t, p) })
	}
}

func route(name string, from string, qos int, topic string) config.Route {
	return config.Route{Name: name, From: []string{from}, QoS: qos, To: config.Destination{Topic: topic}}
}

// running is a gateway started by startGateway.
type running struct {
	*gateway.Gateway
	stop func() error // cancels Run and returns its error
	logs *gatewaytest.SyncBuffer
}

// startGateway runs a gateway until the test ends (or stop is called) and waits until it is
// ready. Its logs are printed when the test fails.
func startGateway(t *testing.T, cfg *config.Config, opts ...gateway.Option) *running {
	t.Helper()
	r := startGatewayNoWait(t, cfg, opts...)
	waitReady(t, r.Gateway)
	return r
}

// startGatewayNoWait is startGateway without waiting until the gateway is ready.
func startGatewayNoWait(t *testing.T, cfg *config.Config, opts ...gateway.Option) *running {
	t.Helper()
	logs := &gatewaytest.SyncBuffer{}
	opts = append(opts, gateway.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	gw, err := gateway.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("gateway Run: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	return &running{Gateway: gw, stop: stop, logs: logs}
}

// waitReady waits until gw's /readyz answers 200: every MQTT session is connected and
// subscribed, so a message published from now on reaches it (Stats().MQTTConnected turns
// true at CONNACK, before the subscriptions are made).
func waitReady(t *testing.T, gw *gateway.Gateway) {
	t.Helper()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if gw.AdminAddr() == "" {
			return fmt.Errorf("admin not listening yet")
		}
		resp, err := http.Get("http://" + gw.AdminAddr() + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		return nil
	})
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestDelivery_QoS(t *testing.T) {
	forEachProtocol(t, testDeliveryQoS)
}

func testDeliveryQoS(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			kf := gatewaytest.Kafka(t)
			topic := fmt.Sprintf("sensors_q%d", qos)
			cfg := testConfig(t, mq.URL(), kf, route("r", fmt.Sprintf("q%d/#", qos), int(qos), topic))
			cfg.MQTT.Protocol = protocol
			gw := startGateway(t, cfg)
			msgs := gatewaytest.Messages(gatewaytest.Topics(fmt.Sprintf("q%d/floor%%d/sensor/%%03d", qos), 5, 40), 2000)
			gatewaytest.Publish(t, mq.URL(), qos, msgs)
			rep := kf.WaitDelivered(t, topic, msgs, 60*time.Second)
			if err := rep.ExactlyOnce(); err != nil {
				t.Fatal(err)
			}
			gatewaytest.WaitFor(t, 10*time.Second, func() error {
				if s := gw.Stats(); s.InFlight != 0 || s.Routes[0].Out != uint64(len(msgs)) {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
		})
	}
}

func TestDelivery_OrderAcrossThousandsOfTopics(t *testing.T) {
	forEachProtocol(t, testDeliveryOrderAcrossThousandsOfTopics)
}

func testDeliveryOrderAcrossThousandsOfTopics(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "building/#", 1, "ordered"))
	cfg.MQTT.Protocol = protocol
	cfg.Flow.Shards = 8
	startGateway(t, cfg)
	msgs := gatewaytest.Messages(gatewaytest.Topics("building/floor%d/sensor/%03d/temp", 10, 200), 10000)
	gatewaytest.Publish(t, mq.URL(), 1, msgs, gatewaytest.WithWorkers(8))
	rep := kf.WaitDelivered(t, "ordered", msgs, 120*time.Second)
	if err := rep.ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
}

func TestMapping(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	envelope := route("envelope", "site/#", 1, "enveloped")
	envelope.To.Envelope = config.EnvelopeJSON
	templated := route("templated", "site/+/meter/#", 1, "meters.{{.Segment 1}}")
	templated.To.Key = `{{.Property "device"}}`
	templated.DeadLetter = "meters_dlq"
	startGateway(t, testConfig(t, mq.URL(), kf, route("raw", "site/#", 1, "raw"), envelope, templated))

	msg := gatewaytest.PublishMsg{
		Topic: "site/north/meter/7", Seq: 1, Payload: []byte(`{"kwh":12.5}`),
		ContentType:    "application/json",
		UserProperties: []gatewaytest.UserProperty{{Key: "device", Value: "m-7"}, {Key: "fw", Value: "1.2"}},
	}
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{msg})

	raw := kf.WaitRecords(t, "raw", 1, 30*time.Second)[0]
	if string(raw.Key) != msg.Topic || string(raw.Value) != string(msg.Payload) {
		t.Errorf("raw record key %q value %q", raw.Key, raw.Value)
	}
	for k, want := range map[string]string{"mqtt.topic": msg.Topic, "mqtt.qos": "1", "mqtt.retain": "false",
		"content-type": "application/json", "device": "m-7", "fw": "1.2"} {
		if got := header(raw, k); got != want {
			t.Errorf("raw header %s = %q, want %q", k, got, want)
		}
	}

	env := kf.WaitRecords(t, "enveloped", 1, 30*time.Second)[0]
	var e struct {
		MQTTTopic   string `json:"mqtt_topic"`
		ArrivedAtMs int64  `json:"arrived_at_ms"`
		Payload     string `json:"payload"`
		QoS         int    `json:"qos"`
	}
	if err := json.Unmarshal(env.Value, &e); err != nil {
		t.Fatalf("envelope %s: %v", env.Value, err)
	}
	if e.MQTTTopic != msg.Topic || e.Payload != string(msg.Payload) || e.QoS != 1 ||
		time.Since(time.UnixMilli(e.ArrivedAtMs)) > time.Minute {
		t.Errorf("envelope = %+v", e)
	}

	tm := kf.WaitRecords(t, "meters.north", 1, 30*time.Second)[0]
	if string(tm.Key) != "m-7" {
		t.Errorf("templated key = %q, want m-7", tm.Key)
	}
}

func TestOversizedMessageIsDeadLettered(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "big/#", 1, "big"))
	cfg.Kafka.MaxRecordBytes = 4096
	gw := startGateway(t, cfg)
	msgs := []gatewaytest.PublishMsg{
		{Topic: "big/a", Seq: 1, Payload: bytes.Repeat([]byte("x"), 10000)},
		{Topic: "big/a", Seq: 2, Payload: []byte("small")},
	}
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	dl := kf.WaitRecords(t, "big_dlq", 1, 30*time.Second)[0]
	if got := header(dl, "tributary.error.kind"); got != "record_too_large" {
		t.Errorf("dead-letter kind %q", got)
	}
	if got := header(dl, "tributary.route"); got != "r" {
		t.Errorf("dead-letter route %q", got)
	}
	if got := header(dl, "tributary.payload.original_bytes"); got != "10000" {
		t.Errorf("original size header %q", got)
	}
	if len(dl.Value) == 0 || len(dl.Value) >= 4096 {
		t.Errorf("dead-letter value of %d bytes, want cut below the limit", len(dl.Value))
	}
	ok := kf.WaitRecords(t, "big", 1, 30*time.Second)
	if string(ok[0].Value) != "small" {
		t.Errorf("next message = %q", ok[0].Value)
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if s := gw.Stats(); s.Routes[0].DeadLettered != 1 || s.InFlight != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
}

// TestUnroutedMessagesAreAcked: a persistent session keeps the subscriptions of a route that
// a later configuration removed. Its messages match no route: they are counted and
// acknowledged, never left in flight.
func TestUnroutedMessagesAreAcked(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("old", "old/#", 1, "old"), route("new", "new/#", 1, "new"))
	first := startGateway(t, cfg)
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, mq.URL(), kf, route("new", "new/#", 1, "new"))
	gw := startGateway(t, cfg)
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: "old/1", Seq: 1, Payload: []byte("a")},
		{Topic: "new/1", Seq: 2, Payload: []byte("b")},
	})
	kf.WaitRecords(t, "new", 1, 30*time.Second)
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if s := gw.Stats(); s.Unrouted != 1 || s.InFlight != 0 {
			return fmt.Errorf("stats %+v, want 1 unrouted and nothing in flight", s)
		}
		return nil
	})
}

func TestGracefulDrainThenResume(t *testing.T) {
	forEachProtocol(t, testGracefulDrainThenResume)
}

func testGracefulDrainThenResume(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "drain/#", 1, "drained"))
	cfg.MQTT.Protocol = protocol
	gw := startGateway(t, cfg)
	msgs := gatewaytest.Messages(gatewaytest.Topics("drain/%d", 20), 4000)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		gatewaytest.Publish(t, mq.URL(), 1, msgs)
	}()
	// Stop while messages are flowing.
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if s := gw.Stats(); s.Routes[0].Out < 500 {
			return fmt.Errorf("only %d out", s.Routes[0].Out)
		}
		return nil
	})
	if err := gw.stop(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	<-pubDone
	// The same session picks up what the first gateway did not take.
	startGateway(t, cfg)
	rep := kf.WaitDelivered(t, "drained", msgs, 60*time.Second)
	if err := rep.AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
	// A clean drain acknowledges everything it produced: no duplicates.
	if rep.Duplicates != 0 {
		t.Fatalf("a graceful drain produced duplicates: %s", rep)
	}
}

func TestKafkaOutageNoLoss(t *testing.T) {
	forEachProtocol(t, testKafkaOutageNoLoss)
}

func testKafkaOutageNoLoss(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "outage/#", 1, "outage"))
	cfg.Flow.MaxInFlight = 200
	if protocol == config.Protocol5 {
		cfg.MQTT.ReceiveMaximum = 200
	}
	cfg.MQTT.Protocol = protocol
	gw := startGateway(t, cfg)
	first := gatewaytest.Messages(gatewaytest.Topics("outage/%d", 10), 200)
	gatewaytest.Publish(t, mq.URL(), 1, first)
	kf.WaitDelivered(t, "outage", first, 30*time.Second)

	// Kafka drops every produce connection for a while: the producer retries, the gateway
	// stops taking messages at max_in_flight and the broker holds the rest.
	var down atomic.Bool
	var refused atomic.Int64
	down.Store(true)
	kf.Cluster().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.Cluster().KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		refused.Add(1)
		return nil, fmt.Errorf("kafka is down"), true
	})
	second := gatewaytest.Messages(gatewaytest.Topics("outage/%d", 10), 1000)[len(first):]
	go gatewaytest.Publish(t, mq.URL(), 1, second)
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		if s := gw.Stats(); s.InFlight == 0 || refused.Load() < 5 {
			return fmt.Errorf("%d in flight, %d produce requests refused", s.InFlight, refused.Load())
		}
		return nil
	})
	if s := gw.Stats(); s.InFlight > cfg.Flow.MaxInFlight {
		t.Fatalf("in flight %d exceeds max_in_flight %d", s.InFlight, cfg.Flow.MaxInFlight)
	}
	down.Store(false)
	rep := kf.WaitDelivered(t, "outage", append(first, second...), 60*time.Second)
	if err := rep.AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
}

func TestMosquittoRestartWithPersistence(t *testing.T) {
	forEachProtocol(t, testMosquittoRestartWithPersistence)
}

func testMosquittoRestartWithPersistence(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t, gatewaytest.WithPersistence())
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "restart/#", 1, "restarted"))
	cfg.MQTT.Protocol = protocol
	gw := startGateway(t, cfg)
	before := gatewaytest.Messages(gatewaytest.Topics("restart/%d", 10), 500)
	gatewaytest.Publish(t, mq.URL(), 1, before)
	kf.WaitDelivered(t, "restarted", before, 30*time.Second)

	mq.Stop()
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if gw.Stats().MQTTConnected {
			return fmt.Errorf("gateway still thinks it is connected")
		}
		return nil
	})
	mq.Start()
	after := gatewaytest.Messages(gatewaytest.Topics("restart/%d", 10), 1000)[len(before):]
	gatewaytest.Publish(t, mq.URL(), 1, after)
	rep := kf.WaitDelivered(t, "restarted", append(before, after...), 60*time.Second)
	if err := rep.AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
}

// TestOverlappingFiltersDeliverOnce subscribes two routes whose filters overlap. Mosquitto
// sends one copy of a message per matching filter; each route must still produce it once.
func TestOverlappingFiltersDeliverOnce(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	gw := startGateway(t, testConfig(t, mq.URL(), kf, route("all", "ov/#", 1, "ov_all"), route("temps", "ov/+/temp", 1, "ov_temps")))
	msgs := gatewaytest.Messages(gatewaytest.Topics("ov/%d/temp", 20), 1000)
	// A real repeat of the same payload on a topic both filters match is two messages.
	msgs = append(msgs, msgs[len(msgs)-1])
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	for _, topic := range []string{"ov_all", "ov_temps"} {
		rep := kf.WaitDelivered(t, topic, msgs[:len(msgs)-1], 30*time.Second)
		if rep.Missing != 0 || rep.Duplicates != 1 || rep.Unexpected != 0 {
			t.Errorf("%s: %v (want each message once, and the repeated one twice)", topic, rep)
		}
	}
	if m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics"); !containsLine(m, "tributary_mqtt_duplicate_copies_total", 1000) {
		t.Errorf("the broker's extra copies were not counted:\n%s", m)
	}
}
