package gateway_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// topicID returns topic's ID as the cluster's metadata gives it.
func topicID(t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata of %s: %+v", topic, resp.Topics)
	}
	return resp.Topics[0].TopicID
}

// recreateTopic deletes topic and creates it again with partitions partitions, as a Kafka
// broker restarted without its volume (and the topic provisioned again) does.
func recreateTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 5000
	del.TopicNames = []string{topic}
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr(topic)
	del.Topics = append(del.Topics, dt)
	dresp, err := del.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("deleting %s: %v", topic, err)
	}
	for _, r := range dresp.Topics {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("deleting %s: %v", topic, err)
		}
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 5000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic = topic
	ct.NumPartitions = partitions
	ct.ReplicationFactor = 1
	create.Topics = append(create.Topics, ct)
	cresp, err := create.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("creating %s: %v", topic, err)
	}
	for _, r := range cresp.Topics {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("creating %s: %v", topic, err)
		}
	}
}

// TestTopicRecreated_ProducingResumes deletes a route's Kafka topic and creates it again while
// messages flow (issue #13). franz-go never adopts a recreated topic's new ID: it fails the
// topic's records with UNKNOWN_TOPIC_ID until the topic is purged from the client. The gateway
// must purge it and produce the records again, without a restart: every message published after
// the recreation arrives in the new topic, nothing acknowledged is missing (each message is in
// the old topic as it was before the deletion or in the new one), nothing is dead-lettered and
// nothing stays in flight.
func TestTopicRecreated_ProducingResumes(t *testing.T) {
	const topic = "recreated"
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(3, topic))
	cfg := testConfig(t, mq.URL(), kf, route("r", "rec/#", 1, topic))
	gw := startGateway(t, cfg)
	admin := kf.Client(t)

	first := gatewaytest.Messages(gatewaytest.Topics("rec/%d", 5), 100)
	gatewaytest.Publish(t, mq.URL(), 1, first)
	kf.WaitDelivered(t, topic, first, 30*time.Second)
	oldID := topicID(t, admin, topic)

	// A steady load (1000 msg/s) runs through the recreation. Kafka refuses produce requests
	// while the old topic is read back and replaced, so that what the old topic holds is known:
	// no record can be acknowledged into it after it was read.
	all := gatewaytest.Messages(gatewaytest.Topics("rec/%d", 5), 100+3000)
	flowing := all[len(first):]
	load := startFaultLoad(t, mq.URL(), 1, flowing)
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if n := load.sent.Load(); n < 500 {
			return fmt.Errorf("%d messages published", n)
		}
		return nil
	})
	refuse := refuseProduce(kf)
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if n := refuse.refused.Load(); n < 2 {
			return fmt.Errorf("%d produce requests refused", n)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before, err := kf.FetchRecords(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	recreateTopic(t, admin, topic, 3)
	if topicID(t, admin, topic) == oldID {
		t.Fatal("the recreated topic kept its ID: kfake did not recreate it")
	}
	after := int(load.sent.Load()) // messages published from here on are published after the recreation
	refuse.stop()

	load.wait(t, 60*time.Second)
	// WaitDelivered fails the test unless every message published after the recreation is in
	// the new topic (which also holds messages published earlier and produced again).
	kf.WaitDelivered(t, topic, flowing[after:], 60*time.Second)
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		fctx, fcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer fcancel()
		now, err := kf.FetchRecords(fctx, topic)
		if err != nil {
			return err
		}
		// Order is not kept across a recreation: records waiting for the old topic are
		// produced again after newer ones reached the new topic (README, "Kafka topics
		// deleted and created again").
		rep := gatewaytest.CheckDelivery(all, append(before, now...))
		if rep.Missing > 0 || rep.Unexpected > 0 {
			return fmt.Errorf("old topic before the deletion plus the new one: %s", rep)
		}
		t.Logf("old topic before the deletion plus the new one: %s", rep)
		return nil
	})
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		if n := gw.Stats().InFlight; n != 0 {
			return fmt.Errorf("%d messages still in flight", n)
		}
		return nil
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()
	if recs, err := kf.FetchRecords(dctx, topic+"_dlq"); err == nil && len(recs) > 0 {
		t.Fatalf("%d messages dead-lettered because their topic was recreated", len(recs))
	}
	if code, body := readyz(t, gw); code != 200 {
		t.Fatalf("/readyz after the recreation = %d %s", code, body)
	}
}

// produceRefusal makes kfake refuse every produce request (closing the connection) until stop.
type produceRefusal struct {
	down    atomic.Bool
	refused atomic.Int64
}

// refuseProduce starts refusing kf's produce requests.
func refuseProduce(kf *gatewaytest.KafkaCluster) *produceRefusal {
	r := &produceRefusal{}
	r.down.Store(true)
	kf.Cluster().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.Cluster().KeepControl()
		if !r.down.Load() {
			return nil, nil, false
		}
		r.refused.Add(1)
		return nil, fmt.Errorf("kafka refuses produce requests"), true
	})
	return r
}

// stop lets produce requests through again.
func (r *produceRefusal) stop() { r.down.Store(false) }
