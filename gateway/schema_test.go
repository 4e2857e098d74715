package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iskorotkov/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/schemaregistry"
)

// payloadAvro is an Avro schema of gatewaytest.Payload's readings.
const payloadAvro = `{"type":"record","name":"Reading","namespace":"test","fields":[
 {"name":"seq","type":"long"},{"name":"topic","type":"string"},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"temp","type":"double"},{"name":"humidity","type":["null","double"],"default":null},
 {"name":"unit","type":"string"},{"name":"pad","type":"string"}]}`

// schemaRoute is a route to topic whose values are encoded as Avro under <topic>-value.
func schemaRoute(from, topic string) config.Route {
	r := route(topic, from, 1, topic)
	r.To.ValueSchema = config.Schema{Format: config.SchemaAvro, Subject: topic + config.ValueSubjectSuffix}
	return r
}

// decodeSeqs reads each record's value back (Confluent header, then Avro) and returns the
// seq of each, failing on a schema id other than id.
func decodeSeqs(t *testing.T, recs []*kgo.Record, id int) map[int64]bool {
	t.Helper()
	sch := avro.MustParse(payloadAvro)
	seqs := map[int64]bool{}
	for _, r := range recs {
		gotID, body, err := (&sr.ConfluentHeader{}).DecodeID(r.Value)
		if err != nil || gotID != id {
			t.Fatalf("record %d: schema id %d (%v), want %d", r.Offset, gotID, err, id)
		}
		var v map[string]any
		if err := avro.Unmarshal(sch, body, &v); err != nil {
			t.Fatalf("record %d: %v", r.Offset, err)
		}
		seqs[v["seq"].(int64)] = true
	}
	return seqs
}

// TestSchemaRegistry_Avro: records are Avro in the wire format under the subject's id; a
// payload that does not fit goes to the dead letters, naming the field, never to the topic.
func TestSchemaRegistry_Avro(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	reg := schemaregistry.Start(t)
	id, err := reg.Register("typed-value", schemaregistry.Schema{Text: payloadAvro})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, mq.URL(), kf, schemaRoute("sr/#", "typed"))
	cfg.Kafka.SchemaRegistry = config.SchemaRegistry{URL: reg.URL(), Timeout: 2 * time.Second}
	startGateway(t, cfg)

	msgs := gatewaytest.Messages(gatewaytest.Topics("sr/dev%d", 4), 40)
	bad := gatewaytest.PublishMsg{Topic: "sr/bad", Seq: 1000, Payload: []byte(`{"seq":1000,"topic":"sr/bad","ts":1,"temp":"hot","unit":"C","pad":""}`)}
	gatewaytest.Publish(t, mq.URL(), 1, append(msgs, bad))

	seqs := decodeSeqs(t, kf.WaitRecords(t, "typed", len(msgs), 30*time.Second), id)
	dlq := kf.WaitRecords(t, "typed_dlq", 1, 30*time.Second)
	for _, m := range msgs {
		if !seqs[m.Seq] {
			t.Errorf("seq %d missing from the topic", m.Seq)
		}
	}
	if len(seqs) != len(msgs) {
		t.Errorf("%d records in the topic, want %d (the invalid one must not be there)", len(seqs), len(msgs))
	}
	d := dlq[0]
	if len(dlq) != 1 || header(d, "tributary.error.kind") != "schema_invalid" || header(d, "tributary.error.path") != "/temp" ||
		!strings.Contains(header(d, "tributary.error"), "want a number") || string(d.Value) != string(bad.Payload) {
		t.Errorf("dead letters: %d, first: kind %q path %q error %q value %s", len(dlq), header(d, "tributary.error.kind"),
			header(d, "tributary.error.path"), header(d, "tributary.error"), d.Value)
	}
}

// TestSchemaRegistry_Outage: a gateway started while the registry answers 503 runs but is not
// ready, and holds the route's messages; once the registry is back every message is
// delivered, none dead-lettered.
func TestSchemaRegistry_Outage(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	reg := schemaregistry.Start(t)
	id, err := reg.Register("held-value", schemaregistry.Schema{Text: payloadAvro})
	if err != nil {
		t.Fatal(err)
	}
	reg.SetOutage(schemaregistry.OutageUnavailable)
	cfg := testConfig(t, mq.URL(), kf, schemaRoute("held/#", "held"))
	cfg.Kafka.SchemaRegistry = config.SchemaRegistry{URL: reg.URL(), Timeout: 2 * time.Second}
	gw := startGatewayUnready(t, cfg)

	// Not ready because of the schema alone: the MQTT session is subscribed.
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		_, body := readyz(t, gw)
		if !strings.Contains(body, "schema registry "+reg.URL()+": route held waits for its schema") || strings.Contains(body, "mqtt") {
			return fmt.Errorf("readyz: %s", body)
		}
		return nil
	})
	msgs := gatewaytest.Messages(gatewaytest.Topics("held/dev%d", 4), 40)
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	time.Sleep(time.Second) // the messages reach the gateway and wait
	if n := len(kf.Records(t, "held")) + len(kf.Records(t, "held_dlq")); n != 0 {
		t.Fatalf("%d records produced while the registry was down", n)
	}

	reg.SetOutage(schemaregistry.OutageNone)
	seqs := decodeSeqs(t, kf.WaitRecords(t, "held", len(msgs), 30*time.Second), id)
	if len(seqs) != len(msgs) {
		t.Errorf("%d distinct records, want %d", len(seqs), len(msgs))
	}
	if n := len(kf.Records(t, "held_dlq")); n != 0 {
		t.Errorf("%d dead letters", n)
	}
	waitReady(t, gw.Gateway)
}

// startGatewayUnready is startGateway without waiting for readiness.
func startGatewayUnready(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	r := startGatewayNoWait(t, cfg)
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if r.AdminAddr() == "" {
			return fmt.Errorf("admin not listening yet")
		}
		return nil
	})
	return r
}
