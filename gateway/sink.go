package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tributary-gw/tributary/gateway/config"
)

// sink wraps the franz-go producer. Records are produced asynchronously; each promise settles
// one count of its message's delivery.
type sink struct {
	client   *kgo.Client
	maxBytes int
	log      *slog.Logger
	metrics  *metrics
	retry    *deadLetterRetrier
	purger   *topicPurger // purges topics Kafka recreated; see recreate.go
	// retryBase and retryMax override defaultRetryBase and defaultRetryMax (tests).
	retryBase, retryMax time.Duration
	// send overrides client.Produce (tests).
	send func(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error))
}

// The backoff of a record, or a dead letter, whose produce failed with an error that says
// nothing against the record: defaultRetryBase before the first retry, doubling up to
// defaultRetryMax, each wait jittered by ±20% so that messages failed together spread out.
const (
	defaultRetryBase = time.Second
	defaultRetryMax  = 30 * time.Second
)

// backoff returns the wait before retry n (from 0) of one record.
func (s *sink) backoff(n int) time.Duration {
	base, ceil := s.retryBase, s.retryMax
	if base <= 0 {
		base = defaultRetryBase
	}
	if ceil <= 0 {
		ceil = defaultRetryMax
	}
	d := base
	for i := 0; i < n && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	return d - d/5 + rand.N(2*(d/5)+1)
}

// clientProduce hands rec to franz-go (or to the test's send).
func (s *sink) clientProduce(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	if s.send != nil {
		s.send(ctx, rec, promise)
		return
	}
	s.client.Produce(ctx, rec, promise)
}

// kafkaOptions maps the kafka section of the configuration to franz-go options.
func kafkaOptions(kc config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(kc.Brokers...),
		kgo.ClientID(kc.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and needs acks=all
		kgo.ProducerLinger(kc.Linger),
		kgo.ProducerBatchMaxBytes(int32(kc.BatchMaxBytes)),
		kgo.ProduceRequestTimeout(kc.RequestTimeout),
		kgo.MaxBufferedRecords(100_000),
		// Ask for missing topics to be created; the broker's auto.create.topics.enable decides.
		kgo.AllowAutoTopicCreation(),
	}
	switch strings.ToLower(kc.Compression) {
	case "", "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("kafka.compression: unknown codec %q", kc.Compression)
	}
	if kc.TLS.Enabled {
		tc, err := kc.TLS.ClientConfig("kafka.tls")
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if kc.SASL.Mechanism != "" {
		m, err := saslMechanism(kc.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func saslMechanism(s config.SASL) (sasl.Mechanism, error) {
	pass := s.Password.Value()
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: unknown mechanism %q", s.Mechanism)
}

// produce hands one record of message m on route r to the producer. The caller has already
// counted it in m's delivery.
func (s *sink) produce(ctx context.Context, r *route, m *message, rec *kgo.Record) {
	s.produceTry(ctx, r, m, rec, 0)
}

// produceTry is produce for the retry-th time (from 0) of rec.
func (s *sink) produceTry(ctx context.Context, r *route, m *message, rec *kgo.Record, retry int) {
	start := time.Now()
	s.clientProduce(ctx, rec, func(rec *kgo.Record, err error) {
		if err == nil {
			s.metrics.produceLatency.Observe(time.Since(start).Seconds())
			r.counters.out.Add(1)
			r.counters.progress.Acked()
			m.delivery.Done()
			return
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			return // stopping: the message stays unacknowledged and the broker redelivers it
		}
		if recreatedTopic(err) {
			s.purger.note(rec.Topic, start) // then the retry below reaches the new topic
		}
		if !refusesRecord(err) {
			// A connection-level failure franz-go gave up on (a broker that closes connections
			// as they open, say) says nothing about the record: produce it again, keeping the
			// message unacknowledged, rather than dead-letter a good message.
			s.metrics.kafkaErrors.WithLabelValues("retried").Inc()
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka produce failed; retrying the record",
				slog.String("route", r.name), slog.String("topic", rec.Topic), slog.String("error", err.Error()))
			again := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Timestamp: rec.Timestamp}
			s.retry.enqueueRecord(r, m, again, retry+1, s.backoff(retry))
			return
		}
		s.metrics.kafkaErrors.WithLabelValues("record").Inc()
		why := &deadReason{kind: KindProduceFailed, stage: -1, topic: rec.Topic, err: err.Error()}
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			why.kind = KindRecordTooLarge
		}
		// The promise must not produce inline: hand the dead letter to the retrier.
		s.retry.enqueue(r, m, why)
	})
}

// recordRefusals are the Kafka errors that refuse a record for good, for what it is or where
// it goes: its message is dead-lettered. Every other error is retried.
var recordRefusals = []error{
	kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidTopicException,
	kerr.UnknownTopicOrPartition, kerr.TopicAuthorizationFailed, kerr.CorruptMessage,
	kerr.InvalidRecord, kerr.PolicyViolation, kerr.InvalidTimestamp,
}

// refusesRecord reports whether err refuses the record itself (see recordRefusals).
func refusesRecord(err error) bool {
	for _, e := range recordRefusals {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// deadLetter produces the dead-letter record of m. The caller has already counted it.
//
// Every way this can fail ends in a dead letter Kafka accepts or a wait: a dead letter Kafka
// refuses as too large is built again under half its size (see route.deadLetterRecord) and
// produced at once, so each retry after a refusal is a smaller record, down to the minimal one;
// any other failure, and a refusal of the minimal record, is retried as is after a backoff.
// Until then the message stays unacknowledged.
func (s *sink) deadLetter(ctx context.Context, r *route, m *message, why *deadReason) {
	limit := s.maxBytes
	if why.limit > 0 {
		limit = why.limit
	}
	rec := r.deadLetterRecord(m, why, limit)
	s.log.LogAttrs(ctx, slog.LevelWarn, "dead-lettering message",
		slog.String("route", r.name), slog.String("mqtt_topic", m.topic),
		slog.String("kind", why.kind), slog.String("error", why.err),
		slog.String("plugin", why.plugin), slog.String("dead_letter_topic", r.deadLetter),
		slog.Int("bytes", recordSize(rec)), slog.String("dropped", headerValue(rec, HeaderDropped)))
	start := time.Now()
	s.clientProduce(ctx, rec, func(_ *kgo.Record, err error) {
		if err == nil {
			r.counters.deadLetter(why.kind)
			r.counters.progress.Acked()
			m.delivery.Done()
			return
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			return // stopping: the message stays unacknowledged and the broker redelivers it
		}
		s.metrics.kafkaErrors.WithLabelValues("dead_letter").Inc()
		if recreatedTopic(err) {
			s.purger.note(rec.Topic, start)
		}
		next := *why
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			// The broker's limit is below this record: build it again under half its size.
			// The promise must not produce inline: hand it to the retrier.
			n := recordSize(rec)
			next.limit = n / 2
			if smaller := r.deadLetterRecord(m, &next, next.limit); recordSize(smaller) < n {
				s.log.LogAttrs(context.Background(), slog.LevelWarn, "dead-letter record refused as too large; producing a smaller one",
					slog.String("route", r.name), slog.String("dead_letter_topic", r.deadLetter),
					slog.Int("bytes", n), slog.Int("limit", next.limit), slog.String("error", err.Error()))
				s.retry.enqueue(r, m, &next)
				return
			}
			// The minimal dead letter is refused: the ladder has ended. Wait for the broker's
			// limit to be raised rather than lose the message.
			next.limit = why.limit
		}
		wait := s.backoff(why.retries)
		next.retries++
		s.log.LogAttrs(context.Background(), slog.LevelError, "dead-letter record failed; retrying (the message stays unacknowledged)",
			slog.String("route", r.name), slog.String("dead_letter_topic", r.deadLetter), slog.String("error", err.Error()),
			slog.Int("retry", next.retries), slog.Duration("wait", wait))
		s.retry.enqueueAfter(r, m, &next, wait)
	})
}

// headerValue returns the value of rec's first header named key, or "".
func headerValue(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// deadLetterRetrier produces dead letters off the promise goroutine, and produces again, after
// their backoff, records and dead letters whose produce failed. A message whose dead letter
// cannot be written is never acknowledged, so nothing is lost: the gateway stalls and the
// broker keeps the rest.
type deadLetterRetrier struct {
	mu    sync.Mutex
	queue []deadJob
	wake  chan struct{}
}

type deadJob struct {
	r   *route
	m   *message
	why *deadReason // the dead letter to produce, or nil with rec
	rec *kgo.Record // a record to produce again
	try int         // rec's retry count (sink.produceTry)
	at  time.Time
}

func newDeadLetterRetrier() *deadLetterRetrier {
	return &deadLetterRetrier{wake: make(chan struct{}, 1)}
}

func (q *deadLetterRetrier) enqueue(r *route, m *message, why *deadReason) {
	q.enqueueAfter(r, m, why, 0)
}

func (q *deadLetterRetrier) enqueueAfter(r *route, m *message, why *deadReason, d time.Duration) {
	q.add(deadJob{r: r, m: m, why: why, at: time.Now().Add(d)})
}

// enqueueRecord produces rec of m on r again, for the try-th time, after d.
func (q *deadLetterRetrier) enqueueRecord(r *route, m *message, rec *kgo.Record, try int, d time.Duration) {
	q.add(deadJob{r: r, m: m, rec: rec, try: try, at: time.Now().Add(d)})
}

func (q *deadLetterRetrier) add(j deadJob) {
	q.mu.Lock()
	if j.rec != nil {
		// Keep the order of one key's records: a record retried never goes before one of the
		// same topic and key queued earlier, whatever their backoffs and jitter. Jobs due
		// together are produced in queue order.
		for _, o := range q.queue {
			if o.rec != nil && o.at.After(j.at) && o.rec.Topic == j.rec.Topic && bytes.Equal(o.rec.Key, j.rec.Key) {
				j.at = o.at
			}
		}
	}
	q.queue = append(q.queue, j)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run produces queued dead letters until ctx is done and the queue is empty.
func (q *deadLetterRetrier) run(ctx context.Context, s *sink, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var due []deadJob
		next := time.Duration(-1)
		q.mu.Lock()
		rest := q.queue[:0]
		for _, j := range q.queue {
			if !j.at.After(now) {
				due = append(due, j)
				continue
			}
			rest = append(rest, j)
			if w := j.at.Sub(now); next < 0 || w < next {
				next = w
			}
		}
		q.queue = rest
		q.mu.Unlock()
		for _, j := range due {
			if j.rec != nil {
				s.produceTry(ctx, j.r, j.m, j.rec, j.try)
				continue
			}
			s.deadLetter(ctx, j.r, j.m, j.why)
		}
		if next < 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-q.wake:
		case <-timer.C:
		case <-stop:
			return
		}
	}
}
