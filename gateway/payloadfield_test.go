package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestPayloadFields_TopicAndKey runs routes whose topic and key come from payload fields
// through a real broker and Kafka: records land on the topic the payload names, keyed by its
// device; a message without the field, with a payload that is not JSON, or whose field would
// make an illegal topic goes to the dead letters with the reason (to.missing's default); a
// route with to.missing default:TEXT keys such messages with TEXT instead.
func TestPayloadFields_TopicAndKey(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	strict := route("strict", "dev/#", 1, `readings.{{.Payload "meta.site"}}`)
	strict.To.Key = `{{.Payload "device_id"}}`
	strict.DeadLetter = "readings_dlq"
	lenient := route("lenient", "dev/#", 1, "lenient")
	lenient.To.Key = `{{.Segment 1}}:{{.Payload "device_id"}}`
	lenient.To.Missing = "default:unknown"
	startGateway(t, testConfig(t, mq.URL(), kf, strict, lenient))

	msgs := []gatewaytest.PublishMsg{
		{Topic: "dev/a", Payload: []byte(`{"device_id":"d-1","meta":{"site":"north"},"v":1}`)},
		{Topic: "dev/b", Payload: []byte(`{"device_id":42,"meta":{"site":"south"}}`)},
		{Topic: "dev/c", Payload: []byte(`{"meta":{"site":"north"}}`)},                 // no device_id
		{Topic: "dev/d", Payload: []byte(`temperature=21.5`)},                          // not JSON
		{Topic: "dev/e", Payload: []byte(`{"device_id":"d-5","meta":{"site":"a b"}}`)}, // illegal topic
	}
	gatewaytest.Publish(t, mq.URL(), 1, msgs)

	for topic, wantKey := range map[string]string{"readings.north": "d-1", "readings.south": "42"} {
		recs := kf.WaitRecords(t, topic, 1, 30*time.Second)
		if len(recs) != 1 || string(recs[0].Key) != wantKey {
			t.Errorf("%s: %d records, first key %q; want one keyed %q", topic, len(recs), recs[0].Key, wantKey)
		}
	}
	dead := kf.WaitRecords(t, "readings_dlq", 3, 30*time.Second)
	want := map[string][2]string{ // by MQTT topic: error kind, error text
		"dev/c": {gateway.KindMissingField, `to.key: payload field "device_id": not found`},
		"dev/d": {gateway.KindMissingField, `to.topic: payload field "meta.site": the payload is not JSON`},
		"dev/e": {gateway.KindBadTopic, `kafka topic "readings.a b" is not a legal topic name`},
	}
	for _, r := range dead {
		w, ok := want[string(r.Key)]
		if !ok {
			t.Errorf("unexpected dead letter of %s: %s", r.Key, header(r, gateway.HeaderError))
			continue
		}
		if kind, msg := header(r, gateway.HeaderErrorKind), header(r, gateway.HeaderError); kind != w[0] || !strings.Contains(msg, w[1]) {
			t.Errorf("dead letter of %s: kind %q error %q, want %q containing %q", r.Key, kind, msg, w[0], w[1])
		}
		delete(want, string(r.Key))
	}
	if len(want) > 0 {
		t.Errorf("no dead letter for %v", want)
	}

	got := map[string]string{}
	for _, r := range kf.WaitRecords(t, "lenient", len(msgs), 30*time.Second) {
		got[header(r, "mqtt.topic")] = string(r.Key)
	}
	wantKeys := map[string]string{"dev/a": "a:d-1", "dev/b": "b:42", "dev/c": "c:unknown", "dev/d": "d:unknown", "dev/e": "e:d-5"}
	if fmt.Sprint(got) != fmt.Sprint(wantKeys) {
		t.Errorf("lenient keys %v, want %v", got, wantKeys)
	}
}

// TestPayloadFields_TenantNamespace: a tenant's topic template starts with one of its
// kafka_prefixes, so a payload value can only extend it; values Kafka would refuse are
// dead-lettered inside the namespace, and no record lands outside it.
func TestPayloadFields_TenantNamespace(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	doc := fmt.Sprintf(`
mqtt: {url: %q, client_id: %q, reconnect_max: 500ms}
kafka: {brokers: [%s], compression: none}
admin: {listen: "127.0.0.1:0"}
plugins: {cache_dir: %q}
tenants:
  inline:
    - name: acme
      mqtt_prefixes: ["acme/"]
      kafka_prefixes: ["acme."]
      routes:
        - name: by-kind
          from: ["acme/#"]
          to: {topic: 'acme.{{.Payload "kind"}}', key: '{{.Payload "id"}}'}
          dead_letter: acme.dlq
`, mq.URL(), "tributary-"+t.Name(), strings.Join(kf.Brokers(), ", "), compileCache(t))
	cfg, err := config.LoadBytes([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	startGateway(t, cfg)
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: "acme/1", Payload: []byte(`{"kind":"temp","id":"a"}`)},
		{Topic: "acme/2", Payload: []byte(`{"kind":"../../other","id":"b"}`)},
		{Topic: "acme/3", Payload: []byte(`{"kind":"` + strings.Repeat("k", 250) + `","id":"c"}`)},
	})
	if recs := kf.WaitRecords(t, "acme.temp", 1, 30*time.Second); string(recs[0].Key) != "a" {
		t.Errorf("acme.temp record keyed %q, want a", recs[0].Key)
	}
	for _, r := range kf.WaitRecords(t, "acme.dlq", 2, 30*time.Second) {
		if kind := header(r, gateway.HeaderErrorKind); kind != gateway.KindBadTopic || header(r, gateway.HeaderTenant) != "acme" {
			t.Errorf("dead letter of %s: kind %q tenant %q, want bad_topic for acme", r.Key, kind, header(r, gateway.HeaderTenant))
		}
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), kf.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range meta.Topics {
		if topic.Topic != nil && !strings.HasPrefix(*topic.Topic, "acme.") {
			t.Errorf("topic %q exists outside the tenant's namespace", *topic.Topic)
		}
	}
}
