package kafkasink

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicPurger recovers from Kafka topics deleted and created again (a broker restarted
// without its volume, say). franz-go never adopts the new topic ID of a topic it already
// produced to: it fails every record of the topic with UNKNOWN_TOPIC_ID, now and on every
// later attempt, until the topic is purged from the client ("Topic recreation" in franz-go's
// README). The sink retries such records like any connection-level failure, keeping their
// messages unacknowledged; the purger purges the topic from the producing client so that the
// retry loads the topic's metadata afresh and lands in the new topic.
//
// Purging blocks on the client's metadata loop, so promises only note the topic (note never
// blocks) and run purges on its own goroutine.
//
// Safe for concurrent use.
type topicPurger struct {
	mu sync.Mutex
	// due are topics to purge, with the latest produce time of a record that failed with
	// UNKNOWN_TOPIC_ID.
	due map[string]time.Time
	// purgedAt is when each topic was last purged: a record produced before then failed
	// against the old topic ID, and purging again would only fail the records produced since.
	purgedAt map[string]time.Time
	wake     chan struct{}
}

func newTopicPurger() *topicPurger {
	return &topicPurger{due: map[string]time.Time{}, purgedAt: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// recreatedTopic reports whether err says the record's topic was deleted and created again
// (franz-go does not adopt the new topic ID).
func recreatedTopic(err error) bool { return errors.Is(err, kerr.UnknownTopicID) }

// note asks for topic to be purged because a record produced to it at producedAt failed with
// UNKNOWN_TOPIC_ID. Called from promises: it never blocks. A nil purger (a sink built by a
// test without one) does nothing.
func (p *topicPurger) note(topic string, producedAt time.Time) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if last, ok := p.purgedAt[topic]; ok && producedAt.Before(last) {
		p.mu.Unlock()
		return // produced before the last purge: the retry already goes to the new topic
	}
	if at, ok := p.due[topic]; !ok || producedAt.After(at) {
		p.due[topic] = producedAt
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run purges noted topics from client's producer until ctx is done.
func (p *topicPurger) run(ctx context.Context, client *kgo.Client, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		var topics []string
		for t, at := range p.due {
			if last, ok := p.purgedAt[t]; ok && at.Before(last) {
				continue
			}
			topics = append(topics, t)
		}
		clear(p.due)
		p.mu.Unlock()
		if len(topics) == 0 {
			continue
		}
		log.LogAttrs(ctx, slog.LevelWarn, "kafka topic was deleted and created again (UNKNOWN_TOPIC_ID): purging it from the producer so that its records go to the new topic; they stay unacknowledged until they do",
			slog.Any("topics", topics))
		// Records produced from here on wait for fresh metadata; those the purge fails
		// (buffered for the old ID) are retried by the sink.
		now := time.Now()
		p.mu.Lock()
		for _, t := range topics {
			p.purgedAt[t] = now
		}
		p.mu.Unlock()
		client.PurgeTopicsFromProducing(topics...)
	}
}
