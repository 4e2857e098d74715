package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/schemaenc"
)

// Sink wraps the franz-go producer. Records are produced asynchronously; each promise settles
// one count of its message's delivery. Build one with New, run its retry queue and topic
// purger with RunRetries and RunPurger, and close it with Close.
//
// Safe for concurrent use.
type Sink struct {
	client   *kgo.Client
	maxBytes int
	log      *slog.Logger
	metrics  Metrics
	retry    *deadLetterRetrier
	purger   *topicPurger // purges topics Kafka recreated; see purger.go
	// retryBase and retryMax override defaultRetryBase and defaultRetryMax (tests).
	retryBase, retryMax time.Duration
	// send overrides client.Produce (tests).
	send func(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error))
	// closing is done once Close is called: a shard waiting for a route's schemas stops
	// waiting, leaving its message unacknowledged.
	closing     context.Context
	closeCancel context.CancelFunc
}

// Config is what New builds a Sink from.
type Config struct {
	// Kafka is the configuration's kafka section: brokers, client, TLS, SASL, batching and
	// kafka.max_record_bytes.
	Kafka config.Kafka
	// MaxBufferedBytes bounds the bytes of records the producer holds (kgo.MaxBufferedBytes);
	// beyond it Produce waits for Kafka.
	MaxBufferedBytes int
	// Log receives the sink's and franz-go's log lines (franz-go's one level down).
	Log *slog.Logger
	// Metrics are the instruments the sink updates.
	Metrics Metrics
}

// Metrics are the Prometheus instruments a Sink updates; the caller registers them.
type Metrics struct {
	// KafkaErrors counts produce failures by kind: "record" (refused, dead-lettered),
	// "retried" (produced again) and "dead_letter" (a dead letter failed and is retried).
	KafkaErrors *prometheus.CounterVec
	// ProduceLatency observes the seconds from handing a record to the producer to Kafka's
	// acknowledgement.
	ProduceLatency prometheus.Observer
}

// New builds the producer for cfg; it connects nothing until records are produced or Ping is
// called. It returns the configuration's error, naming its key, or franz-go's.
func New(cfg Config) (*Sink, error) {
	kopts, err := kafkaOptions(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	kopts = append(kopts, kgo.WithLogger(kgoLogger{cfg.Log}), kgo.MaxBufferedBytes(cfg.MaxBufferedBytes))
	client, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	closing, closeCancel := context.WithCancel(context.Background())
	return &Sink{client: client, maxBytes: cfg.Kafka.MaxRecordBytes, log: cfg.Log, metrics: cfg.Metrics,
		retry: newDeadLetterRetrier(), purger: newTopicPurger(), closing: closing, closeCancel: closeCancel}, nil
}

// RunRetries produces the retry queue's records and dead letters, each when its backoff is
// over, until stop is closed; records are produced under ctx. Run it once, on its own
// goroutine, for as long as the sink is used.
func (s *Sink) RunRetries(ctx context.Context, stop <-chan struct{}) { s.retry.run(ctx, s, stop) }

// RunPurger purges from the producer the topics Kafka deleted and created again, until ctx is
// done. Run it once, on its own goroutine; it blocks on franz-go's metadata loop.
func (s *Sink) RunPurger(ctx context.Context) { s.purger.run(ctx, s.client, s.log) }

// Flush waits until every record handed to the producer so far has been acknowledged or has
// failed (and been queued for a retry or a dead letter), or until ctx is done.
func (s *Sink) Flush(ctx context.Context) error { return s.client.Flush(ctx) }

// Ping checks that a Kafka broker answers.
func (s *Sink) Ping(ctx context.Context) error { return s.client.Ping(ctx) }

// Close closes the producer. Records still buffered fail with kgo.ErrClientClosed and their
// messages stay unacknowledged (the broker redelivers them).
func (s *Sink) Close() {
	if s.closeCancel != nil {
		s.closeCancel()
	}
	s.client.Close()
}

// The backoff of a record, or a dead letter, whose produce failed with an error that says
// nothing against the record: defaultRetryBase before the first retry, doubling up to
// defaultRetryMax, each wait jittered by ±20% so that messages failed together spread out.
const (
	defaultRetryBase = time.Second
	defaultRetryMax  = 30 * time.Second
)

// backoff returns the wait before retry n (from 0) of one record.
func (s *Sink) backoff(n int) time.Duration {
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
func (s *Sink) clientProduce(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	if s.send != nil {
		s.send(ctx, rec, promise)
		return
	}
	s.client.Produce(ctx, rec, promise)
}

// Produce maps output o of message m on route r to a record and produces it, or, when it
// cannot be mapped, produces m's dead letter instead. It counts the record in m's delivery
// and in r's progress first; Kafka's acknowledgement settles both.
func (s *Sink) Produce(ctx context.Context, r *Route, m *Message, o *Output) {
	m.Delivery.Add(1)
	r.progress.started()
	ok, why := s.awaitSchemas(ctx, r)
	if !ok {
		return // stopping: the message stays unacknowledged and the broker redelivers it
	}
	if why != nil {
		s.deadLetter(ctx, r, m, why)
		return
	}
	rec, why := r.record(m, o, s.maxBytes)
	if why != nil {
		s.deadLetter(ctx, r, m, why)
		return
	}
	s.produce(ctx, r, m, rec)
}

// awaitSchemas waits until route r's schemas are resolved, which holds the shard (and so,
// through the in-flight bound, the flow's intake: backpressure, as when Kafka is down). The
// registry client retries in the background and logs each failure. It returns false when ctx
// is done or the sink closes first. A schema the registry answered cannot be resolved (no
// such subject or version, a schema that does not compile: see schemaenc.UnresolvableError)
// is not waited for, since the answer will not change by waiting and the shard's other
// messages would wait behind it: it returns true and the dead-letter reason
// (KindSchemaUnresolved).
func (s *Sink) awaitSchemas(ctx context.Context, r *Route) (bool, *Reason) {
	if (r.valueSchema == nil || r.valueSchema.Ready()) && (r.keySchema == nil || r.keySchema.Ready()) {
		return true, nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.closing != nil {
		defer context.AfterFunc(s.closing, cancel)()
	}
	for k, e := range [2]*schemaenc.Encoder{r.valueSchema, r.keySchema} {
		if e == nil {
			continue
		}
		err := e.Wait(wctx)
		var unresolvable *schemaenc.UnresolvableError
		if errors.As(err, &unresolvable) {
			key := [2]string{"to.value_schema", "to.key_schema"}[k]
			return true, &Reason{Kind: KindSchemaUnresolved, Stage: -1, Err: key + ": " + unresolvable.Error()}
		}
		if err != nil {
			return false, nil
		}
	}
	return true, nil
}

// DeadLetter produces the dead-letter record of m on route r for why. It counts the record in
// m's delivery and in r's progress first; Kafka's acknowledgement settles both. Until Kafka
// accepts a dead letter (see deadLetter) the message stays unacknowledged.
func (s *Sink) DeadLetter(ctx context.Context, r *Route, m *Message, why *Reason) {
	m.Delivery.Add(1)
	r.progress.started()
	s.deadLetter(ctx, r, m, why)
}

// DeadLetterOversized reports whether m's payload exceeds its tenant's
// limits.max_message_bytes on route r and, when it does, dead-letters it (as DeadLetter, with
// KindMessageTooLarge).
func (s *Sink) DeadLetterOversized(ctx context.Context, r *Route, m *Message) bool {
	if r.maxMessageBytes <= 0 || len(m.Payload) <= r.maxMessageBytes {
		return false
	}
	s.DeadLetter(ctx, r, m, &Reason{Kind: KindMessageTooLarge, Stage: -1,
		Err: fmt.Sprintf("payload of %d bytes exceeds tenant %s's limits.max_message_bytes %d", len(m.Payload), r.tenant, r.maxMessageBytes)})
	return true
}

// produce hands one record of message m on route r to the producer. The caller has already
// counted it in m's delivery.
func (s *Sink) produce(ctx context.Context, r *Route, m *Message, rec *kgo.Record) {
	s.produceTry(ctx, r, m, rec, 0)
}

// produceTry is produce for the retry-th time (from 0) of rec.
func (s *Sink) produceTry(ctx context.Context, r *Route, m *Message, rec *kgo.Record, retry int) {
	start := time.Now()
	s.clientProduce(ctx, rec, func(rec *kgo.Record, err error) {
		if err == nil {
			s.metrics.ProduceLatency.Observe(time.Since(start).Seconds())
			r.counters.Produced()
			r.progress.acked()
			m.Delivery.Done()
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
			s.metrics.KafkaErrors.WithLabelValues("retried").Inc()
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "kafka produce failed; retrying the record",
				slog.String("route", r.name), slog.String("topic", rec.Topic), slog.String("error", err.Error()))
			again := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Timestamp: rec.Timestamp}
			s.retry.enqueueRecord(r, m, again, retry+1, s.backoff(retry))
			return
		}
		s.metrics.KafkaErrors.WithLabelValues("record").Inc()
		why := &Reason{Kind: KindProduceFailed, Stage: -1, Topic: rec.Topic, Err: err.Error()}
		if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
			why.Kind = KindRecordTooLarge
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
// refuses as too large is built again under half its size (see Route.deadLetterRecord) and
// produced at once, so each retry after a refusal is a smaller record, down to the minimal one;
// any other failure, and a refusal of the minimal record, is retried as is after a backoff.
// Until then the message stays unacknowledged.
func (s *Sink) deadLetter(ctx context.Context, r *Route, m *Message, why *Reason) {
	limit := s.maxBytes
	if why.limit > 0 {
		limit = why.limit
	}
	rec := r.deadLetterRecord(m, why, limit)
	s.log.LogAttrs(ctx, slog.LevelWarn, "dead-lettering message",
		slog.String("route", r.name), slog.String("mqtt_topic", m.MQTTTopic),
		slog.String("kind", why.Kind), slog.String("error", why.Err),
		slog.String("plugin", why.Plugin), slog.String("dead_letter_topic", r.deadLetter),
		slog.Int("bytes", recordSize(rec)), slog.String("dropped", headerValue(rec, HeaderDropped)))
	start := time.Now()
	s.clientProduce(ctx, rec, func(_ *kgo.Record, err error) {
		if err == nil {
			r.counters.DeadLettered(why.Kind)
			r.progress.acked()
			m.Delivery.Done()
			return
		}
		if errors.Is(err, kgo.ErrClientClosed) {
			return // stopping: the message stays unacknowledged and the broker redelivers it
		}
		s.metrics.KafkaErrors.WithLabelValues("dead_letter").Inc()
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
