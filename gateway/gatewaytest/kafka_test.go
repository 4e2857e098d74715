package gatewaytest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produce writes msgs to topic keyed by MQTT topic, as the gateway would, and
// waits for every ack.
func produce(t *testing.T, cl *kgo.Client, topic string, msgs []PublishMsg) {
	t.Helper()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(m.Topic), Value: m.Payload}
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %q: %v", topic, err)
	}
}

func TestKafka_RecordsReadsBackEverything(t *testing.T) {
	kf := Kafka(t, kfake.SeedTopics(3, "sensors"))
	cl := kf.Client(t)
	msgs := Messages(Topics("s/%d", 7), 500)
	produce(t, cl, "sensors", msgs[:300])
	produce(t, cl, "sensors", msgs[300:])

	got := kf.Records(t, "sensors")
	if err := CheckDelivery(msgs, got).ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
	parts := map[int32]bool{}
	for i, r := range got {
		parts[r.Partition] = true
		if i > 0 {
			prev := got[i-1]
			if r.Partition < prev.Partition || (r.Partition == prev.Partition && r.Offset <= prev.Offset) {
				t.Fatalf("record %d (p%d@%d) after p%d@%d: want partition then offset order",
					i, r.Partition, r.Offset, prev.Partition, prev.Offset)
			}
		}
	}
	if len(parts) < 2 {
		t.Fatalf("records in %d partitions, want the 3-partition topic to be spread", len(parts))
	}
}

func TestKafka_RecordsOfMissingTopic(t *testing.T) {
	kf := Kafka(t)
	if got := kf.Records(t, "nope"); len(got) != 0 {
		t.Fatalf("Records of a missing topic = %d records, want none", len(got))
	}
	// Reading must not have auto-created it.
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("nope")
	meta.Topics = append(meta.Topics, mt)
	resp, err := meta.RequestWith(t.Context(), kf.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != kerr.UnknownTopicOrPartition {
		t.Fatalf("topic after Records: error %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func TestKafka_WaitRecords(t *testing.T) {
	kf := Kafka(t)
	cl := kf.Client(t, kgo.AllowAutoTopicCreation())
	msgs := Messages([]string{"a", "b"}, 200)
	done := make(chan struct{})
	go func() { // produce while the test waits
		defer close(done)
		for i := range msgs {
			cl.Produce(context.Background(), &kgo.Record{Topic: "out", Key: []byte(msgs[i].Topic), Value: msgs[i].Payload}, nil)
		}
	}()
	got := kf.WaitRecords(t, "out", len(msgs), 30*time.Second)
	<-done
	if err := CheckDelivery(msgs, got).ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
}

// TestKafka_FaultInjection shows the ControlKey pattern the gateway tests use:
// fail produce twice with a retryable error, count the attempts, and still
// read every record back.
func TestKafka_FaultInjection(t *testing.T) {
	kf := Kafka(t, kfake.SeedTopics(1, "t"))
	c := kf.Cluster()
	var produces atomic.Int32
	failures := 2 // only touched by the control function, on the cluster's goroutine
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		produces.Add(1)
		if failures == 0 {
			return nil, nil, false
		}
		failures--
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	msgs := Messages([]string{"x"}, 5)
	produce(t, kf.Client(t, kgo.MetadataMinAge(10*time.Millisecond)), "t", msgs)
	if err := CheckDelivery(msgs, kf.Records(t, "t")).ExactlyOnce(); err != nil {
		t.Fatal(err)
	}
	if n := produces.Load(); n < 3 {
		t.Fatalf("%d produce requests, want at least 3 (2 failed + 1)", n)
	}
}

func TestKafka_RestartKeepsAddresses(t *testing.T) {
	kf := Kafka(t, kfake.NumBrokers(2), kfake.DataDir(t.TempDir()), kfake.SeedTopics(2, "t"))
	before := kf.Brokers()
	msgs := Messages([]string{"x", "y"}, 10)
	produce(t, kf.Client(t), "t", msgs)
	kf.Restart(t)
	after := kf.Brokers()
	slices.Sort(before)
	slices.Sort(after)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("brokers %v before restart, %v after", before, after)
	}
	if err := CheckDelivery(msgs, kf.Records(t, "t")).ExactlyOnce(); err != nil {
		t.Fatalf("after restart with DataDir: %v", err)
	}
}
