package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// TestKeepAliveSurvivesBackpressure holds the gateway's in-flight budget full for several
// keep-alive periods (Kafka paused behind a proxy) while more QoS 0 messages arrive than paho
// buffers (QoS 0 is not bounded by Receive Maximum): the broker's PINGRESP then waits unread
// behind them, and the connection must stay up anyway. A reconnect would lose the QoS 0
// messages paho had buffered and redeliver QoS 1 ones. Once Kafka answers again everything
// arrives exactly once.
func TestKeepAliveSurvivesBackpressure(t *testing.T) {
	forEachProtocol(t, testKeepAliveSurvivesBackpressure)
}

func testKeepAliveSurvivesBackpressure(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf, kafkaLink := gatewaytest.KafkaBehindProxy(t)
	cfg := testConfig(t, mq.URL(), kf, route("r", "ka/#", 0, "kept_alive"))
	cfg.MQTT.KeepAlive = time.Second
	if protocol == config.Protocol5 {
		cfg.MQTT.ReceiveMaximum = 100 // also the size of paho's buffer of received messages
	}
	cfg.MQTT.Protocol = protocol
	cfg.Flow.MaxInFlight = 50
	cfg.Kafka.RequestTimeout = 30 * time.Second
	gw := startGateway(t, cfg)

	kafkaLink.Pause()
	msgs := gatewaytest.Messages(gatewaytest.Topics("ka/%d", 10), 2000)
	gatewaytest.Publish(t, mq.URL(), 0, msgs)
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if n := gw.Stats().InFlight; n < cfg.Flow.MaxInFlight-1 {
			return fmt.Errorf("%d in flight, waiting for the budget to fill", n)
		}
		return nil
	})
	time.Sleep(4 * time.Second) // four keep-alive periods of held-back reading
	kafkaLink.Resume()
	if err := kf.WaitDelivered(t, "kept_alive", msgs, 60*time.Second).ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
	m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "tributary_mqtt_connects_total ") && line != "tributary_mqtt_connects_total 1" {
			t.Errorf("the MQTT connection dropped while reading was held back: %s", line)
		}
	}
}

// TestKafkaRejectingConnectionsIsRetried puts Kafka behind a proxy that accepts connections
// and closes them at once (a load balancer whose backend is gone). franz-go gives up on such
// records; they must be produced again once Kafka is back, not dead-lettered.
func TestKafkaRejectingConnectionsIsRetried(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf, kafkaLink := gatewaytest.KafkaBehindProxy(t)
	gw := startGateway(t, testConfig(t, mq.URL(), kf, route("r", "rej/#", 1, "rejected_then_ok")))

	warm := gatewaytest.Messages([]string{"rej/warm"}, 10) // topic metadata and producer id loaded
	gatewaytest.Publish(t, mq.URL(), 1, warm)
	kf.WaitRecords(t, "rejected_then_ok", len(warm), 30*time.Second)

	kafkaLink.Reject()
	msgs := gatewaytest.Messages(gatewaytest.Topics("rej/%d", 10), 300)
	gatewaytest.Publish(t, mq.URL(), 1, msgs)
	// The rejection must have met the records before Kafka comes back. Who holds them then
	// depends on timing: franz-go fails the records it never wrote to a connection, and the
	// sink produces them again (the path this test was written for); a batch already written
	// to a connection Reject cut franz-go cannot fail (the idempotent producer does not know
	// whether Kafka got it), so it keeps retrying that one itself. Either way nothing may be
	// lost or dead-lettered. TestRefusesRecord pins which errors the sink retries.
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		m := httpGet(t, "http://"+gw.AdminAddr()+"/metrics")
		if containsLine(m, `tributary_kafka_errors_total{kind="retried"}`, 1) || containsLine(m, `tributary_kafka_errors_total{kind="record"}`, 1) {
			return nil
		}
		if strings.Contains(gw.logs.String(), "produce partition load error") {
			return nil // franz-go is retrying batches it already wrote
		}
		return fmt.Errorf("no produce has met the rejection yet")
	})
	kafkaLink.Accept()
	if err := kf.WaitDelivered(t, "rejected_then_ok", append(warm, msgs...), 60*time.Second).AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
	if recs, err := kf.FetchRecords(context.Background(), "rejected_then_ok_dlq"); err == nil && len(recs) > 0 {
		t.Fatalf("%d good messages dead-lettered while Kafka rejected connections: %s", len(recs), header(recs[0], gateway.HeaderError))
	}
}
