package loadbench

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/faultproxy"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/mosquitto"
)

// ModeSoak publishes at Rate for Duration while a fault scheduler breaks things; see Soak.
const ModeSoak = "soak"

// Fault kinds of the soak (Options.Faults).
const (
	// FaultGatewayKill sends the gateway SIGKILL and starts it again after a pause.
	FaultGatewayKill = "gateway-kill"
	// FaultBrokerRestart stops Mosquitto cleanly (SIGINT: it saves its persistence file) and
	// starts it again on the same port and file after a pause. A SIGKILL would lose what it
	// acknowledged since its last save, which no client can recover.
	FaultBrokerRestart = "broker-restart"
	// FaultKafkaDown makes Kafka refuse every produce with a retriable error for a while.
	FaultKafkaDown = "kafka-down"
	// FaultKafkaSlow adds 100-500ms of latency between the gateway and Kafka for a while.
	FaultKafkaSlow = "kafka-slow"
	// FaultMQTTCut cuts the network between the gateway and the broker for a while: open
	// connections are closed, new ones get no answer until it heals.
	FaultMQTTCut = "mqtt-cut"
	// FaultKafkaCut cuts the network between the gateway and Kafka for a while.
	FaultKafkaCut = "kafka-cut"
	// FaultPlugin makes the next plugin-route messages trap, loop and return garbage, on top
	// of the one in 25 that always do.
	FaultPlugin = "plugin"
	// FaultPoison publishes one poison message of each kind (empty, 1 MB, invalid UTF-8,
	// invalid JSON, deep nesting, binary) to the plugin route.
	FaultPoison = "poison"
)

// FaultKinds returns every soak fault kind, in a fixed order. The slice is new on every call.
func FaultKinds() []string {
	return []string{FaultGatewayKill, FaultBrokerRestart, FaultKafkaDown, FaultKafkaSlow,
		FaultMQTTCut, FaultKafkaCut, FaultPlugin, FaultPoison}
}

// SoakResult is what a soak run measured. Every message is counted once, by where its first
// copy landed; Lost must be 0.
type SoakResult struct {
	Seed int64 `json:"seed"`
	// Published counts messages the broker acknowledged (QoS 1 or 2), of all routes;
	// PublishedQoS2 of them at QoS 2.
	Published     int64 `json:"published"`
	PublishedQoS2 int64 `json:"published_qos2"`
	// PoisonPublished and PluginFaultsPublished (by fault) are the published messages that
	// should be dead-lettered.
	PoisonPublished       int64            `json:"poison_published"`
	PluginFaultsPublished map[string]int64 `json:"plugin_faults_published"`
	// Delivered counts messages read from their route's topic; DeadLettered those read from
	// the dead-letter topic (delivered to the DLQ, not lost).
	Delivered    int64 `json:"delivered"`
	DeadLettered int64 `json:"dead_lettered"`
	// DeadLetterRecords counts dead-letter records (duplicates included) by the
	// tributary.error.kind header.
	DeadLetterRecords map[string]int64 `json:"dead_letter_records"`
	// Misrouted counts messages that landed in the dead-letter topic without being poison or
	// plugin-fault messages, or the other way round.
	Misrouted int64 `json:"misrouted"`
	// MisroutedBy counts misrouted messages by the dead-letter kind of their first
	// dead-letter record, or "delivered" for bad messages read from the route's topic.
	MisroutedBy map[string]int64 `json:"misrouted_by,omitempty"`
	// Duplicated counts extra copies; Lost counts published messages never read back.
	Duplicated int64 `json:"duplicated"`
	Lost       int64 `json:"lost"`
	// Unacknowledged counts records of messages the broker never acknowledged to the
	// publisher (a publish cut by a broker restart, then retried), or that are not the
	// run's at all.
	Unacknowledged int64 `json:"unacknowledged"`
	// OrderViolations counts messages whose first copy in their route's topic came after a
	// later message of the same MQTT topic (dead letters are not counted).
	OrderViolations int64 `json:"order_violations"`
	// PeakRSSBytes is the highest VmHWM of the gateway processes.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Faults counts the faults injected by kind; FaultLog lists them.
	Faults   map[string]int `json:"faults"`
	FaultLog []string       `json:"fault_log"`
	// DrainSeconds is the time from the end of publishing until every message was read back
	// (or the wait gave up).
	DrainSeconds float64 `json:"drain_seconds"`
	// LostExamples names a few lost messages.
	LostExamples []string `json:"lost_examples,omitempty"`
}

// soak is one soak run's moving parts.
type soak struct {
	o       *Options
	dir     string
	cfg     []byte
	admin   string
	log     func(format string, args ...any)
	kafka   *soakKafka
	mqProxy *faultproxy.Proxy

	broker   *mosquitto.Process
	brokerMu sync.Mutex

	gwMu    sync.Mutex // guards gw, which sampleRSS reads from another goroutine
	gw      *runningGateway
	peakRSS atomic.Int64

	pubs   *soakPublishers
	faults map[string]int
	fLog   []string
	notes  []string
	start  time.Time
}

// runSoak runs ModeSoak in dir with run id run: it builds the misbehaving plugin, starts
// Mosquitto with persistence, kfake, the two fault proxies and a gateway subprocess, then
// publishes for o.Duration while schedule injects faults, waits for the backlog to drain
// (at most o.Settle without progress) and tallies. It returns an error only when a part
// cannot start or ctx ends while publishing; losses are results.
func runSoak(ctx context.Context, o Options, run, dir string) (*Result, error) {
	s := &soak{o: &o, dir: dir, faults: make(map[string]int), start: time.Now()}
	s.log = func(format string, args ...any) {
		if o.Progress != nil {
			prefix := ""
			if o.ProgressTTY {
				prefix = "\r\033[K"
			}
			fmt.Fprintf(o.Progress, "%ssoak %7.1fs  %s\n", prefix, time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	st := &stack{}
	defer st.close()

	s.log("building the soak plugin")
	pluginDir, err := buildSoakPlugin(ctx, dir)
	if err != nil {
		return nil, err
	}
	bin := o.MosquittoPath
	if bin == "" {
		bin = DefaultMosquitto
	}
	mqDir := dir + "/mosquitto"
	if err := os.MkdirAll(mqDir, 0o755); err != nil {
		return nil, fmt.Errorf("mosquitto dir %s: %w", mqDir, err)
	}
	if s.broker, err = startMosquitto(ctx, bin, mqDir, true); err != nil {
		return nil, err
	}
	st.push(func() { s.brokerMu.Lock(); stopMosquitto(s.broker); s.brokerMu.Unlock() })
	if s.mqProxy, err = faultproxy.New(s.broker.Addr()); err != nil {
		return nil, err
	}
	st.push(s.mqProxy.Close)
	topics := soakTopics{main: "soak_main_" + run, plugin: "soak_plugin_" + run, dlq: "soak_dlq_" + run}
	if s.kafka, err = startSoakKafka(topics.all()...); err != nil {
		return nil, err
	}
	st.push(s.kafka.close)

	tr := newSoakTracker(run, o.TopicPrefix, topics)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka.real), kgo.Dialer(s.kafka.dial), kgo.ConsumeTopics(topics.all()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	cctx, stopConsumer := context.WithCancel(ctx)
	var consumer sync.WaitGroup
	consumer.Go(func() {
		for cctx.Err() == nil {
			cl.PollFetches(cctx).EachRecord(tr.record)
		}
	})
	st.push(func() { stopConsumer(); consumer.Wait(); cl.Close() })

	if s.admin, err = reserveAdmin(); err != nil {
		return nil, err
	}
	mqURL := "tcp://" + s.mqProxy.Addr()
	if err := primeSession(ctx, s.broker.URL(), o.ClientID, []string{o.TopicPrefix + "/#", o.TopicPrefix + "-p/#"}, 2); err != nil {
		return nil, err
	}
	s.cfg = soakGatewayConfig(&o, mqURL, s.kafka.gatewayAddr(), pluginDir, s.admin, topics)
	if err := s.startGateway(ctx); err != nil {
		return nil, err
	}
	st.push(func() {
		s.gwMu.Lock()
		defer s.gwMu.Unlock()
		if s.gw != nil {
			_ = s.gw.stop()
		}
	})
	sampler, stopSampler := context.WithCancel(ctx)
	var sampling sync.WaitGroup
	sampling.Go(func() {
		for sampler.Err() == nil {
			waitUntil(sampler, 500*time.Millisecond, func() bool { return false })
			s.sampleRSS()
		}
	})
	defer func() { stopSampler(); sampling.Wait() }()

	s.pubs = newSoakPublishers(&o, s.broker.URL(), run)
	s.log("publishing %.0f msg/s for %v over %d topics (seed %d, faults %v)", o.Rate, o.Duration, o.Topics, o.Seed, o.Faults)
	stopPub, endPub := context.WithTimeout(ctx, o.Duration)
	defer endPub()
	var publishing sync.WaitGroup
	publishing.Go(func() { s.pubs.publish(ctx, stopPub) })
	progress := func() {
		d := tr.seenDistinct()
		s.log("published %d  read %d (+%d copies)", s.pubs.total(), d, tr.records()-d)
	}
	s.schedule(stopPub, progress)
	publishing.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	if err := s.ensureGateway(ctx); err != nil {
		return nil, err
	}

	s.log("published %d; waiting for the backlog to drain", s.pubs.total())
	drainStart := time.Now()
	want := s.pubs.total()
	last, changed := int64(-1), time.Now()
	for tr.seenDistinct() < want {
		if n := tr.seenDistinct(); n != last {
			last, changed = n, time.Now()
		}
		if time.Since(changed) > o.Settle {
			s.notes = append(s.notes, fmt.Sprintf("no new record for %v: stopped waiting with %d of %d", o.Settle, last, want))
			break
		}
		if ctx.Err() != nil {
			s.notes = append(s.notes, fmt.Sprintf("timed out waiting for records: %d of %d", last, want))
			break
		}
		_ = s.ensureGateway(ctx)
		waitUntil(ctx, 100*time.Millisecond, func() bool { return false })
	}
	drain := time.Since(drainStart)
	// Give late duplicates a moment to show, so the count is honest.
	waitUntil(ctx, time.Second, func() bool { return false })
	s.sampleRSS()
	s.log("drained in %.1fs", drain.Seconds())

	s.pubs.mu.Lock()
	published := s.pubs.published
	sr := &SoakResult{Seed: o.Seed, Published: int64(len(published)), PublishedQoS2: s.pubs.qos2,
		PoisonPublished: s.pubs.poison, PluginFaultsPublished: s.pubs.faulty}
	s.pubs.mu.Unlock()
	t := tr.tally(published)
	sr.Delivered, sr.DeadLettered, sr.Lost, sr.Duplicated = t.delivered, t.deadLettered, t.lost, t.duplicated
	sr.MisroutedBy = t.misroutedWhy
	sr.Misrouted, sr.Unacknowledged, sr.OrderViolations, sr.DeadLetterRecords = t.misrouted, t.foreign, t.order, t.reasons
	for _, id := range t.lostExamples {
		sr.LostExamples = append(sr.LostExamples, fmt.Sprintf("stream %d topic %d seq %d", id.stream, id.topic, id.seq))
	}
	sr.PeakRSSBytes = s.peakRSS.Load()
	sr.Faults, sr.FaultLog, sr.DrainSeconds = s.faults, s.fLog, drain.Seconds()
	res := &Result{Mode: ModeSoak, Gateway: GatewaySubprocess, Protocol: cmp.Or(o.Protocol, "5"), Broker: "mosquitto (persistence) " + s.broker.URL(),
		Kafka: "embedded kfake " + s.kafka.real, KafkaTopic: topics.main, QoS: 1, Topics: o.Topics,
		Publishers: o.Publishers, PayloadBytes: o.PayloadBytes, TargetRate: o.Rate,
		Published: sr.Published, Received: sr.Delivered + sr.DeadLettered, Lost: sr.Lost, Duplicated: sr.Duplicated,
		Foreign: sr.Unacknowledged, PeakRSSBytes: sr.PeakRSSBytes, CPUScope: "gateway processes", Notes: s.notes, Soak: sr}
	return res, nil
}

// sampleRSS folds the current gateway's VmHWM into the peak.
func (s *soak) sampleRSS() {
	s.gwMu.Lock()
	pid := 0
	if s.gw != nil {
		pid = s.gw.pid
	}
	s.gwMu.Unlock()
	if pid == 0 {
		return
	}
	if rss, err := procPeakRSS(pid); err == nil {
		for {
			old := s.peakRSS.Load()
			if rss <= old || s.peakRSS.CompareAndSwap(old, rss) {
				break
			}
		}
	}
}

// startGateway starts a gateway subprocess and waits until it is ready.
func (s *soak) startGateway(ctx context.Context) error {
	o := *s.o
	o.Gateway = GatewaySubprocess
	gw, err := startGateway(&o, s.cfg, s.admin, s.dir, nil)
	if err != nil {
		return err
	}
	s.gwMu.Lock()
	s.gw = gw
	s.gwMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return gw.waitReady(rctx)
}

// ensureGateway restarts a gateway that exited on its own, noting it.
func (s *soak) ensureGateway(ctx context.Context) error {
	s.gwMu.Lock()
	gw := s.gw
	s.gwMu.Unlock()
	select {
	case <-gw.exited:
	default:
		return nil
	}
	tail := ""
	if gw.errOut != nil {
		tail = lastLines(gw.errOut.String(), 3)
	}
	s.notes = append(s.notes, "gateway exited on its own and was restarted: "+tail)
	s.log("gateway exited on its own: %s", tail)
	return s.startGateway(ctx)
}

// schedule injects one fault at a time until ctx ends: the first len(Faults) faults are the
// kinds in a seeded random order, so each runs once as early as possible, then kinds drawn
// at random. Each fault is held for 40-80% of FaultEvery, healed, and the next one starts
// FaultEvery after the previous one. progress runs between faults.
func (s *soak) schedule(ctx context.Context, progress func()) {
	rng := rand.New(rand.NewPCG(uint64(s.o.Seed), 0x5eed))
	order := slices.Clone(s.o.Faults)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	next := time.Now().Add(s.o.FaultEvery / 2)
	for i := 0; ; i++ {
		if !waitUntil(ctx, time.Until(next)+time.Millisecond, func() bool { return !time.Now().Before(next) }) {
			return
		}
		next = time.Now().Add(s.o.FaultEvery)
		progress()
		if err := s.ensureGateway(ctx); err != nil {
			s.notes = append(s.notes, "restarting the gateway: "+err.Error())
		}
		kind := order[rng.IntN(len(order))]
		if i < len(order) {
			kind = order[i]
		}
		hold := time.Duration(float64(s.o.FaultEvery) * (0.4 + 0.4*rng.Float64()))
		s.inject(ctx, kind, hold, rng)
	}
}

// inject runs one fault for hold and heals it. It heals even when ctx ends meanwhile.
func (s *soak) inject(ctx context.Context, kind string, hold time.Duration, rng *rand.Rand) {
	s.faults[kind]++
	note := func(format string, args ...any) {
		line := fmt.Sprintf("%7.1fs %s: %s", time.Since(s.start).Seconds(), kind, fmt.Sprintf(format, args...))
		s.fLog = append(s.fLog, line)
		s.log("fault %s", line[9:])
	}
	holdFor := func() { waitUntil(context.Background(), hold, func() bool { return false }) }
	bg := context.WithoutCancel(ctx)
	switch kind {
	case FaultGatewayKill:
		s.sampleRSS()
		s.gwMu.Lock()
		gw := s.gw
		s.gwMu.Unlock()
		_ = syscall.Kill(gw.pid, syscall.SIGKILL)
		<-gw.exited
		note("SIGKILL pid %d, restart in %v", gw.pid, hold.Round(time.Millisecond))
		holdFor()
		if err := s.startGateway(bg); err != nil {
			s.notes = append(s.notes, "gateway restart: "+err.Error())
		}
	case FaultBrokerRestart:
		note("SIGINT mosquitto, restart in %v", hold.Round(time.Millisecond))
		s.brokerMu.Lock()
		stopMosquitto(s.broker)
		holdFor()
		var err error
		for range 50 { // the port may take a moment to be free again
			if err = startBrokerProcess(bg, s.broker); err == nil {
				break
			}
			waitUntil(bg, 100*time.Millisecond, func() bool { return false })
		}
		s.brokerMu.Unlock()
		if err != nil {
			s.notes = append(s.notes, "mosquitto restart: "+err.Error())
		}
	case FaultKafkaDown:
		note("produce refused for %v", hold.Round(time.Millisecond))
		s.kafka.down.Store(true)
		holdFor()
		s.kafka.down.Store(false)
	case FaultKafkaSlow:
		d := time.Duration(100+rng.IntN(400)) * time.Millisecond
		note("+%v latency for %v", d, hold.Round(time.Millisecond))
		s.kafka.proxy.Delay(d)
		holdFor()
		s.kafka.proxy.Delay(0)
	case FaultMQTTCut:
		note("gateway<->mqtt cut for %v", hold.Round(time.Millisecond))
		s.mqProxy.Blackhole()
		holdFor()
		_ = s.mqProxy.Restore() // ends the blackhole; it never listens again, so no error
	case FaultKafkaCut:
		note("gateway<->kafka cut for %v", hold.Round(time.Millisecond))
		s.kafka.proxy.Blackhole()
		holdFor()
		_ = s.kafka.proxy.Restore() // as above
	case FaultPlugin:
		note("next plugin-route messages trap, loop, return garbage")
		s.pubs.markBurst()
	case FaultPoison:
		note("one poison message of each kind %v", poisonKinds)
		if err := s.pubs.sendPoison(bg); err != nil {
			s.notes = append(s.notes, err.Error())
		}
	}
}

// checkSoak reports the soak-only option errors.
func (o *Options) checkSoak(bad func(format string, args ...any)) {
	if !(o.Rate > 0) {
		bad("rate %v: want more than 0 messages/s", o.Rate)
	}
	if o.Duration <= 0 {
		bad("duration %v: want more than 0", o.Duration)
	}
	if o.MQTT != "" || len(o.Kafka) > 0 || o.Gateway != GatewaySubprocess {
		bad("mode soak starts its own Mosquitto, Kafka and gateway subprocess: no mqtt url, no kafka brokers, gateway subprocess")
	}
	if o.FaultEvery <= 0 {
		bad("fault every %v: want more than 0", o.FaultEvery)
	}
	if len(o.Faults) == 0 {
		bad("faults: want at least one of %v", FaultKinds())
	}
	for _, f := range o.Faults {
		if !slices.Contains(FaultKinds(), f) {
			bad("faults: unknown kind %q, want some of %v", f, FaultKinds())
		}
	}
}

// writeTable writes the soak part of the result table through row.
func (r *SoakResult) writeTable(row func(name, format string, args ...any)) {
	row("seed", "%d", r.Seed)
	row("published", "%d (%d at QoS 2; %d poison, %d plugin-fault)", r.Published, r.PublishedQoS2, r.PoisonPublished, sumValues(r.PluginFaultsPublished))
	row("delivered", "%d to their route's topic, %d to the dead-letter topic", r.Delivered, r.DeadLettered)
	row("lost", "%d", r.Lost)
	row("duplicated", "%d", r.Duplicated)
	row("misrouted", "%d (%s)", r.Misrouted, formatCounts(r.MisroutedBy))
	row("unacknowledged", "%d", r.Unacknowledged)
	row("order violations", "%d", r.OrderViolations)
	row("dead letters", "%s", formatCounts(r.DeadLetterRecords))
	row("peak gateway rss", "%.1f MiB", float64(r.PeakRSSBytes)/(1<<20))
	row("drain", "%.1f s", r.DrainSeconds)
	faults := make(map[string]int64, len(r.Faults))
	for k, v := range r.Faults {
		faults[k] = int64(v)
	}
	row("faults", "%s", formatCounts(faults))
	for _, l := range r.LostExamples {
		row("lost example", "%s", l)
	}
}

func sumValues(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// formatCounts prints "a 1, b 2" in key order.
func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%s %d", k, m[k])
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}
