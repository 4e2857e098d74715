package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RecordsTimeout bounds one [KafkaCluster.Records] call.
const RecordsTimeout = 30 * time.Second

// KafkaCluster is an in-process franz-go kfake cluster started by [Kafka].
// Its methods are safe for concurrent use; those taking a testing.TB fail the
// test with t.Fatal and must be called from the test goroutine.
type KafkaCluster struct {
	opts []kfake.Opt
	mu   sync.Mutex
	c    *kfake.Cluster
}

// Kafka starts a kfake cluster with one broker and automatic topic creation
// (10 partitions per auto-created topic, kfake's default), then applies opts,
// so opts override those defaults (kfake.NumBrokers(3)) and add topics
// (kfake.SeedTopics(6, "sensors")). Cleanup closes it.
func Kafka(t testing.TB, opts ...kfake.Opt) *KafkaCluster {
	t.Helper()
	k := &KafkaCluster{opts: append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}, opts...)}
	c, err := kfake.NewCluster(k.opts...)
	if err != nil {
		t.Fatalf("kfake: new cluster: %v", err)
	}
	k.c = c
	t.Cleanup(func() { k.Cluster().Close() })
	return k
}

// Cluster returns the running kfake cluster, for fault injection with
// ControlKey, SleepControl and KeepControl. After [KafkaCluster.Restart] it
// returns the new cluster; controls set on the old one are gone.
func (k *KafkaCluster) Cluster() *kfake.Cluster {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.c
}

// Brokers returns the brokers' host:port addresses, for kgo.SeedBrokers or
// the gateway's kafka.brokers. They stay the same across Restart.
func (k *KafkaCluster) Brokers() []string { return k.Cluster().ListenAddrs() }

// Restart closes the cluster and starts a new one with the same options on
// the same ports, as a Kafka outage would look to clients. Data survives only
// if the options include kfake.DataDir.
func (k *KafkaCluster) Restart(t testing.TB) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	var ports []int
	for _, a := range k.c.ListenAddrs() {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatalf("kfake: restart: broker address %q: %v", a, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("kfake: restart: broker address %q: %v", a, err)
		}
		ports = append(ports, n)
	}
	k.c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := poll(ctx, func() error {
		c, err := kfake.NewCluster(append(slices.Clone(k.opts), kfake.Ports(ports...))...)
		if err != nil {
			return err
		}
		k.c = c
		return nil
	})
	if err != nil {
		t.Fatalf("kfake: restart on ports %v: %v", ports, err)
	}
}

// Client returns a kgo client seeded with the cluster's brokers plus opts,
// closed on cleanup. For producing test input or consuming in a test.
func (k *KafkaCluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Records returns every record currently in topic, read from the start of
// each partition up to the high watermark it had when Records was called:
// partition by partition in partition order, each in offset order. A topic
// that does not exist yet has no records. It fails the test on any error or
// after [RecordsTimeout].
func (k *KafkaCluster) Records(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RecordsTimeout)
	defer cancel()
	recs, err := k.FetchRecords(ctx, topic)
	if err != nil {
		t.Fatalf("kafka topic %q: %v", topic, err)
	}
	return recs
}

// WaitRecords polls topic until it holds at least n records and returns them
// all (as [KafkaCluster.Records] orders them). It fails the test with the count
// it last saw if that takes longer than timeout.
func (k *KafkaCluster) WaitRecords(t testing.TB, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	WaitFor(t, timeout, func() error {
		var err error
		ctx, cancel := context.WithTimeout(context.Background(), RecordsTimeout)
		defer cancel()
		if recs, err = k.FetchRecords(ctx, topic); err != nil {
			return fmt.Errorf("kafka topic %q: %w", topic, err)
		}
		if len(recs) < n {
			return fmt.Errorf("kafka topic %q: %d records, want at least %d", topic, len(recs), n)
		}
		return nil
	})
	return recs
}

// FetchRecords is [KafkaCluster.Records] returning its error instead of
// failing the test, for use inside [WaitFor]. It uses fresh clients that never
// create the topic and join no group.
func (k *KafkaCluster) FetchRecords(ctx context.Context, topic string) ([]*kgo.Record, error) {
	seeds := kgo.SeedBrokers(k.Brokers()...)
	admin, err := kgo.NewClient(seeds)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	defer admin.Close()
	ends, err := endOffsets(ctx, admin, topic)
	if err != nil || len(ends) == 0 {
		return nil, err
	}

	start := make(map[int32]kgo.Offset, len(ends))
	for p := range ends {
		start[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(seeds,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	defer cl.Close()

	got := make(map[int32][]*kgo.Record, len(ends))
	next := make(map[int32]int64, len(ends))
	for {
		pending := 0
		for p, end := range ends {
			if next[p] < end {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading to the high watermarks %v, reached %v: %w", ends, next, err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("partition %d: %w", p, err))
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				got[r.Partition] = append(got[r.Partition], r)
			}
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		})
	}

	parts := make([]int32, 0, len(got))
	for p := range got {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, got[p]...)
	}
	return out, nil
}

// endOffsets returns the high watermark of each non-empty partition of topic,
// or nothing if the topic does not exist.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	meta.AllowAutoTopicCreation = false
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata: %d topics in the response, want 1", len(mresp.Topics))
	}
	mtr := mresp.Topics[0]
	if err := kerr.ErrorForCode(mtr.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, nil
		}
		return nil, fmt.Errorf("metadata: %w", err)
	}

	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mtr.Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // latest: the high watermark
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	lresp, err := lo.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	ends := make(map[int32]int64)
	for _, rt := range lresp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets: partition %d: %w", rp.Partition, err)
			}
			if rp.Offset > 0 {
				ends[rp.Partition] = rp.Offset
			}
		}
	}
	return ends, nil
}
