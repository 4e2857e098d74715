package kafkasink

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

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
	r   *Route
	m   *Message
	why *Reason     // the dead letter to produce, or nil with rec
	rec *kgo.Record // a record to produce again
	try int         // rec's retry count (Sink.produceTry)
	at  time.Time
}

func newDeadLetterRetrier() *deadLetterRetrier {
	return &deadLetterRetrier{wake: make(chan struct{}, 1)}
}

func (q *deadLetterRetrier) enqueue(r *Route, m *Message, why *Reason) {
	q.enqueueAfter(r, m, why, 0)
}

func (q *deadLetterRetrier) enqueueAfter(r *Route, m *Message, why *Reason, d time.Duration) {
	q.add(deadJob{r: r, m: m, why: why, at: time.Now().Add(d)})
}

// enqueueRecord produces rec of m on r again, for the try-th time, after d.
func (q *deadLetterRetrier) enqueueRecord(r *Route, m *Message, rec *kgo.Record, try int, d time.Duration) {
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

// run produces queued records and dead letters through s until stop is closed.
func (q *deadLetterRetrier) run(ctx context.Context, s *Sink, stop <-chan struct{}) {
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
