package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// poisonPill is one MQTT v5 message whose user properties alone (20 of 60,000 bytes: a
// property is at most 65,535) exceed Kafka's 1 MB record limit.
func poisonPill(topic string) gatewaytest.PublishMsg {
	m := gatewaytest.PublishMsg{Topic: topic, Payload: []byte("poison")}
	for i := range 20 {
		m.UserProperties = append(m.UserProperties, gatewaytest.UserProperty{Key: fmt.Sprintf("p%02d", i), Value: strings.Repeat("u", 60_000)})
	}
	return m
}

// TestPoisonPill_UserProperties (issue #13): a message whose user properties alone are larger
// than a record may be. Its record is too large and so is a dead letter keeping every header:
// the dead letter drops the user properties, says so, and Kafka takes it; the message is
// acknowledged and the messages after it on the same topic reach Kafka in order. Produce
// failures stay a handful (the old sink retried the refused dead letter at once, thousands of
// times a second, and the session stalled).
//
// With the gateway's limit (kafka.max_record_bytes, 1 MiB) the sizes are known before
// producing; with only the broker's (kfake's 1 MB, under a max_record_bytes of 8 MiB) the
// record and then the full dead letter are refused before the smaller one is taken.
func TestPoisonPill_UserProperties(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	for _, tc := range []struct {
		name        string
		brokerLimit bool // max_record_bytes above the broker's limit
		maxErrors   float64
	}{
		{"gateway limit", false, 0},
		{"broker limit", true, 5},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			kf := gatewaytest.Kafka(t)
			topic := "pill_" + strings.ReplaceAll(tc.name, " ", "_")
			cfg := testConfig(t, mq.URL(), kf, route("r", topic+"/#", 1, topic))
			if tc.brokerLimit {
				cfg.Kafka.MaxRecordBytes = 8 << 20
				cfg.Kafka.BatchMaxBytes = 8 << 20
			}
			gw := startGateway(t, cfg)
			ordinary := gatewaytest.Messages([]string{topic + "/dev"}, 50)
			pill := poisonPill(topic + "/dev")
			if tc.brokerLimit {
				// Kafka refuses a whole batch: messages batched with the pill's record would
				// be dead-lettered with it (documented). Send them once it is dead-lettered.
				gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{pill})
				kf.WaitRecords(t, topic+"_dlq", 1, 30*time.Second)
				gatewaytest.Publish(t, mq.URL(), 1, ordinary)
			} else {
				gatewaytest.Publish(t, mq.URL(), 1, append([]gatewaytest.PublishMsg{pill}, ordinary...))
			}

			dl := kf.WaitRecords(t, topic+"_dlq", 1, 30*time.Second)
			if len(dl) != 1 {
				t.Fatalf("%d dead letters, want 1", len(dl))
			}
			d := dl[0]
			if string(d.Key) != topic+"/dev" || string(d.Value) != "poison" ||
				header(d, "tributary.dead_letter.dropped") != "user_properties" ||
				header(d, "tributary.error.kind") != "record_too_large" || header(d, "p00") != "" ||
				header(d, "mqtt.topic") != topic+"/dev" || header(d, "tributary.route") != "r" {
				t.Errorf("dead letter of the pill: key %q, value %q, headers %d", d.Key, d.Value, len(d.Headers))
				for _, h := range d.Headers {
					t.Logf("  %s: %.60q", h.Key, h.Value)
				}
			}
			rep := kf.WaitDelivered(t, topic, ordinary, 30*time.Second)
			if err := rep.ExactlyOnce(); err != nil {
				t.Fatal(err)
			}
			// Everything acknowledged: the pill did not stall the session.
			gatewaytest.WaitFor(t, 15*time.Second, func() error {
				if s := gw.Stats(); s.InFlight != 0 || !s.MQTTConnected {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			// Produce failures are bounded: let a tight loop show itself, then count.
			time.Sleep(time.Second)
			if n, _ := metricSum(t, gw, "tributary_kafka_errors_total"); n > tc.maxErrors {
				t.Fatalf("%v produce failures, want at most %v", n, tc.maxErrors)
			}
			if n := len(kf.Records(t, topic+"_dlq")); n != 1 {
				t.Fatalf("%d dead letters, want 1", n)
			}
		})
	}
}
