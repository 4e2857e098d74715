// Package gatewaytest starts the real parts that Tributary's integration tests
// run against, in the spirit of net/http/httptest: every helper takes a
// testing.TB, registers its own t.Cleanup and fails the test with a message
// that says what went wrong and how to fix it.
//
// What it owns:
//
//   - [Mosquitto]: a real Mosquitto broker on a free loopback port, with
//     restart ([Broker.Stop], [Broker.Kill], [Broker.Start]), persistence and
//     a password file. Without the binary the test is skipped with install
//     instructions, or fails when TRIBUTARY_REQUIRE_MOSQUITTO=1 (as in CI).
//     The process itself is gateway/gatewaytest/mosquitto, which
//     `tributary bench` uses too.
//   - [Kafka]: an in-process franz-go kfake cluster, with [KafkaCluster.Records]
//     and [KafkaCluster.WaitRecords] to read back what the gateway produced.
//   - [Publisher] and [Publish]: an MQTT v5 publisher (paho.golang) that sends
//     many messages fast while keeping each topic's order, plus [Topics],
//     [Messages] and [Payload] to generate deterministic traffic.
//   - [CheckDelivery]: loss, duplicate and per-topic order accounting of what
//     reached Kafka against what was published.
//   - [Proxy]: a TCP proxy that can cut, reject, blackhole, pause and delay
//     a connection; it is gateway/gatewaytest/faultproxy, which `tributary
//     bench --mode soak` uses too.
//   - [WaitFor], [FreePort] and [BuildBinary].
//   - gateway/gatewaytest/schemaregistry: a Confluent-compatible Schema
//     Registry on a loopback port, for the Schema Registry encoding's tests
//     and `tributary dev`.
//
// It is an ordinary (non-_test) package so that tests of several packages can
// share it, but nothing outside tests should import it.
//
// # Import boundaries
//
// gatewaytest may import gateway/config, gateway/mqtttopic and its own
// subpackages (faultproxy, mosquitto: standard library only), and must never
// import the gateway package itself: in-package tests of gateway import
// gatewaytest, and the reverse edge would be a cycle. TestImportBoundaries in
// this package checks every package of the module with go list against the
// import table of ARCHITECTURE.md at the module's root.
//
// # Entry points
//
// A typical end-to-end test:
//
//	mq := gatewaytest.Mosquitto(t)
//	kf := gatewaytest.Kafka(t, kfake.SeedTopics(6, "sensors"))
//	// ... start the gateway against mq.URL() and kf.Brokers() ...
//	msgs := gatewaytest.Messages(gatewaytest.Topics("building/floor%d/sensor/%03d/temp", 5, 200), 5000)
//	gatewaytest.Publish(t, mq.URL(), 1, msgs)
//	gatewaytest.WaitFor(t, 30*time.Second, func() error {
//		recs, err := kf.FetchRecords(context.Background(), "sensors")
//		if err != nil {
//			return err
//		}
//		return gatewaytest.CheckDelivery(msgs, recs).AtLeastOnce()
//	})
package gatewaytest
