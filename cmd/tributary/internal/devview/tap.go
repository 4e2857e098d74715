package devview

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxPendingSamples bounds the samples a Tap keeps between two Take calls; older ones go.
const maxPendingSamples = 8

// Tap reads the route topics from the start and keeps a few samples of the records it sees,
// at most perSecond of them. Safe for concurrent use: Run polls while Take and Consumed are
// called from the view's goroutine.
type Tap struct {
	cl       *kgo.Client
	consumed atomic.Uint64

	mu      sync.Mutex // guards sampler and pending
	sampler sampler
	pending []Sample
}

// NewTap returns a tap on topics at brokers that keeps at most perSecond samples a second
// (perSecond <= 0 keeps none). It connects lazily; call Run to start reading and Close when done.
//
// # Errors
//
// NewTap returns an error when there are no brokers or no topics.
func NewTap(brokers, topics []string, perSecond float64) (*Tap, error) {
	if len(brokers) == 0 || len(topics) == 0 {
		return nil, fmt.Errorf("kafka tap: need brokers and topics, got %q and %q", brokers, topics)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ClientID("tributary-dev-view"),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond), // pick up topics the gateway creates late
	)
	if err != nil {
		return nil, fmt.Errorf("kafka tap: %w", err)
	}
	t := &Tap{cl: cl}
	if perSecond > 0 {
		t.sampler.every = time.Duration(float64(time.Second) / perSecond)
	} else {
		t.sampler.off = true
	}
	return t, nil
}

// Run reads records until ctx is done, counting them and keeping samples. It returns nil when
// ctx is done and an error when the client is closed underneath it.
func (t *Tap) Run(ctx context.Context) error {
	for {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("kafka tap: client closed")
		}
		// Fetch errors (a topic not created yet, a broker restarting) are retried by the
		// client; nothing to do but poll again.
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			t.consumed.Add(1)
			t.offer(now, r)
		})
	}
}

func (t *Tap) offer(now time.Time, r *kgo.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.sampler.keep(now) {
		return
	}
	s := Sample{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		s.Headers = append(s.Headers, Header{Key: h.Key, Value: h.Value})
	}
	if len(t.pending) == maxPendingSamples {
		t.pending = append(t.pending[:0], t.pending[1:]...)
	}
	t.pending = append(t.pending, s)
}

// Take returns the samples kept since the previous Take, oldest first, and forgets them.
func (t *Tap) Take() []Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.pending
	t.pending = nil
	return out
}

// Consumed returns the number of records read so far, over all topics.
func (t *Tap) Consumed() uint64 { return t.consumed.Load() }

// Close stops the client. Run returns once it notices.
func (t *Tap) Close() { t.cl.Close() }

// sampler admits one event per period. Not safe for concurrent use.
type sampler struct {
	every time.Duration
	off   bool
	last  time.Time
}

func (s *sampler) keep(now time.Time) bool {
	if s.off {
		return false
	}
	if !s.last.IsZero() && now.Sub(s.last) < s.every {
		return false
	}
	s.last = now
	return true
}
