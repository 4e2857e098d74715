package loadbench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Run runs one benchmark as o says and returns what it measured. It starts what o asks for
// (broker, Kafka, gateway), stops all of it before returning, and removes its temp files.
//
// ModeSoak runs its own stack whatever o says about brokers (see ModeSoak and FaultKinds).
//
// Lost messages, duplicates and a gateway that fails to drain are results, not errors: they
// are counted or noted in the Result.
//
// # Errors
//
// Run returns an error, naming the option or the part, for invalid options (see
// Options.Check), a broker, Kafka or gateway that cannot start or become ready, a publish the
// broker refuses, and ctx or Options.Timeout ending before publishing finished.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	run := newRunID()
	dir, err := os.MkdirTemp("", "tributary-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	if o.Mode == ModeSoak {
		return runSoak(ctx, o, run, dir)
	}
	if o.Mode == ModeReverse {
		return runReverse(ctx, o, run, dir)
	}
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
	topic := o.KafkaTopic
	if topic == "" {
		topic = "tributary_bench_" + run
	}
	if o.FirstPartyChain > 0 {
		out := o.Progress
		if out == nil {
			out = io.Discard
		}
		if o.PluginDir, err = buildFirstParty(ctx, o.PluginCache, out); err != nil {
			return nil, err
		}
		o.PluginCacheDir = filepath.Join(o.PluginDir, "compiled")
	}
	lay := newLayout(&o, topic)
	kafkaTopics := lay.kafkaTopics()

	var registryURL string
	var dec *schemaDecoder
	schemaID := 0
	if o.Schema != "" {
		reg, id, err := startRegistry(o.Schema, kafkaTopics, st)
		if err != nil {
			return nil, err
		}
		if dec, err = newSchemaDecoder(o.Schema, id); err != nil {
			return nil, err
		}
		registryURL, schemaID = reg.URL(), id
	}

	tr := newTracker(run, o.Topics)
	cctx, stopConsumer := context.WithCancel(ctx)
	ready, consumed := make(chan struct{}), make(chan error, 1)
	go func() { consumed <- consume(cctx, brokers, kafkaTopics, tr, dec, ready) }()
	st.push(func() { stopConsumer(); <-consumed })
	select {
	case <-ready:
	case err := <-consumed:
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}

	var adminAddr string
	if o.Gateway != GatewayExternal {
		if adminAddr, err = reserveAdmin(); err != nil {
			return nil, err
		}
		for k := range lay.sessions() {
			if err := primeSession(ctx, mqttURL, lay.clientID(k), lay.filters(k), o.QoS); err != nil {
				return nil, err
			}
		}
	}
	cfgYAML, err := gatewayConfig(&o, lay, mqttURL, brokers, registryURL, adminAddr, dir)
	if err != nil {
		return nil, err
	}

	pubs, err := newPublishers(ctx, &o, lay, mqttURL, run)
	if err != nil {
		return nil, err
	}
	st.push(pubs.close)

	target := o.Count
	if o.Mode == ModeRate {
		target = int64(o.Rate * o.Duration.Seconds())
	}
	prog := startProgress(&o, target, pubs.total.Load, func() int64 { u, _ := tr.counts(); return u })
	progDone := false
	defer func() {
		if !progDone {
			prog.finish()
		}
	}()

	res := &Result{Mode: o.Mode, Gateway: o.Gateway, Protocol: cmp.Or(o.Protocol, "5"), Broker: brokerDesc, Kafka: kafkaDesc, KafkaTopic: strings.Join(kafkaTopics, ","),
		QoS: int(o.QoS), Topics: o.Topics, Publishers: o.Publishers, PayloadBytes: o.PayloadBytes,
		Routes: o.Routes, Tenants: o.Tenants, Chain: o.Chain, FirstPartyChain: o.FirstPartyChain}
	if o.Schema != "" {
		res.Schema = &SchemaInfo{Format: o.Schema, Subject: schemaSubject(kafkaTopics[0]), ID: schemaID, Registry: registryURL}
	}
	if o.Mode == ModeRate {
		res.TargetRate = o.Rate
	}

	var gw *runningGateway
	var windowStart, pubEnd time.Time
	var cpu0 time.Duration
	meter := cpuMeter{o: &o}
	switch o.Mode {
	case ModeBacklog:
		prog.setPhase("queueing")
		if err := pubs.publishCount(ctx, o.Count); err != nil {
			return nil, err
		}
		prog.setPhase("draining")
		windowStart = time.Now()
		if gw, err = startGateway(&o, cfgYAML, adminAddr, dir, ctx.Done()); err != nil {
			return nil, err
		}
		st.push(func() { _ = gw.stop() })
		meter.pid = gw.pid
		cpu0, _ = meter.cpu()
	default:
		prog.setPhase("starting")
		if gw, err = startGateway(&o, cfgYAML, adminAddr, dir, ctx.Done()); err != nil {
			return nil, err
		}
		st.push(func() { _ = gw.stop() })
		meter.pid = gw.pid
		if err := gw.waitReady(ctx); err != nil {
			return nil, err
		}
		prog.setPhase("publishing")
		windowStart = time.Now()
		if cpu0, err = meter.cpu(); err != nil {
			res.Notes = append(res.Notes, err.Error())
		}
		if o.Mode == ModeRate {
			err = pubs.publishRate(ctx, o.Rate, o.Duration)
		} else {
			err = pubs.publishCount(ctx, o.Count)
		}
		if err != nil {
			return nil, err
		}
	}
	pubEnd = time.Now()
	published := pubs.counts()
	var expected int64
	for _, n := range published {
		expected += n
	}

	prog.setPhase("waiting")
	// A backlog's gateway may take a while to start (compiling plugins): --settle does not
	// run out before it is ready or a record arrived.
	gwReady := make(chan struct{})
	if o.Mode == ModeBacklog {
		rctx, stopReady := context.WithCancel(ctx)
		defer stopReady()
		go func() {
			if gw.waitReady(rctx) == nil {
				close(gwReady)
			}
		}()
	} else {
		close(gwReady)
	}
	// The drain's own CPU starts at the first record: before it, the gateway started (its
	// process, connections, plugins).
	var drainCPU0 time.Duration
	drainCPUErr := errors.New("no record arrived")
	firstRecord := func() { drainCPU0, drainCPUErr = meter.cpu() }
	if o.Mode != ModeBacklog {
		firstRecord = func() {}
	}
	if note := waitRecords(ctx, tr, expected, o.Settle, gwReady, gw.exited, firstRecord); note != "" {
		res.Notes = append(res.Notes, note)
	}
	cpu1, cpuErr := meter.cpu()
	rss, rssErr := meter.peakRSS()
	prog.finish()
	progDone = true

	if err := gw.stop(); err != nil {
		res.Notes = append(res.Notes, "gateway stop: "+err.Error())
	}
	gw.stop = func() error { return nil }

	t := tr.tally(published)
	res.Published = expected
	res.Received, res.Lost, res.Duplicated, res.Foreign = t.unique, t.lost, t.dups, t.foreign
	end := t.last
	if end.IsZero() {
		end = time.Now()
	}
	window := end.Sub(windowStart)
	res.WindowSeconds = window.Seconds()
	if window > 0 {
		res.Throughput = float64(t.unique) / window.Seconds()
	}
	if d := t.last.Sub(t.first); o.Mode == ModeBacklog && d > 0 {
		res.DrainRate = float64(t.unique) / d.Seconds()
		res.StartSeconds = t.first.Sub(windowStart).Seconds()
	}
	if d := pubEnd.Sub(windowStart); o.Mode != ModeBacklog && d > 0 {
		res.PublishRate = float64(expected) / d.Seconds()
	}
	l := t.latencies
	res.Latency = Latency{P50: ms(percentile(l, .50)), P90: ms(percentile(l, .90)), P99: ms(percentile(l, .99)),
		P999: ms(percentile(l, .999)), Max: ms(percentile(l, 1))}
	if t.lost > 0 && o.MQTT == "" && !o.Mosquitto {
		res.Notes = append(res.Notes, "the embedded mochi broker drops QoS 1/2 messages for a subscriber with 65535 unacknowledged or waiting to be written: use --mosquitto for load figures")
	}
	if o.Mode == ModeBacklog {
		res.Notes = append(res.Notes, "backlog latency includes the time queued in the broker before the gateway started")
	}
	switch {
	case o.Gateway == GatewayExternal:
		res.Notes = append(res.Notes, "external gateway: its CPU and memory are not measured")
	case cpuErr != nil || rssErr != nil:
		res.Notes = append(res.Notes, errors.Join(cpuErr, rssErr).Error())
	default:
		res.CPUScope = meter.scope()
		res.CPUSeconds = (cpu1 - cpu0).Seconds()
		if t.unique > 0 {
			res.CPUSecondsPer100k = res.CPUSeconds * 100_000 / float64(t.unique)
		}
		if o.Mode == ModeBacklog && drainCPUErr == nil && t.unique > 0 {
			res.DrainCPUSecondsPer100k = (cpu1 - drainCPU0).Seconds() * 100_000 / float64(t.unique)
		}
		res.PeakRSSBytes = rss
	}
	return res, nil
}

// maxStartWait bounds how long waitRecords waits for a gateway to become ready before
// --settle starts to run out.
const maxStartWait = 2 * time.Minute

// waitRecords waits until expected distinct records were read, or Settle passes with no new
// one (counted from the first record or ready being closed, whichever comes first), or the
// gateway exits, or ctx ends. It calls first once, as soon as it sees the first record. It
// returns a note when it stopped early.
func waitRecords(ctx context.Context, tr *tracker, expected int64, settle time.Duration, ready, exited <-chan struct{}, first func()) string {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	changed := start
	lastN := int64(-1)
	for {
		u, _ := tr.counts()
		if u > 0 && first != nil {
			first()
			first = nil
		}
		if u >= expected {
			return ""
		}
		if u != lastN {
			lastN, changed = u, time.Now()
		}
		if u == 0 && time.Since(start) < maxStartWait {
			select {
			case <-ready:
			default:
				changed = time.Now() // not started yet
			}
		}
		if time.Since(changed) > settle {
			return fmt.Sprintf("no new record for %v: stopped waiting with %d of %d", settle, u, expected)
		}
		select {
		case <-ctx.Done():
			return fmt.Sprintf("timed out waiting for records: %d of %d", u, expected)
		case <-exited:
			return fmt.Sprintf("gateway exited while %d of %d records were read", u, expected)
		case <-tick.C:
		}
	}
}

// cpuMeter reads CPU time and peak memory of the gateway subprocess, or of this whole
// process when the gateway runs in it.
type cpuMeter struct {
	o   *Options
	pid int
}

func (m cpuMeter) cpu() (time.Duration, error) {
	switch {
	case m.o.Gateway == GatewayExternal:
		return 0, nil
	case m.pid > 0:
		return procCPU(m.pid)
	}
	return selfCPU()
}

func (m cpuMeter) peakRSS() (int64, error) {
	switch {
	case m.o.Gateway == GatewayExternal:
		return 0, nil
	case m.pid > 0:
		return procPeakRSS(m.pid)
	}
	return procPeakRSS(os.Getpid())
}

func (m cpuMeter) scope() string {
	if m.pid > 0 {
		return fmt.Sprintf("gateway process %d only", m.pid)
	}
	return "whole bench process: in-process gateway plus publishers, consumer, broker and Kafka"
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
