package kafkasink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/delivery"
)

// ladderMessage is a message whose user properties (about 1,100 bytes) and payload (4,000
// bytes) each outweigh the rest of a dead letter.
func ladderMessage() *Message {
	m := testMessage()
	m.Payload = bytes.Repeat([]byte("p"), 4000)
	for i := range 10 {
		m.UserProperties = append(m.UserProperties, Property{Key: "k" + strconv.Itoa(i), Value: strings.Repeat("v", 100)})
	}
	return m
}

// ladderStep names the step of the dead-letter ladder rec is on, from its dropped header.
func ladderStep(rec *kgo.Record) int {
	v, _ := header(rec, HeaderDropped)
	switch v {
	case "":
		return 0
	case "user_properties":
		return 1
	case "user_properties,payload":
		return 2
	case "user_properties,payload,headers":
		return 3
	}
	return -1
}

// TestDeadLetterLadder builds the dead letter of one message under every limit from its full
// size down to nothing: each record fits its limit until the minimal one, the steps only go
// down the ladder (user properties, then payload, then the other headers), and each step keeps
// what it promises.
func TestDeadLetterLadder(t *testing.T) {
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	m := ladderMessage()
	why := &Reason{Kind: KindRecordTooLarge, Stage: -1, Topic: "raw", Err: "record too large"}
	full := r.deadLetterRecord(m, why, 1<<20)
	if ladderStep(full) != 0 || !bytes.Equal(full.Value, m.Payload) || len(full.Headers) != 4+len(m.UserProperties)+4 {
		t.Fatalf("dead letter under no limit: step %d, %d payload bytes, headers %v", ladderStep(full), len(full.Value), full.Headers)
	}
	if _, ok := header(full, HeaderTruncatedBytes); ok {
		t.Fatal("a dead letter that fits says its payload was cut")
	}
	seen := map[int]int{} // step → how many limits
	prev := 0
	for limit := recordSize(full); limit >= 0; limit-- {
		rec := r.deadLetterRecord(m, why, limit)
		step := ladderStep(rec)
		if step < prev {
			t.Fatalf("limit %d: step %d after step %d: the ladder went back up", limit, step, prev)
		}
		prev = step
		seen[step]++
		if step != 3 && recordSize(rec) > limit {
			t.Fatalf("limit %d: step %d record of %d bytes", limit, step, recordSize(rec))
		}
		if rec.Topic != "dlq" || !bytes.HasPrefix(m.Payload, rec.Value) {
			t.Fatalf("limit %d: topic %q, payload not a prefix of the original", limit, rec.Topic)
		}
		cut := len(rec.Value) < len(m.Payload)
		if got, _ := header(rec, HeaderTruncatedBytes); (got == "4000") != cut {
			t.Fatalf("limit %d: %s = %q with %d of 4000 payload bytes", limit, HeaderTruncatedBytes, got, len(rec.Value))
		}
		_, props := header(rec, "k0")
		switch step {
		case 0:
			// The user properties stay while they leave the payload half the limit.
			if !props || (cut && len(rec.Value) < limit/2) {
				t.Fatalf("limit %d: step 0 with user properties %v and %d payload bytes", limit, props, len(rec.Value))
			}
		case 1:
			if props || len(rec.Value) == 0 {
				t.Fatalf("limit %d: step 1 with user properties %v and %d payload bytes", limit, props, len(rec.Value))
			}
		case 2:
			if props || len(rec.Value) != 0 {
				t.Fatalf("limit %d: step 2 with user properties %v and %d payload bytes", limit, props, len(rec.Value))
			}
		case 3:
			if recordSize(rec) > 400 {
				t.Fatalf("limit %d: minimal dead letter of %d bytes", limit, recordSize(rec))
			}
		default:
			t.Fatalf("limit %d: unknown %s %v", limit, HeaderDropped, rec.Headers)
		}
		for _, k := range []string{HeaderRoute, HeaderErrorKind, HeaderError, HeaderMQTTTopic} {
			if _, ok := header(rec, k); !ok {
				t.Fatalf("limit %d: step %d lacks %s", limit, step, k)
			}
		}
	}
	for step := range 4 {
		if seen[step] == 0 {
			t.Errorf("no limit gave step %d", step)
		}
	}
}

// TestDeadLetterMinimal: the last step of the ladder names the route, the error and the MQTT
// topic, all bounded, whatever their size.
func TestDeadLetterMinimal(t *testing.T) {
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	m := ladderMessage()
	m.MQTTTopic = strings.Repeat("t/", 2000)
	m.TopicBytes = []byte(m.MQTTTopic)
	why := &Reason{Kind: KindProduceFailed, Stage: 2, Plugin: "p", Version: "v", Topic: "raw", Err: strings.Repeat("e", 5000)}
	rec := r.deadLetterRecord(m, why, 10)
	if ladderStep(rec) != 3 || len(rec.Value) != 0 || len(rec.Key) > minimalTopicBytes || recordSize(rec) > 1024 {
		t.Fatalf("minimal dead letter: step %d, %d payload bytes, key of %d bytes, %d bytes in all", ladderStep(rec), len(rec.Value), len(rec.Key), recordSize(rec))
	}
	want := map[string]string{HeaderRoute: "r1", HeaderErrorKind: KindProduceFailed, HeaderTruncatedBytes: "4000",
		HeaderDropped: "user_properties,payload,headers"}
	for k, v := range want {
		if got, _ := header(rec, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got, _ := header(rec, HeaderMQTTTopic); got != string(rec.Key) || !strings.HasPrefix(got, "t/t/") {
		t.Errorf("%s = %q, key %q", HeaderMQTTTopic, got, rec.Key)
	}
	if got, _ := header(rec, HeaderError); len(got) > minimalErrorBytes || !strings.HasPrefix(got, "eee") {
		t.Errorf("%s of %d bytes", HeaderError, len(got))
	}
	if len(rec.Headers) != len(want)+2 {
		t.Errorf("minimal dead letter headers %v", rec.Headers)
	}
}

// fakeKafka stands in for franz-go in a sink: fail decides each record's fate, and every
// attempt is recorded. The promise runs on its own goroutine, as franz-go's does.
type fakeKafka struct {
	fail func(rec *kgo.Record) error

	mu       sync.Mutex
	attempts []int // record sizes, in order
}

func (k *fakeKafka) send(_ context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	k.mu.Lock()
	k.attempts = append(k.attempts, recordSize(rec))
	k.mu.Unlock()
	err := k.fail(rec)
	go promise(rec, err)
}

func (k *fakeKafka) tries() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]int(nil), k.attempts...)
}

// fakeSink returns a sink producing through k, with its retrier running until the test ends.
func fakeSink(t *testing.T, k *fakeKafka, base, ceil time.Duration) *Sink {
	s := &Sink{maxBytes: 1 << 20, log: slog.New(slog.DiscardHandler), metrics: testMetrics(),
		retry: newDeadLetterRetrier(), send: k.send, retryBase: base, retryMax: ceil}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { s.retry.run(context.Background(), s, stop); close(done) }()
	t.Cleanup(func() { close(stop); <-done })
	return s
}

// countedMessage returns m counted once in its delivery, acks counting its acknowledgements.
func countedMessage(m *Message, acks *atomic.Int32) *Message {
	tr := delivery.NewTracker(1, 1<<30, func(*Message) { acks.Add(1) })
	tr.TryAcquire(1)
	d := new(delivery.Delivery[*Message])
	tr.Track(d, m, 1)
	m.Delivery = d
	m.Delivery.Add(1)
	return m
}

// TestDeadLetterRefusedShrinks: Kafka refuses as too large every record over 8 KB, below
// kafka.max_record_bytes. Each dead letter after a refusal is smaller than the one refused, a
// handful of tries end in an accepted dead letter, and the message is acknowledged once.
func TestDeadLetterRefusedShrinks(t *testing.T) {
	k := &fakeKafka{fail: func(rec *kgo.Record) error {
		if recordSize(rec) > 8<<10 {
			return kerr.MessageTooLarge
		}
		return nil
	}}
	s := fakeSink(t, k, 0, 0)
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	m := testMessage()
	m.Payload = bytes.Repeat([]byte("p"), 20<<10)
	m.UserProperties = []Property{{Key: "big", Value: strings.Repeat("u", 50<<10)}}
	var acks atomic.Int32
	s.deadLetter(context.Background(), r, countedMessage(m, &acks), &Reason{Kind: KindRecordTooLarge, Stage: -1, Err: "too large"})
	deadline := time.Now().Add(10 * time.Second)
	for acks.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tries := k.tries()
	if acks.Load() != 1 || r.counters.(*testCounters).deadLettered.Load() != 1 {
		t.Fatalf("acks %d, dead letters %d after tries of %v bytes", acks.Load(), r.counters.(*testCounters).deadLettered.Load(), tries)
	}
	if len(tries) > 6 || tries[len(tries)-1] > 8<<10 {
		t.Fatalf("tries of %v bytes", tries)
	}
	for i := 1; i < len(tries); i++ {
		if tries[i] >= tries[i-1] {
			t.Fatalf("try %d of %d bytes after a refusal of %d: tries %v", i, tries[i], tries[i-1], tries)
		}
	}
}

// TestDeadLetterRefusedToTheEnd: Kafka refuses every record as too large, even the minimal
// dead letter. The ladder ends, then the minimal record is retried with backoff: a handful of
// tries over the window, not a tight loop, and the message stays unacknowledged.
func TestDeadLetterRefusedToTheEnd(t *testing.T) {
	k := &fakeKafka{fail: func(*kgo.Record) error { return kerr.MessageTooLarge }}
	s := fakeSink(t, k, 20*time.Millisecond, 100*time.Millisecond)
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	m := ladderMessage()
	var acks atomic.Int32
	s.deadLetter(context.Background(), r, countedMessage(m, &acks), &Reason{Kind: KindRecordTooLarge, Stage: -1, Err: "too large"})
	time.Sleep(600 * time.Millisecond)
	tries := k.tries()
	// The ladder (a handful of halvings) then at most one try per 16 ms (the first backoff
	// less its jitter) over 600 ms; a tight loop makes thousands.
	if len(tries) < 6 || len(tries) > 60 || acks.Load() != 0 {
		t.Fatalf("%d tries (%v bytes), %d acks", len(tries), tries[:min(len(tries), 20)], acks.Load())
	}
	last := tries[len(tries)-1]
	for i, n := range tries[1:] {
		if n > tries[i] {
			t.Fatalf("try %d of %d bytes after a refusal of %d", i+1, n, tries[i])
		}
	}
	if tries[len(tries)-2] != last {
		t.Fatalf("the ladder did not end on the minimal record: tries %v", tries)
	}
}

// TestRetryBackoff: a record, or a dead letter, whose produce fails with an error that says
// nothing against it is produced again after a wait that starts at about a second and doubles
// up to 30 s, jittered. The waits are read off the retry queue, not measured.
func TestRetryBackoff(t *testing.T) {
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	for _, tc := range []struct {
		name  string
		err   error
		start func(s *Sink, m *Message)
	}{
		{"record", io.EOF, func(s *Sink, m *Message) {
			rec, why := r.record(m, &Output{Payload: m.Payload}, 1<<20)
			if why != nil {
				t.Fatal(why.Err)
			}
			s.produce(context.Background(), r, m, rec)
		}},
		{"dead letter", kerr.TopicAuthorizationFailed, func(s *Sink, m *Message) {
			s.deadLetter(context.Background(), r, m, &Reason{Kind: KindBadTopic, Stage: -1, Err: "bad"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			promises := make(chan struct{}, 1)
			k := &fakeKafka{fail: func(*kgo.Record) error { return tc.err }}
			s := &Sink{maxBytes: 1 << 20, log: slog.New(slog.DiscardHandler), metrics: testMetrics(),
				retry: newDeadLetterRetrier()}
			s.send = func(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
				k.send(ctx, rec, func(rec *kgo.Record, err error) { promise(rec, err); promises <- struct{}{} })
			}
			var acks atomic.Int32
			m := countedMessage(testMessage(), &acks)
			tc.start(s, m)
			want := time.Second
			for i := range 8 {
				<-promises
				s.retry.mu.Lock()
				if len(s.retry.queue) != 1 {
					t.Fatalf("retry %d: %d jobs queued", i, len(s.retry.queue))
				}
				j := s.retry.queue[0]
				s.retry.queue = s.retry.queue[:0]
				s.retry.mu.Unlock()
				// The job was queued just now: its wait is at less than the slack from now.
				wait := time.Until(j.at)
				const slack = 500 * time.Millisecond
				if wait < want*4/5-slack || wait > want*6/5 {
					t.Fatalf("retry %d after %v, want %v ±20%%", i, wait, want)
				}
				want = min(2*want, 30*time.Second)
				if j.rec != nil {
					s.produceTry(context.Background(), j.r, j.m, j.rec, j.try)
				} else {
					s.deadLetter(context.Background(), j.r, j.m, j.why)
				}
			}
			if acks.Load() != 0 {
				t.Fatal("a message whose records failed was acknowledged")
			}
		})
	}
}

// TestRetryBackoffWindow runs the retrier with a 10 ms backoff base against a Kafka that fails
// every record: over 500 ms the record is tried a handful of times, not in a loop.
func TestRetryBackoffWindow(t *testing.T) {
	k := &fakeKafka{fail: func(*kgo.Record) error { return io.EOF }}
	s := fakeSink(t, k, 10*time.Millisecond, 80*time.Millisecond)
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	var acks atomic.Int32
	m := countedMessage(testMessage(), &acks)
	rec, why := r.record(m, &Output{Payload: m.Payload}, 1<<20)
	if why != nil {
		t.Fatal(why.Err)
	}
	s.produce(context.Background(), r, m, rec)
	time.Sleep(500 * time.Millisecond)
	// Waits of 10, 20, 40, 80, 80… ms (±20%): about 9 tries in 500 ms.
	if n := len(k.tries()); n < 3 || n > 20 || acks.Load() != 0 {
		t.Fatalf("%d tries in 500 ms, %d acks", n, acks.Load())
	}
}

// TestRetryKeepsKeyOrder: a record retried after a shorter backoff does not overtake one of
// the same topic and key queued before it; other keys are not held up.
func TestRetryKeepsKeyOrder(t *testing.T) {
	q := newDeadLetterRetrier()
	r := testRoute(t, config.Destination{Topic: "raw"}, "dlq")
	m := testMessage()
	rec := func(key string) *kgo.Record { return &kgo.Record{Topic: "raw", Key: []byte(key)} }
	q.enqueueRecord(r, m, rec("a"), 3, 8*time.Second) // a record on its third retry
	q.enqueueRecord(r, m, rec("a"), 1, time.Second)   // the next of that key, on its first
	q.enqueueRecord(r, m, rec("b"), 1, time.Second)
	if a1, a2, b := q.queue[0].at, q.queue[1].at, q.queue[2].at; a2.Before(a1) || !b.Before(a1) {
		t.Fatalf("retries at +%v, +%v (same key) and +%v (another key)", time.Until(a1), time.Until(a2), time.Until(b))
	}
}
