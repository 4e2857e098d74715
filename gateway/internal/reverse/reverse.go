// Package reverse runs reverse routes: records of Kafka topics, read by a consumer group,
// through a plugin chain, published to MQTT. It is the way back from Kafka to devices
// (commands, settings, notices) and keeps the forward direction's promise the other way
// round: a record's offset is committed only once the broker acknowledged every publish made
// from it, or its dead letter is in Kafka.
//
// One Route is one consumer group member (franz-go, cooperative-sticky, rebalances blocked
// while a polled batch is processed) and one MQTT v5 session of its own (autopaho, clean
// start). A route works batch by batch: it polls up to maxPoll records, runs them through the
// chain, renders each output's MQTT topic, publishes them on up to MaxInFlight lanes
// (records of one partition and key share a lane and are published one after the other, each
// waiting for its PUBACK or PUBCOMP; QoS 0 for the write), dead-letters what cannot be
// published, waits until every record of the batch is finished, commits the batch's offsets
// and polls again. Not polling is the backpressure: a slow broker holds the next fetch.
//
// Order: the records of one partition with the same key (and all keyless records of a
// partition) are published in offset order. A publish that fails because the connection
// dropped is sent again, after the reconnection, before anything later on its lane: a
// retry cannot overtake, but a subscriber may see a message twice (at-least-once).
package reverse

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/kafkasink"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
	"github.com/tributary-gw/tributary/sdk/abi"
	"github.com/tributary-gw/tributary/sdk/jsonfield"
	"github.com/tributary-gw/tributary/wasmhost"
)

// Dead-letter kinds (header tributary.error.kind) of a reverse route.
const (
	// KindPluginError: a stage of the chain rejected the record, trapped or timed out.
	KindPluginError = "plugin_error"
	// KindBadTopic: the rendered MQTT topic is empty, not UTF-8, too long or has a wildcard.
	KindBadTopic = "bad_topic"
	// KindNamespace: the rendered MQTT topic is outside the tenant's mqtt_prefixes.
	KindNamespace = "namespace_violation"
	// KindTooLarge: the publish is larger than the broker's maximum packet size.
	KindTooLarge = "message_too_large"
	// KindMissingField: a {{.Payload "path"}} of the MQTT topic template found no string,
	// number or bool at path (or the payload is not JSON).
	KindMissingField = "missing_field"
	// KindRefused: the broker refused the publish (a PUBACK or PUBREC reason code of 0x80 or
	// more, such as not authorized).
	KindRefused = "broker_refused"
)

// Header names a reverse route's dead letters carry besides the record's own headers and
// kafkasink's tributary.route, tributary.tenant, tributary.error, tributary.error.kind and
// tributary.kafka.topic.
const (
	HeaderMQTTTopic = "tributary.mqtt.topic" // the rendered MQTT topic, when there was one
	HeaderPartition = "tributary.kafka.partition"
	HeaderOffset    = "tributary.kafka.offset"
)

// maxPoll bounds the records one batch takes.
const maxPoll = 1024

// Config is what a Route is built from.
type Config struct {
	// Route is the reverse route's configuration (defaults applied).
	Route config.ReverseRoute
	// Tenant is the route's tenant, nil for a top-level route. Its MQTT prefixes bound the
	// rendered topics.
	Tenant *config.Tenant
	// Chain runs each batch; nil for a route without plugins. The Route does not close it.
	Chain *wasmhost.Chain
	// MaxBatch is the largest batch handed to the chain at once (flow.max_batch).
	MaxBatch int
	// Kafka is the kafka section: brokers, client id, TLS, SASL.
	Kafka config.Kafka
	// MQTT is the mqtt section: URL, credentials, TLS, keep-alive, reconnect backoff. Its
	// client id is replaced by ClientID.
	MQTT config.MQTT
	// ClientID is this route's own MQTT client id.
	ClientID string
	// Log receives the route's events. Defaults to slog.Default().
	Log *slog.Logger
	// Metrics are the counters the route bumps; nil fields are skipped.
	Metrics Metrics
	// Counts, when set, are bumped besides Metrics: the caller keeps one per route across
	// rebuilds, for its status report.
	Counts *Counts
	// Calls is what plugin calls run under (see flow.Config.Calls). Defaults to
	// context.Background().
	Calls context.Context
}

// Metrics are the counters of one reverse route.
type Metrics struct {
	Consumed     prometheus.Counter // records polled from Kafka
	Published    prometheus.Counter // publishes the broker acknowledged
	DeadLettered prometheus.Counter // records (or outputs) written to the dead-letter topic
	Committed    prometheus.Counter // records whose offsets were committed
	Lag          prometheus.Gauge   // the route's consumer lag (see Route.Lag)
}

// Counts are one reverse route's counters as plain numbers, the same as Metrics counts.
type Counts struct {
	Consumed, Published, DeadLettered, Committed atomic.Uint64
}

func inc(c prometheus.Counter, n int) {
	if c != nil && n > 0 {
		c.Add(float64(n))
	}
}

// count bumps c's counter and, when set, the plain count.
func (r *Route) count(c prometheus.Counter, plain func(*Counts) *atomic.Uint64, n int) {
	inc(c, n)
	if r.cfg.Counts != nil && n > 0 {
		plain(r.cfg.Counts).Add(uint64(n))
	}
}

func consumed(c *Counts) *atomic.Uint64     { return &c.Consumed }
func published(c *Counts) *atomic.Uint64    { return &c.Published }
func deadLettered(c *Counts) *atomic.Uint64 { return &c.DeadLettered }
func committed(c *Counts) *atomic.Uint64    { return &c.Committed }

// lagTracker follows a consumer's lag: per partition, the high watermark its last fetch
// reported and the offset after the last committed record. Lag is their difference, summed;
// nothing is asked of Kafka beyond the fetches the route makes anyway, so an idle route's
// lag is as of its last fetch with records.
type lagTracker struct {
	mu    sync.Mutex
	parts map[topicPartition]*partitionLag
}

type topicPartition struct {
	topic     string
	partition int32
}

type partitionLag struct {
	high, next int64 // high watermark; offset after the last committed record (-1: none yet)
}

func (t *lagTracker) part(topic string, p int32) *partitionLag {
	if t.parts == nil {
		t.parts = map[topicPartition]*partitionLag{}
	}
	k := topicPartition{topic, p}
	pl := t.parts[k]
	if pl == nil {
		pl = &partitionLag{next: -1}
		t.parts[k] = pl
	}
	return pl
}

// fetched records a fetch of partition p of topic: its high watermark and, before anything
// of it was committed, the first offset fetched as where the group stands.
func (t *lagTracker) fetched(topic string, p int32, high, first int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pl := t.part(topic, p)
	pl.high = high
	if pl.next < 0 {
		pl.next = first
	}
}

// committed records that records up to offset of partition p of topic are committed.
func (t *lagTracker) committed(topic string, p int32, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pl := t.part(topic, p)
	pl.next = max(pl.next, offset+1)
	pl.high = max(pl.high, pl.next)
}

// revoked forgets partitions this member no longer owns.
func (t *lagTracker) revoked(m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			delete(t.parts, topicPartition{topic, p})
		}
	}
}

// lag sums the lag of the partitions followed.
func (t *lagTracker) lag() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, pl := range t.parts {
		if pl.next >= 0 && pl.high > pl.next {
			n += pl.high - pl.next
		}
	}
	return n
}

// Route is one reverse route running. Start it once; Stop it once.
type Route struct {
	cfg   Config
	rc    *config.ReverseRoute
	log   *slog.Logger
	topic *mqtttopic.Template
	group string
	kopts []kgo.Opt
	kc    *kgo.Client // created by Start: a client joins its group at once
	cm    *autopaho.ConnectionManager
	seed  maphash.Seed

	maxPacket atomic.Uint32                   // the broker's Maximum Packet Size; 0: none given
	epoch     atomic.Pointer[context.Context] // done when the current connection drops; nil while down
	epochStop context.CancelFunc              // guarded by epochMu
	epochMu   sync.Mutex
	connected atomic.Bool
	lags      lagTracker

	pollCtx  context.Context // canceled by Stop: no further poll
	stopPoll context.CancelFunc
	workCtx  context.Context // canceled when Stop runs out of time: the batch is abandoned
	stopWork context.CancelFunc
	done     chan struct{}
	runErr   error
}

// New checks cfg and creates the route's Kafka client; nothing is consumed before Start.
func New(cfg Config) (*Route, error) {
	rc := &cfg.Route
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 64
	}
	if cfg.Calls == nil {
		cfg.Calls = context.Background()
	}
	tpl, err := mqtttopic.ParseRecordTemplate(rc.To.Topic)
	if err != nil {
		return nil, fmt.Errorf("reverse route %s: to.topic: %w", rc.Name, err)
	}
	tenant := ""
	if cfg.Tenant != nil {
		tenant = cfg.Tenant.Name
	}
	r := &Route{cfg: cfg, rc: rc, topic: tpl, seed: maphash.MakeSeed(), done: make(chan struct{}),
		group: rc.GroupID(cfg.Kafka.ClientID, tenant)}
	r.log = cfg.Log.With(slog.String("reverse_route", rc.Name))
	if tenant != "" {
		r.log = r.log.With(slog.String("tenant", tenant))
	}
	opts, err := kafkasink.ClientOptions(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(rc.From...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// Rebalances wait until a polled batch is finished and committed, so nothing is
		// committed for a partition this member no longer owns, and a revocation finds
		// nothing in flight.
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// A gateway that died gives its partitions up after 10 s (Kafka's default is 45 s):
		// commands to devices should not wait that long.
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(time.Second),
		// Static membership keyed by the route's MQTT client id (unique per gateway
		// instance): a gateway that restarts, or a route a reload rebuilds, takes its own
		// partitions back at once, without a rebalance of the whole group.
		kgo.InstanceID(cfg.ClientID),
		kgo.RebalanceTimeout(20*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Info("reverse route partitions assigned", slog.Any("partitions", m))
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Info("reverse route partitions revoked", slog.Any("partitions", m))
			r.lags.revoked(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.lags.revoked(m)
		}),
	)
	r.kopts = opts
	return r, nil
}

// Group returns the route's consumer group id.
func (r *Route) Group() string { return r.group }

// Connected reports whether the route's MQTT session is up.
func (r *Route) Connected() bool { return r.connected.Load() }

// Lag is the route's consumer lag in records: over the partitions it owns, the high
// watermark of the last fetch less the committed offset. It is as of the last fetch that
// returned records (an idle route asks Kafka nothing more).
func (r *Route) Lag() int64 { return r.lags.lag() }

// Start connects the MQTT session and joins the consumer group. A route replacing another of
// the same name (a reload) must start after the other stopped: they share a static group
// membership, and the newer one fences the older one's commits.
func (r *Route) Start(ctx context.Context) error {
	kc, err := kgo.NewClient(r.kopts...)
	if err != nil {
		return fmt.Errorf("reverse route %s: kafka: %w", r.rc.Name, err)
	}
	r.kc = kc
	m := r.cfg.MQTT
	u, err := url.Parse(m.URL)
	if err != nil {
		return fmt.Errorf("mqtt.url: %w", err)
	}
	ac := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     uint16(max(m.KeepAlive/time.Second, 1)),
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0, // a lost publish is sent again from Kafka's offsets
		ReconnectBackoff:              autopaho.NewExponentialBackoff(m.ReconnectMin, m.ReconnectMax, m.ReconnectMin, 2),
		ConnectTimeout:                m.ConnectTimeout,
		ConnectUsername:               m.Username,
		ConnectPassword:               []byte(m.Password.Value()),
		OnConnectionUp:                r.onUp,
		OnConnectionDown:              r.onDown,
		OnConnectError: func(err error) {
			r.log.Warn("reverse route: mqtt connect failed", slog.String("url", m.URL), slog.String("error", err.Error()))
		},
		ClientConfig: paho.ClientConfig{ClientID: r.cfg.ClientID,
			OnClientError: func(err error) {
				r.log.Warn("reverse route: mqtt client error", slog.String("error", err.Error()))
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				r.log.Warn("reverse route: the broker disconnected", slog.Int("reason_code", int(d.ReasonCode)))
			},
		},
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "wss":
		tc, err := m.TLS.ClientConfig("mqtt.tls")
		if err != nil {
			return err
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		ac.TlsCfg = tc
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
		// paho reads a packet a few bytes at a time: a read buffer saves most of the
		// system calls of receiving acknowledgements (ws:// and wss:// keep autopaho's dialer).
		ac.AttemptConnection = func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			return dialBuffered(ctx, u, ac.TlsCfg, m.ConnectTimeout)
		}
	}
	// The session lives until Stop, not until ctx of a reload ends.
	cm, err := autopaho.NewConnection(context.WithoutCancel(ctx), ac)
	if err != nil {
		return fmt.Errorf("reverse route %s: mqtt: %w", r.rc.Name, err)
	}
	r.cm = cm
	r.pollCtx, r.stopPoll = context.WithCancel(context.Background())
	r.workCtx, r.stopWork = context.WithCancel(context.Background())
	go r.run()
	return nil
}

func (r *Route) onUp(_ *autopaho.ConnectionManager, ack *paho.Connack) {
	if ack.Properties != nil && ack.Properties.MaximumPacketSize != nil {
		r.maxPacket.Store(*ack.Properties.MaximumPacketSize)
	} else {
		r.maxPacket.Store(0)
	}
	r.epochMu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	r.epochStop = cancel
	r.epoch.Store(&ctx)
	r.epochMu.Unlock()
	r.connected.Store(true)
	r.log.Info("reverse route: mqtt connected", slog.String("client_id", r.cfg.ClientID))
}

func (r *Route) onDown() bool {
	r.connected.Store(false)
	r.epochMu.Lock()
	r.epoch.Store(nil)
	if r.epochStop != nil {
		r.epochStop() // publishes waiting for an acknowledgement on that connection give up
		r.epochStop = nil
	}
	r.epochMu.Unlock()
	r.log.Warn("reverse route: mqtt connection lost; reconnecting")
	return true
}

// Stop stops polling, finishes the batch in hand (its publishes and its commit), leaves the
// consumer group and disconnects. When ctx ends first, the batch is abandoned uncommitted:
// its records are consumed again by whoever owns their partitions next.
func (r *Route) Stop(ctx context.Context) error {
	if r.stopPoll == nil { // never started, or failed to
		if r.kc != nil {
			r.kc.Close()
		}
		return nil
	}
	r.stopPoll()
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		r.stopWork()
		<-r.done
		err = fmt.Errorf("reverse route %s: stopped before its batch was acknowledged; it will be consumed again", r.rc.Name)
	}
	r.stopWork()
	r.kc.Close() // leaves the group: its partitions move to the other members at once
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.cm.Disconnect(dctx)
	return errors.Join(err, r.runErr)
}

// run polls, processes and commits, batch by batch, until Stop.
func (r *Route) run() {
	defer close(r.done)
	for r.pollCtx.Err() == nil {
		fs := r.kc.PollRecords(r.pollCtx, maxPoll)
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("reverse route: fetch failed", slog.String("topic", topic), slog.Int("partition", int(p)),
					slog.String("error", err.Error()))
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				r.lags.fetched(p.Topic, p.Partition, p.HighWatermark, p.Records[0].Offset)
			}
		})
		r.setLag()
		recs := fs.Records()
		if len(recs) == 0 {
			r.kc.AllowRebalance()
			continue
		}
		r.count(r.cfg.Metrics.Consumed, consumed, len(recs))
		if !r.process(recs) {
			// Abandoned (Stop out of time): nothing of this batch is committed.
			r.kc.AllowRebalance()
			return
		}
		if err := r.kc.CommitRecords(r.workCtx, recs...); err != nil {
			r.log.Warn("reverse route: commit failed; the batch will be consumed again",
				slog.Int("records", len(recs)), slog.String("error", err.Error()))
		} else {
			r.count(r.cfg.Metrics.Committed, committed, len(recs))
			for _, rec := range recs {
				r.lags.committed(rec.Topic, rec.Partition, rec.Offset)
			}
			r.setLag()
		}
		r.kc.AllowRebalance()
	}
}

func (r *Route) setLag() {
	if r.cfg.Metrics.Lag != nil {
		r.cfg.Metrics.Lag.Set(float64(r.lags.lag()))
	}
}

// output is one publish to make, with the record it came from.
type output struct {
	rec   *kgo.Record
	msg   abi.Message // as the chain left it
	topic string
}

// process publishes or dead-letters every record of recs and reports whether it finished;
// false means the work context ended first.
func (r *Route) process(recs []*kgo.Record) bool {
	ctx := r.workCtx
	lanes := make([][]output, r.rc.MaxInFlight)
	var dead sync.WaitGroup
	var failed atomic.Bool
	deadLetter := func(rec *kgo.Record, kind, why, topic string) {
		r.count(r.cfg.Metrics.DeadLettered, deadLettered, 1)
		dead.Go(func() {
			if !r.produceDeadLetter(ctx, rec, kind, why, topic) {
				failed.Store(true)
			}
		})
	}
	msgs := make([]abi.Message, 0, r.cfg.MaxBatch)
	for start := 0; start < len(recs); start += r.cfg.MaxBatch {
		batch := recs[start:min(start+r.cfg.MaxBatch, len(recs))]
		msgs = msgs[:0]
		for _, rec := range batch {
			msgs = append(msgs, r.message(rec))
		}
		var results []wasmhost.ChainResult
		if r.cfg.Chain != nil {
			results = r.cfg.Chain.Process(r.cfg.Calls, msgs)
		}
		for i, rec := range batch {
			outs := []abi.Message{msgs[i]}
			if results != nil {
				res := results[i]
				if res.Err != nil {
					if errors.Is(res.Err, context.Canceled) || r.cfg.Calls.Err() != nil {
						return false
					}
					deadLetter(rec, KindPluginError, res.Err.Error(), "")
					continue
				}
				outs = res.Outputs
			}
			lane := r.lane(rec)
			for _, o := range outs {
				topic, kind, why := r.render(&o, rec.Topic)
				if kind != "" {
					deadLetter(rec, kind, why, topic)
					continue
				}
				lanes[lane] = append(lanes[lane], output{rec: rec, msg: o, topic: topic})
			}
		}
	}
	var wg sync.WaitGroup
	for _, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		wg.Go(func() {
			for i := range lane {
				switch kind, why := r.publish(ctx, &lane[i]); kind {
				case "":
				case "abandoned":
					failed.Store(true)
					return
				default:
					deadLetter(lane[i].rec, kind, why, lane[i].topic)
				}
			}
		})
	}
	wg.Wait()
	dead.Wait()
	return !failed.Load() && ctx.Err() == nil
}

// lane picks the lane of rec: by partition and key, so one key's records stay in order.
func (r *Route) lane(rec *kgo.Record) int {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(rec.Topic)
	var p [4]byte
	p[0], p[1], p[2], p[3] = byte(rec.Partition), byte(rec.Partition>>8), byte(rec.Partition>>16), byte(rec.Partition>>24)
	h.Write(p[:])
	h.Write(rec.Key)
	return int(h.Sum64() % uint64(r.rc.MaxInFlight))
}

// message is the chain's input for rec (sdk/ABI.md §3): payload, key and headers of the
// record, kafka_topic the topic it was read from, no MQTT topic.
func (r *Route) message(rec *kgo.Record) abi.Message {
	m := abi.Message{
		Payload:     rec.Value,
		Route:       r.rc.Name,
		QoS:         byte(r.rc.To.QoS),
		Retain:      r.rc.To.Retain,
		ArrivedAtMs: rec.Timestamp.UnixMilli(),
		KafkaTopic:  rec.Topic,
		Key:         rec.Key,
		KeySet:      rec.Key != nil,
	}
	if r.cfg.Tenant != nil {
		m.Tenant = r.cfg.Tenant.Name
	}
	if len(rec.Headers) > 0 {
		m.Headers = make([]abi.Property, len(rec.Headers))
		for i, h := range rec.Headers {
			m.Headers[i] = abi.Property{Name: h.Key, Value: string(h.Value)}
		}
	}
	return m
}

// fields is what the MQTT topic template reads from an output.
type fields struct {
	m      *abi.Message
	source string
}

func (f *fields) Key() string {
	if !f.m.KeySet {
		return ""
	}
	return string(f.m.Key)
}

func (f *fields) Header(name string) string {
	for _, h := range f.m.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

func (f *fields) KafkaTopic() string { return f.source }

// AppendPayloadField appends the text of the payload's field at path (an sdk/jsonfield
// path): a string's value, a number as written, true or false; anything else is an error.
func (f *fields) AppendPayloadField(dst []byte, path string) ([]byte, error) {
	v, err := jsonfield.Lookup(f.m.Payload, path)
	if err != nil {
		return dst, err
	}
	switch v.Kind() {
	case jsonfield.String:
		s, _ := v.Text()
		return append(dst, s...), nil
	case jsonfield.Number, jsonfield.Bool:
		return append(dst, v.Raw()...), nil
	}
	return dst, errors.New("is " + v.Kind().String() + ", not a string, number or bool")
}

// render renders o's MQTT topic and checks it; kind is set when o must be dead-lettered.
func (r *Route) render(o *abi.Message, source string) (topic, kind, why string) {
	b, err := r.topic.AppendRecord(nil, &fields{m: o, source: source})
	topic = string(b)
	if err != nil {
		return topic, KindMissingField, fmt.Sprintf("to.topic %q: %v", r.rc.To.Topic, err)
	}
	switch {
	case !mqtttopic.ValidTopic(topic):
		return topic, KindBadTopic, fmt.Sprintf("MQTT topic %q rendered from to.topic %q is not a valid topic name (empty, too long, not UTF-8, or with + or #)", topic, r.rc.To.Topic)
	case r.cfg.Tenant != nil && !r.cfg.Tenant.MQTTTopicAllowed(topic):
		return topic, KindNamespace, fmt.Sprintf("MQTT topic %q is outside tenant %s's MQTT namespace %q", topic, r.cfg.Tenant.Name, r.cfg.Tenant.MQTTPrefixes)
	}
	if lim := r.maxPacket.Load(); lim > 0 {
		if n := packetSize(topic, o); n > int(lim) {
			return topic, KindTooLarge, fmt.Sprintf("publish of %d bytes is over the broker's maximum packet size of %d bytes", n, lim)
		}
	}
	return topic, "", ""
}

// packetSize is the size of the PUBLISH packet for o on topic, at most a few bytes over.
func packetSize(topic string, o *abi.Message) int {
	props := 0
	for _, h := range o.Headers {
		props += 1 + 2 + len(h.Name) + 2 + len(h.Value)
	}
	return 1 + 4 + 2 + len(topic) + 2 + 4 + props + len(o.Payload)
}

// publish sends o until the broker acknowledges it. It returns "" when acknowledged,
// "abandoned" when ctx ended first, or a dead-letter kind and why when the broker refused
// it. A connection lost while waiting sends it again after the reconnection.
func (r *Route) publish(ctx context.Context, o *output) (kind, why string) {
	pub := &paho.Publish{Topic: o.topic, QoS: byte(r.rc.To.QoS), Retain: r.rc.To.Retain, Payload: o.msg.Payload}
	if len(o.msg.Headers) > 0 {
		pub.Properties = &paho.PublishProperties{}
		for _, h := range o.msg.Headers {
			pub.Properties.User.Add(h.Name, h.Value)
		}
	}
	backoff := 10 * time.Millisecond
	for {
		ep := r.epoch.Load()
		if ep == nil {
			if err := r.cm.AwaitConnection(ctx); err != nil {
				return "abandoned", ""
			}
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(*ep, cancel)
		resp, err := r.cm.Publish(pctx, pub)
		stop()
		cancel()
		if err == nil && (resp == nil || resp.ReasonCode < 0x80) {
			r.count(r.cfg.Metrics.Published, published, 1)
			return "", ""
		}
		if ctx.Err() != nil {
			return "abandoned", ""
		}
		// paho returns a PUBACK's refusal as an error, a PUBREC's (QoS 2) without one.
		if resp != nil && resp.ReasonCode >= 0x80 {
			reason := ""
			if resp.Properties != nil {
				reason = resp.Properties.ReasonString
			}
			return KindRefused, fmt.Sprintf("broker refused the publish to %q: reason code 0x%02x %s", o.topic, resp.ReasonCode, reason)
		}
		if errors.Is(err, paho.ErrInvalidArguments) {
			return KindRefused, err.Error()
		}
		r.log.Debug("reverse route: publish failed; sending again", slog.String("topic", o.topic), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return "abandoned", ""
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// produceDeadLetter writes rec to the dead-letter topic with headers saying why, retrying
// until Kafka acknowledges it or ctx ends (false).
func (r *Route) produceDeadLetter(ctx context.Context, rec *kgo.Record, kind, why, topic string) bool {
	hs := r.deadLetterHeaders(rec, kind, why, topic)
	backoff := 100 * time.Millisecond
	for {
		dl := &kgo.Record{Topic: r.rc.DeadLetter, Key: rec.Key, Value: rec.Value, Headers: hs}
		err := r.kc.ProduceSync(ctx, dl).FirstErr()
		if err == nil {
			r.log.Warn("reverse route: record dead-lettered", slog.String("kind", kind), slog.String("error", why),
				slog.String("topic", rec.Topic), slog.Int("partition", int(rec.Partition)), slog.Int64("offset", rec.Offset))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		r.log.Warn("reverse route: dead letter not written; retrying", slog.String("dead_letter", r.rc.DeadLetter), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// deadLetterHeaders are the headers of rec's dead letter: the record's own, then why (cut to
// 1 KiB), where it came from and, when there was one, the MQTT topic rendered.
func (r *Route) deadLetterHeaders(rec *kgo.Record, kind, why, topic string) []kgo.RecordHeader {
	if len(why) > 1024 {
		why = why[:1024]
	}
	hs := append([]kgo.RecordHeader(nil), rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: kafkasink.HeaderRoute, Value: []byte(r.rc.Name)},
		kgo.RecordHeader{Key: kafkasink.HeaderErrorKind, Value: []byte(kind)},
		kgo.RecordHeader{Key: kafkasink.HeaderError, Value: []byte(why)},
		kgo.RecordHeader{Key: kafkasink.HeaderOriginalTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
	)
	if r.cfg.Tenant != nil {
		hs = append(hs, kgo.RecordHeader{Key: kafkasink.HeaderTenant, Value: []byte(r.cfg.Tenant.Name)})
	}
	if topic != "" {
		hs = append(hs, kgo.RecordHeader{Key: HeaderMQTTTopic, Value: []byte(topic)})
	}
	return hs
}

// bufferedConn is a connection whose reads go through a buffer and whose packets leave in
// one write each. paho writes a packet as several buffers between Lock and Unlock when the
// connection is a sync.Locker (packets.ControlPacket.WriteTo); publishes run on several
// goroutines at once, so without the lock their pieces would interleave (a wrapped
// connection loses net.Conn's atomic writev). Unlock sends the packet collected since Lock.
type bufferedConn struct {
	net.Conn
	r    *bufio.Reader
	mu   sync.Mutex // held by paho from Lock to Unlock
	buf  []byte     // the packet being collected
	werr error      // the first write error; later writes fail with it
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Lock starts a packet.
func (c *bufferedConn) Lock() { c.mu.Lock() }

// Write collects p into the packet being written; call it between Lock and Unlock.
func (c *bufferedConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// Unlock sends the packet. A failed write closes the connection, so paho reconnects and the
// publishes waiting on it are sent again.
func (c *bufferedConn) Unlock() {
	if len(c.buf) > 0 && c.werr == nil {
		if _, err := c.Conn.Write(c.buf); err != nil {
			c.werr = err
			_ = c.Conn.Close()
		}
	}
	c.buf = c.buf[:0]
	c.mu.Unlock()
}

// dialBuffered dials u (TCP, or TLS with tc) within timeout and buffers its reads.
func dialBuffered(ctx context.Context, u *url.URL, tc *tls.Config, timeout time.Duration) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		port := "1883"
		if tc != nil {
			port = "8883"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	var err error
	if tc != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", host)
	} else {
		conn, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 32<<10)}, nil
}
