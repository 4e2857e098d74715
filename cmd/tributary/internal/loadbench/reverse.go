package loadbench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ModeReverse measures both directions in one run on one broker and one Kafka: first the
// forward drain of ModeBacklog (Count messages queued in the broker, then the gateway moves
// them to Kafka), then the reverse drain: Count records written to a Kafka topic beforehand,
// then a gateway with one reverse route publishes them to MQTT, where the benchmark's
// subscriber counts them.
const ModeReverse = "reverse"

// ReverseResult is what the reverse leg of ModeReverse measured.
type ReverseResult struct {
	// Records is how many records were written to the Kafka topic.
	Records int64 `json:"records"`
	// Received counts distinct records that reached the subscriber; Lost never did;
	// Duplicated are extra copies.
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	// WindowSeconds runs from the gateway's start to the last message received.
	WindowSeconds float64 `json:"window_seconds"`
	Throughput    float64 `json:"throughput_msg_s"`
	// DrainRate is Received over first message to last: without the gateway's start.
	DrainRate float64 `json:"drain_rate_msg_s"`
	// CPUSeconds is the CPU time over the window, of the same scope as the forward leg's.
	CPUSeconds        float64 `json:"cpu_seconds"`
	CPUSecondsPer100k float64 `json:"cpu_seconds_per_100k"`
	KafkaTopic        string  `json:"kafka_topic"`
	MQTTTopics        string  `json:"mqtt_topics"`
}

// runReverse runs ModeReverse: the forward backlog leg through Run, then the reverse leg on
// the same broker and Kafka.
func runReverse(ctx context.Context, o Options, run, dir string) (*Result, error) {
	st := &stack{}
	defer st.close()
	mqttURL, brokerDesc, err := startBroker(ctx, &o, st, dir)
	if err != nil {
		return nil, err
	}
	brokers, kafkaDesc, err := startKafka(&o, st)
	if err != nil {
		return nil, err
	}
	fwd := o
	fwd.Mode, fwd.MQTT, fwd.Mosquitto, fwd.Kafka = ModeBacklog, mqttURL, false, brokers
	res, err := Run(ctx, fwd)
	if err != nil {
		return nil, fmt.Errorf("forward leg: %w", err)
	}
	res.Mode, res.Broker, res.Kafka = ModeReverse, brokerDesc, kafkaDesc
	res.Notes = append(res.Notes, "forward: the backlog drain of --count messages queued in the broker")
	rev, err := reverseLeg(ctx, &o, mqttURL, brokers, run, dir)
	if err != nil {
		return nil, fmt.Errorf("reverse leg: %w", err)
	}
	res.Reverse = rev
	return res, nil
}

// reverseLeg writes Count records to a fresh topic (keys spread over Topics devices), starts
// a gateway with one reverse route to PREFIX-rev/{{.Key}}, and counts what its subscriber
// receives.
func reverseLeg(ctx context.Context, o *Options, mqttURL string, brokers []string, run, dir string) (*ReverseResult, error) {
	topic := "tributary_bench_rev_" + run
	filter := o.TopicPrefix + "-rev/#"
	rr := &ReverseResult{Records: o.Count, KafkaTopic: topic, MQTTTopics: o.TopicPrefix + "-rev/{{.Key}}"}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "reverse: writing %d records to %s\n", o.Count, topic)
	}
	if err := produceBacklog(ctx, brokers, topic, o); err != nil {
		return nil, err
	}
	sub, err := subscribeCount(ctx, mqttURL, o.ClientID+"-rev-sub", filter, o.QoS, o.Count)
	if err != nil {
		return nil, err
	}
	defer sub.close()

	adminAddr, err := reserveAdmin()
	if err != nil {
		return nil, err
	}
	q := strconv.Quote
	cfg := fmt.Appendf(nil, `mqtt:
  url: %s
  client_id: %s
kafka:
  brokers: [%s]
  client_id: %s
admin:
  listen: %s
log:
  level: warn
reverse_routes:
  - name: bench
    from: [%s]
    to: {topic: %s, qos: %d}
`, q(mqttURL), q(o.ClientID), joinQuoted(brokers), q(o.ClientID+"-"+run), q(adminAddr), q(topic), q(o.TopicPrefix+"-rev/{{.Key}}"), o.QoS)
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "reverse: draining to %s\n", filter)
	}
	start := time.Now()
	gw, err := startGateway(o, cfg, adminAddr, dir, ctx.Done())
	if err != nil {
		return nil, err
	}
	defer func() { _ = gw.stop() }()
	meter := cpuMeter{o: o, pid: gw.pid}
	cpu0, _ := meter.cpu()
	note := sub.wait(ctx, o.Settle, gw.exited)
	cpu1, cpuErr := meter.cpu()
	first, last, unique, dups := sub.tally()
	rr.Received, rr.Duplicated, rr.Lost = unique, dups, o.Count-unique
	if !last.IsZero() {
		rr.WindowSeconds = last.Sub(start).Seconds()
		if rr.WindowSeconds > 0 {
			rr.Throughput = float64(unique) / rr.WindowSeconds
		}
		if d := last.Sub(first).Seconds(); d > 0 {
			rr.DrainRate = float64(unique) / d
		}
	}
	if cpuErr == nil && o.Gateway != GatewayExternal {
		rr.CPUSeconds = (cpu1 - cpu0).Seconds()
		if unique > 0 {
			rr.CPUSecondsPer100k = rr.CPUSeconds * 100_000 / float64(unique)
		}
	}
	if note != "" {
		return rr, fmt.Errorf("%s", note)
	}
	return rr, nil
}

func joinQuoted(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(s)
	}
	return out
}

// produceBacklog writes o.Count records of o.PayloadBytes to topic, keyed by device
// (o.Topics of them), the value starting with the record's sequence number.
func produceBacklog(ctx context.Context, brokers []string, topic string, o *Options) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.MaxBufferedRecords(50_000),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer cl.Close()
	pad := make([]byte, o.PayloadBytes)
	for i := range pad {
		pad[i] = 'x'
	}
	var mu sync.Mutex
	var firstErr error
	for i := range o.Count {
		v := append(strconv.AppendInt(make([]byte, 0, o.PayloadBytes), i, 10), ' ')
		v = append(v, pad[:max(0, o.PayloadBytes-len(v))]...)
		key := fmt.Appendf(nil, "dev%05d", i%int64(o.Topics))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("writing the reverse backlog to %s: %w", topic, firstErr)
	}
	return nil
}

// countingSub is the reverse leg's MQTT subscriber: it counts distinct sequence numbers.
type countingSub struct {
	conn         net.Conn
	cl           *paho.Client
	mu           sync.Mutex
	seen         []bool
	unique, dups int64
	first, last  time.Time
}

func subscribeCount(ctx context.Context, mqttURL, id, filter string, qos byte, n int64) (*countingSub, error) {
	addr, err := mqttAddr(mqttURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt dial %s: %w", addr, err)
	}
	s := &countingSub{conn: conn, seen: make([]bool, n)}
	s.cl = paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: id,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.onPublish}})
	rm := uint16(65535)
	if _, err := s.cl.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{ReceiveMaximum: &rm}}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mqtt connect %s: %w", addr, err)
	}
	if _, err := s.cl.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
		s.close()
		return nil, fmt.Errorf("mqtt subscribe %s: %w", filter, err)
	}
	return s, nil
}

func (s *countingSub) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet.Payload
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	seq, err := strconv.ParseInt(string(p[:i]), 10, 64)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || seq < 0 || seq >= int64(len(s.seen)) {
		return true, nil
	}
	if s.seen[seq] {
		s.dups++
	} else {
		s.seen[seq] = true
		s.unique++
	}
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	return true, nil
}

func (s *countingSub) tally() (first, last time.Time, unique, dups int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last, s.unique, s.dups
}

// wait waits until every record arrived, or settle passes with nothing new, or the gateway
// exits, or ctx ends; it returns a note when it stopped early.
func (s *countingSub) wait(ctx context.Context, settle time.Duration, exited <-chan struct{}) string {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	last, changed := int64(-1), time.Now()
	for {
		_, _, u, _ := s.tally()
		if u >= int64(len(s.seen)) {
			return ""
		}
		if u != last {
			last, changed = u, time.Now()
		}
		if time.Since(changed) > settle+10*time.Second { // the first message waits for the group join
			return fmt.Sprintf("no new message for %v: stopped waiting with %d of %d", settle+10*time.Second, u, len(s.seen))
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("timed out waiting: %d of %d", u, len(s.seen))
		case <-exited:
			return fmt.Sprintf("gateway exited with %d of %d received", u, len(s.seen))
		case <-tick.C:
		}
	}
}

func (s *countingSub) close() {
	_ = s.cl.Disconnect(&paho.Disconnect{})
	s.conn.Close()
}

// writeTable writes the reverse leg's rows.
func (r *ReverseResult) writeTable(row func(k, format string, args ...any)) {
	row("reverse", "Kafka %s -> MQTT %s", r.KafkaTopic, r.MQTTTopics)
	row("reverse records", "%d written, %d received, %d lost, %d duplicated", r.Records, r.Received, r.Lost, r.Duplicated)
	row("reverse window", "%.3f s (from the gateway's start)", r.WindowSeconds)
	row("reverse throughput", "%.0f msg/s; drain rate %.0f msg/s (first message to last)", r.Throughput, r.DrainRate)
	if r.CPUSeconds > 0 {
		row("reverse cpu", "%.2f s, %.3f s per 100k records", r.CPUSeconds, r.CPUSecondsPer100k)
	}
}
