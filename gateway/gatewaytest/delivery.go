package gatewaytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxExamples caps how many problem descriptions a DeliveryReport keeps.
const maxExamples = 10

// DeliveryReport compares what was published over MQTT with what reached
// Kafka. See [CheckDelivery].
type DeliveryReport struct {
	Published  int // messages published
	Received   int // records examined
	Delivered  int // published messages seen at least once
	Missing    int // published messages never seen
	Duplicates int // extra copies of a message already seen
	OutOfOrder int // first copies that arrived after a later message of the same topic
	Unexpected int // records that match no published message or carry no topic and seq
	// Examples describes up to 10 problems, e.g. `missing "a/1" seq 17`.
	Examples []string
}

// ExactlyOnce returns nil if every published message arrived exactly once, in
// per-topic order, with nothing unexpected; otherwise an error holding the
// report.
func (r DeliveryReport) ExactlyOnce() error {
	if r.Missing == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Unexpected == 0 {
		return nil
	}
	return errors.New(r.String())
}

// AtLeastOnce is [DeliveryReport.ExactlyOnce] but tolerates duplicates, which
// redelivery after a crash or a network cut may legitimately produce.
func (r DeliveryReport) AtLeastOnce() error {
	if r.Missing == 0 && r.OutOfOrder == 0 && r.Unexpected == 0 {
		return nil
	}
	return errors.New(r.String())
}

// String summarises the report on one line, followed by the examples.
func (r DeliveryReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "delivery: %d published, %d records, %d delivered: %d missing, %d duplicates, %d out of order, %d unexpected",
		r.Published, r.Received, r.Delivered, r.Missing, r.Duplicates, r.OutOfOrder, r.Unexpected)
	for _, e := range r.Examples {
		b.WriteString("\n  ")
		b.WriteString(e)
	}
	return b.String()
}

func (r *DeliveryReport) example(format string, args ...any) {
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// msgID identifies one published message.
type msgID struct {
	topic string
	seq   int64
}

// CheckDelivery matches records read from Kafka against published messages by
// MQTT topic and seq (see [RecordIdentity]) and counts what is missing,
// duplicated, out of order or unexpected.
//
// Order is judged per MQTT topic in the order of got, against the order of
// published: pass records as [KafkaCluster.Records] returns them (partition by
// partition, in offset order). That is meaningful when one topic's records
// share a partition, as with the default key (the MQTT topic).
func CheckDelivery(published []PublishMsg, got []*kgo.Record) DeliveryReport {
	r := DeliveryReport{Published: len(published), Received: len(got)}
	pos := make(map[msgID]int, len(published)) // position within its topic
	perTopic := make(map[string]int)
	for _, m := range published {
		id := msgID{m.Topic, m.Seq}
		if _, dup := pos[id]; dup {
			continue // the same message published twice counts once
		}
		pos[id] = perTopic[m.Topic]
		perTopic[m.Topic]++
	}
	r.Published = len(pos)

	seen := make(map[msgID]bool, len(pos))
	last := make(map[string]int) // highest position seen so far per topic
	for _, rec := range got {
		topic, seq, err := RecordIdentity(rec)
		if err != nil {
			r.Unexpected++
			r.example("unexpected record at partition %d offset %d: %v", rec.Partition, rec.Offset, err)
			continue
		}
		id := msgID{topic, seq}
		p, ok := pos[id]
		if !ok {
			r.Unexpected++
			r.example("unexpected %q seq %d at partition %d offset %d: not published", topic, seq, rec.Partition, rec.Offset)
			continue
		}
		if seen[id] {
			r.Duplicates++
			r.example("duplicate %q seq %d at partition %d offset %d", topic, seq, rec.Partition, rec.Offset)
			continue
		}
		seen[id] = true
		r.Delivered++
		if l, ok := last[topic]; ok && p < l {
			r.OutOfOrder++
			r.example("out of order %q seq %d at partition %d offset %d: after a later message of its topic", topic, seq, rec.Partition, rec.Offset)
		} else {
			last[topic] = p
		}
	}
	for _, m := range published {
		id := msgID{m.Topic, m.Seq}
		if !seen[id] {
			seen[id] = true // report each missing message once
			r.Missing++
			r.example("missing %q seq %d", m.Topic, m.Seq)
		}
	}
	return r
}

// RecordIdentity returns the MQTT topic and seq a record was produced from.
//
// The seq comes from the value's "seq" field: the value is a [Payload], a
// plugin's JSON reshaping of one that kept "seq", or the JSON envelope whose
// "payload" is such an object, a string holding one, or its base64. The topic
// comes from the first of: the value's "topic", the envelope's "mqtt_topic",
// the "mqtt.topic" header, the record key.
func RecordIdentity(r *kgo.Record) (topic string, seq int64, err error) {
	var v struct {
		Seq       *int64          `json:"seq"`
		Topic     string          `json:"topic"`
		MQTTTopic string          `json:"mqtt_topic"`
		Payload   json.RawMessage `json:"payload"`
	}
	if t := bytes.TrimSpace(r.Value); len(t) == 0 || t[0] != '{' {
		return "", 0, errors.New("value is not a JSON object")
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return "", 0, fmt.Errorf("value is not a JSON object: %w", err)
	}
	if v.Seq == nil && len(v.Payload) > 0 {
		inner, err := envelopePayload(v.Payload)
		if err != nil {
			return "", 0, err
		}
		var p struct {
			Seq   *int64 `json:"seq"`
			Topic string `json:"topic"`
		}
		if err := json.Unmarshal(inner, &p); err != nil {
			return "", 0, fmt.Errorf("envelope payload is not a JSON object: %w", err)
		}
		v.Seq, v.Topic = p.Seq, p.Topic
	}
	if v.Seq == nil {
		return "", 0, errors.New(`value has no "seq" field`)
	}
	topic = v.Topic
	if topic == "" {
		topic = v.MQTTTopic
	}
	if topic == "" {
		for _, h := range r.Headers {
			if h.Key == "mqtt.topic" {
				topic = string(h.Value)
				break
			}
		}
	}
	if topic == "" {
		topic = string(r.Key)
	}
	if topic == "" {
		return "", 0, fmt.Errorf("seq %d: no topic in value, headers or key", *v.Seq)
	}
	return topic, *v.Seq, nil
}

// envelopePayload unwraps an envelope's "payload": a JSON object as is, a
// string holding JSON, or a string holding base64 of JSON.
func envelopePayload(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("envelope payload: %w", err)
	}
	if json.Valid([]byte(s)) {
		return []byte(s), nil
	}
	if dec, err := base64.StdEncoding.DecodeString(s); err == nil && json.Valid(dec) {
		return dec, nil
	}
	return nil, errors.New("envelope payload is neither JSON nor base64 of JSON")
}

// WaitDelivered polls topic until every message of msgs is in it, then returns the
// [DeliveryReport] of what the topic holds. It fails the test with the last report after
// timeout. Call it from the test goroutine.
func (k *KafkaCluster) WaitDelivered(t testing.TB, topic string, msgs []PublishMsg, timeout time.Duration) DeliveryReport {
	t.Helper()
	var rep DeliveryReport
	WaitFor(t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		recs, err := k.FetchRecords(ctx, topic)
		if err != nil {
			return err
		}
		rep = CheckDelivery(msgs, recs)
		if rep.Missing > 0 {
			return errors.New(rep.String())
		}
		return nil
	})
	return rep
}
