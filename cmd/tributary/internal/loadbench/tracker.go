package loadbench

import (
	"slices"
	"sync"
	"time"
)

// tracker counts the records read back from Kafka by (topic, seq): unique, duplicated, and
// records that are not this run's. It keeps every latency for exact percentiles.
// Safe for concurrent use.
type tracker struct {
	run string

	mu        sync.Mutex
	seen      [][]uint8 // seen[topic][seq]: how many times; saturates at 255
	unique    int64
	dups      int64
	foreign   int64
	latencies []time.Duration
	first     time.Time
	last      time.Time
}

func newTracker(run string, topics int) *tracker {
	return &tracker{run: run, seen: make([][]uint8, topics)}
}

// record notes one record value read at time at.
func (t *tracker) record(value []byte, at time.Time) {
	f, ok := parsePayload(value)
	t.note(f, ok, at)
}

// note notes one record read at time at whose identifying fields are f; ok false means the
// record could not be read (it counts as foreign).
func (t *tracker) note(f fields, ok bool, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !ok || string(f.run) != t.run || f.topic >= len(t.seen) {
		t.foreign++
		return
	}
	s := t.seen[f.topic]
	if f.seq >= int64(len(s)) {
		if f.seq > 1<<30 {
			t.foreign++
			return
		}
		s = append(s, make([]uint8, int(f.seq)+1-len(s))...)
		t.seen[f.topic] = s
	}
	if s[f.seq] > 0 {
		if s[f.seq] < 255 {
			s[f.seq]++
		}
		t.dups++
		return
	}
	s[f.seq] = 1
	t.unique++
	if t.first.IsZero() {
		t.first = at
	}
	t.last = at
	t.latencies = append(t.latencies, at.Sub(time.Unix(0, f.ts)))
}

// counts returns the unique and duplicated records seen so far.
func (t *tracker) counts() (unique, dups int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unique, t.dups
}

// tally compares what was seen with what was published: published[topic] messages with seq
// 0..published[topic]-1. Records of seqs never published count as foreign.
type tally struct {
	unique, lost, dups, foreign int64
	first, last                 time.Time
	latencies                   []time.Duration // sorted
}

func (t *tracker) tally(published []int64) tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := tally{dups: t.dups, foreign: t.foreign, first: t.first, last: t.last}
	for topic, n := range published {
		var s []uint8
		if topic < len(t.seen) {
			s = t.seen[topic]
		}
		for seq := int64(0); seq < n; seq++ {
			if seq < int64(len(s)) && s[seq] > 0 {
				out.unique++
			} else {
				out.lost++
			}
		}
		for seq := n; seq < int64(len(s)); seq++ {
			if s[seq] > 0 {
				out.foreign += int64(s[seq])
			}
		}
	}
	out.latencies = slices.Clone(t.latencies)
	slices.Sort(out.latencies)
	return out
}

// percentile returns the q-quantile (0..1) of sorted by the nearest-rank method, or 0 when
// sorted is empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
