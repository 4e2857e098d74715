package loadbench

import (
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Soak streams: which route a message was published for.
const (
	streamMain   = 0 // PREFIX/devNNNNN/telemetry, route without plugins
	streamPlugin = 1 // PREFIX-p/devNNNNN/telemetry, through the misbehaving plugin
	streamPoison = 2 // PREFIX-p/poison/KIND/N; topic is the index in poisonKinds
)

// msgID identifies one soak message: its stream, topic index and per-topic sequence number.
type msgID struct {
	stream uint8
	topic  int32
	seq    int64
}

// copies counts where the records of one message landed.
type copies struct {
	out, dlq uint32
	reason   string // tributary.error.kind of the first dead-letter record
}

// orderKey is one MQTT topic of a stream, in its route's Kafka topic.
type orderKey struct {
	stream uint8
	topic  int32
}

// soakTracker accounts for the records read from the soak's Kafka topics. Records are
// matched to messages by the MQTT topic (the record key) and the payload's run id and
// sequence number; poison messages, whose payloads carry nothing, by the key alone.
//
// Safe for concurrent use.
type soakTracker struct {
	run, mainPrefix, pluginPrefix string
	dlqTopic                      string

	mu       sync.Mutex
	seen     map[msgID]copies
	maxSeq   map[orderKey]int64
	order    int64            // first copies in a route's topic after a later message of theirs
	reasons  map[string]int64 // dead-letter records by tributary.error.kind
	foreign  int64
	distinct int64
	total    int64
}

func newSoakTracker(run, prefix string, t soakTopics) *soakTracker {
	return &soakTracker{run: run, mainPrefix: prefix + "/", pluginPrefix: prefix + "-p/", dlqTopic: t.dlq,
		seen: make(map[msgID]copies), maxSeq: make(map[orderKey]int64), reasons: make(map[string]int64)}
}

// identify returns the message a record stands for.
func (t *soakTracker) identify(r *kgo.Record) (msgID, bool) {
	key := string(r.Key)
	var stream uint8
	switch {
	case strings.HasPrefix(key, t.pluginPrefix+"poison/"):
		kind, n, ok := strings.Cut(strings.TrimPrefix(key, t.pluginPrefix+"poison/"), "/")
		seq, err := strconv.ParseInt(n, 10, 64)
		k := poisonIndex(kind)
		if !ok || err != nil || k < 0 {
			return msgID{}, false
		}
		return msgID{stream: streamPoison, topic: int32(k), seq: seq}, true
	case strings.HasPrefix(key, t.pluginPrefix):
		stream = streamPlugin
	case strings.HasPrefix(key, t.mainPrefix):
		stream = streamMain
	default:
		return msgID{}, false
	}
	f, ok := parsePayload(r.Value)
	if !ok || string(f.run) != t.run {
		return msgID{}, false
	}
	return msgID{stream: stream, topic: int32(f.topic), seq: f.seq}, true
}

// record accounts for one record read from the soak's topics.
func (t *soakTracker) record(r *kgo.Record) {
	id, ok := t.identify(r)
	dlq := r.Topic == t.dlqTopic
	reason := ""
	if dlq {
		reason = "unknown"
		for _, h := range r.Headers {
			if h.Key == "tributary.error.kind" {
				reason = string(h.Value)
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !ok {
		t.foreign++
		return
	}
	t.total++
	c, had := t.seen[id]
	if dlq {
		if c.dlq == 0 {
			c.reason = reason
		}
		c.dlq++
		t.reasons[reason]++
	} else {
		c.out++
	}
	t.seen[id] = c
	if had {
		return
	}
	t.distinct++
	if id.stream == streamPoison || dlq {
		return // dead letters come from several paths; their order means nothing
	}
	k := orderKey{stream: id.stream, topic: id.topic}
	if last, ok := t.maxSeq[k]; ok && id.seq < last {
		t.order++
	} else {
		t.maxSeq[k] = id.seq
	}
}

// seenDistinct returns how many distinct messages were read so far.
func (t *soakTracker) seenDistinct() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.distinct
}

// records returns how many records of the run's messages were read so far, copies included.
func (t *soakTracker) records() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// soakTally compares what was read with what was published.
type soakTally struct {
	delivered, deadLettered, lost, duplicated, misrouted, foreign, order int64
	reasons                                                              map[string]int64
	misroutedWhy                                                         map[string]int64 // by dead-letter kind, or "delivered"
	lostExamples                                                         []msgID
}

// tally counts, for every published message (want says whether it should be dead-lettered),
// where it landed. Copies beyond the first, in either topic, are duplicates.
func (t *soakTracker) tally(published map[msgID]bool) soakTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := soakTally{foreign: t.foreign, order: t.order, reasons: make(map[string]int64, len(t.reasons)),
		misroutedWhy: make(map[string]int64)}
	for k, v := range t.reasons {
		out.reasons[k] = v
	}
	for id, wantDLQ := range published {
		c, ok := t.seen[id]
		if !ok {
			out.lost++
			if len(out.lostExamples) < 5 {
				out.lostExamples = append(out.lostExamples, id)
			}
			continue
		}
		if c.dlq > 0 {
			out.deadLettered++
		} else {
			out.delivered++
		}
		if (c.dlq > 0) != wantDLQ {
			out.misrouted++
			why := "delivered"
			if c.dlq > 0 {
				why = c.reason
			}
			out.misroutedWhy[why]++
		}
		out.duplicated += int64(c.out+c.dlq) - 1
	}
	for id, c := range t.seen {
		if _, ok := published[id]; !ok {
			out.foreign += int64(c.out + c.dlq) // sent but never acknowledged to the publisher
		}
	}
	return out
}
