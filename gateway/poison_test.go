package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestPoisonMessages sends payloads that break naive bridges (empty, 1 MB, invalid UTF-8,
// binary, deep nesting, a plugin trap) through an envelope route and a plugin chain at once,
// on both MQTT protocols. Each gets a record or a dead letter; the gateway keeps running and
// nothing stays in flight.
func TestPoisonMessages(t *testing.T) {
	forEachProtocol(t, testPoisonMessages)
}

func testPoisonMessages(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	env := route("env", "poison/#", 1, "poison_env")
	env.To.Envelope = config.EnvelopeJSON
	chained := route("chain", "poison/#", 1, "poison_chain")
	chained.Chain = []config.Stage{{Plugin: "conformance"}}
	cfg := testConfig(t, mq.URL(), kf, env, chained)
	cfg.Plugins.Dir = conformancePlugins(t)
	cfg.MQTT.Protocol = protocol
	gw := startGateway(t, cfg)

	payloads := map[string][]byte{
		"empty":   {},
		"1mb":     bytes.Repeat([]byte("a"), 1<<20),
		"badutf8": {'e', 'c', 0xff, 0xfe, 'o'},
		"binary":  {0x00, 0x01, 0x02, 0x03, 0x80, 0x81},
		"deep":    []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)),
		"echo":    []byte("echo"), // a good message after the bad ones
	}
	var msgs []gatewaytest.PublishMsg
	for _, name := range []string{"empty", "1mb", "badutf8", "binary", "deep", "echo"} {
		msgs = append(msgs, gatewaytest.PublishMsg{Topic: "poison/" + name, Payload: payloads[name]})
	}
	gatewaytest.Publish(t, mq.URL(), 1, msgs)

	// The envelope of 1 MB no longer fits kafka.max_record_bytes (1 MiB): it is dead-lettered,
	// cut to fit, with its original size in a header. The others are enveloped.
	envRecs := kf.WaitRecords(t, "poison_env", len(msgs)-1, 60*time.Second)
	for _, r := range envRecs {
		var e struct {
			Topic    string `json:"mqtt_topic"`
			Payload  string `json:"payload"`
			Encoding string `json:"payload_encoding"`
		}
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("envelope of %s is not JSON: %v", r.Key, err)
		}
		name := strings.TrimPrefix(e.Topic, "poison/")
		wantBase64 := name == "badutf8" || name == "binary"
		if (e.Encoding == "base64") != wantBase64 {
			t.Errorf("%s: payload_encoding %q", name, e.Encoding)
		}
		if !wantBase64 && e.Payload != string(payloads[name]) {
			t.Errorf("%s: payload changed in the envelope", name)
		}
	}
	big := kf.WaitRecords(t, "poison_env_dlq", 1, 30*time.Second)[0]
	if string(big.Key) != "poison/1mb" || header(big, "tributary.error.kind") != "record_too_large" ||
		header(big, "tributary.payload.original_bytes") != "1048576" || !bytes.HasPrefix(payloads["1mb"], big.Value) {
		t.Errorf("dead letter of the 1 MB envelope: key %q, %d bytes, headers %v", big.Key, len(big.Value), big.Headers)
	}
	// The conformance guest echoes "echo" and rejects everything else (the 1 MB one may time
	// out instead): five dead letters carrying their payload unchanged (or cut to fit), one record.
	dead := kf.WaitRecords(t, "poison_chain_dlq", len(msgs)-1, 60*time.Second)
	for _, r := range dead {
		name := strings.TrimPrefix(string(r.Key), "poison/")
		kind := header(r, "tributary.error.kind")
		if !bytes.HasPrefix(payloads[name], r.Value) || (name != "1mb" && len(r.Value) != len(payloads[name])) ||
			(kind != "rejected" && !(name == "1mb" && kind == "timeout")) || len(header(r, "tributary.error")) > 1024 {
			t.Errorf("dead letter of %s: %d bytes, kind %q, error header of %d bytes", name, len(r.Value), kind, len(header(r, "tributary.error")))
		}
	}
	if r := kf.WaitRecords(t, "poison_chain", 1, 30*time.Second)[0]; string(r.Value) != "echo" {
		t.Errorf("chain record %q", r.Value)
	}
	// A message the plugin traps on is dead-lettered as a trap; the next one goes through.
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{
		{Topic: "poison/trap", Payload: []byte("exit:3")}, {Topic: "poison/after", Payload: []byte("echo")}})
	trapped := false
	for _, r := range kf.WaitRecords(t, "poison_chain_dlq", len(msgs), 60*time.Second) {
		trapped = trapped || string(r.Key) == "poison/trap" && header(r, "tributary.error.kind") == "trap"
	}
	if !trapped {
		t.Error("no dead letter of kind trap for poison/trap")
	}
	after := false
	for _, r := range kf.WaitRecords(t, "poison_chain", 2, 30*time.Second) {
		after = after || string(r.Key) == "poison/after"
	}
	if !after {
		t.Error("the message after the trap was not produced")
	}
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		if s := gw.Stats(); s.InFlight != 0 || !s.MQTTConnected {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
}

// TestKafkaRefusesLargeRecord: Kafka's own limit is below kafka.max_record_bytes. The record
// and then its dead letter are refused as too large; the dead letter is cut until it fits.
func TestKafkaRefusesLargeRecord(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "large/#", 1, "large"))
	cfg.Kafka.MaxRecordBytes = 8 << 20 // more than kfake's 1 MB
	cfg.Kafka.BatchMaxBytes = 8 << 20
	startGateway(t, cfg)
	payload := bytes.Repeat([]byte("z"), 3<<20)
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: "large/a", Payload: payload}, {Topic: "large/a", Payload: []byte("ok")}})
	// Kafka refuses a whole batch: the small record batched with the large one may be
	// dead-lettered with it. Either way each message is somewhere, and the large one is cut.
	var big []byte
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		dls, err := kf.FetchRecords(context.Background(), "large_dlq")
		if err != nil {
			return err
		}
		oks, err := kf.FetchRecords(context.Background(), "large")
		if err != nil {
			return err
		}
		if len(dls)+len(oks) < 2 {
			return fmt.Errorf("%d dead letters and %d records", len(dls), len(oks))
		}
		for _, r := range dls {
			if header(r, "tributary.payload.original_bytes") == "3145728" {
				big = r.Value
				if header(r, "tributary.error.kind") != "record_too_large" || len(r.Value) >= 1<<20 || !bytes.HasPrefix(payload, r.Value) {
					t.Fatalf("dead letter of the large record: %d bytes, headers %v", len(r.Value), r.Headers)
				}
			}
		}
		return nil
	})
	if big == nil {
		t.Fatal("no dead letter for the 3 MB record")
	}
}
