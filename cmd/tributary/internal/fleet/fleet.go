package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Config describes a fleet. The zero value is not valid; start from DefaultConfig.
type Config struct {
	// Sensors is the number of devices. Each reports temperature, humidity and CO2 in turn.
	// Defaults to 20.
	Sensors int
	// Rate is the total number of messages per second over all devices. Defaults to 20.
	Rate float64
	// Count stops the fleet after this many acknowledged messages; 0 publishes until the
	// context is done.
	Count int
	// Seed makes the readings reproducible; 0 picks a random seed.
	Seed uint64
	// ClientID is the MQTT client id. Defaults to "tributary-dev-fleet".
	ClientID string
	// Logger receives connection errors. Defaults to discarding them.
	Logger *slog.Logger
}

// DefaultConfig returns the fleet `tributary dev` starts: 20 sensors, 20 messages/s, forever.
func DefaultConfig() Config {
	return Config{Sensors: 20, Rate: 20, ClientID: "tributary-dev-fleet"}
}

// Fleet is a set of simulated sensors. Its counters are safe for concurrent use; Run must be
// called at most once.
type Fleet struct {
	cfg Config

	mu      sync.Mutex // guards rng, sensors and n
	rng     *rand.Rand
	sensors []*sensor
	n       uint64 // messages generated so far

	published atomic.Uint64
	failed    atomic.Uint64
	running   atomic.Bool
}

// New returns a fleet for cfg.
//
// # Errors
//
// New returns an error naming the setting when Sensors < 1, Rate <= 0 or Count < 0.
func New(cfg Config) (*Fleet, error) {
	var errs []error
	if cfg.Sensors < 1 {
		errs = append(errs, fmt.Errorf("fleet sensors: %d, want at least 1", cfg.Sensors))
	}
	if !(cfg.Rate > 0) {
		errs = append(errs, fmt.Errorf("fleet rate: %v messages/s, want more than 0", cfg.Rate))
	}
	if cfg.Count < 0 {
		errs = append(errs, fmt.Errorf("fleet count: %d, want 0 (forever) or more", cfg.Count))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultConfig().ClientID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	f := &Fleet{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	f.sensors = make([]*sensor, cfg.Sensors)
	for i := range f.sensors {
		f.sensors[i] = newSensor(i, f.rng)
	}
	return f, nil
}

// Topics returns the MQTT topics the fleet publishes on, one per device and metric.
func (f *Fleet) Topics() []string {
	topics := make([]string, 0, len(f.sensors)*len(metrics))
	for _, s := range f.sensors {
		for k := range metrics {
			topics = append(topics, s.topic(k))
		}
	}
	return topics
}

// Next generates the next message without publishing it: devices take turns, and each device
// cycles through its metrics. Run uses it; it is exported for tests and previews. Safe for
// concurrent use. The error is from encoding the reading and does not happen with the built-in
// metrics.
func (f *Fleet) Next(now time.Time) (topic string, payload []byte, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sensors[f.n%uint64(len(f.sensors))]
	k := int(f.n/uint64(len(f.sensors))) % len(metrics)
	f.n++
	r := s.next(k, now.UnixMilli(), f.rng)
	b, err := json.Marshal(r)
	if err != nil {
		return "", nil, fmt.Errorf("fleet: encoding reading of %s: %w", r.DeviceID, err)
	}
	return s.topic(k), b, nil
}

// Published returns the number of messages the broker has acknowledged (PUBACK).
func (f *Fleet) Published() uint64 { return f.published.Load() }

// Failed returns the number of publishes that failed (no connection, broker error). Failed
// messages are not retried; the next one carries a fresh reading.
func (f *Fleet) Failed() uint64 { return f.failed.Load() }

// Run connects to the MQTT v5 broker at brokerURL (tcp://host:port) and publishes at the
// configured rate, QoS 1, one message at a time, until ctx is done or Count messages are
// acknowledged. It disconnects before returning. Waiting for the broker is not an error: Run
// keeps retrying the connection until ctx is done.
//
// # Errors
//
// Run returns nil when it stops because of ctx or Count; an error for a bad brokerURL, or
// when called a second time.
func (f *Fleet) Run(ctx context.Context, brokerURL string) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("fleet: Run called twice")
	}
	u, err := url.Parse(brokerURL)
	if err != nil {
		return fmt.Errorf("fleet broker url %q: %w", brokerURL, err)
	}
	cm, err := autopaho.NewConnection(context.WithoutCancel(ctx), autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewConstantBackoff(500 * time.Millisecond),
		ConnectTimeout:                5 * time.Second,
		OnConnectError: func(err error) {
			f.cfg.Logger.Warn("fleet: connecting to the broker", "url", brokerURL, "error", err)
		},
		ClientConfig: paho.ClientConfig{ClientID: f.cfg.ClientID},
	})
	if err != nil {
		return fmt.Errorf("fleet broker %s: %w", brokerURL, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = cm.Disconnect(dctx)
		<-cm.Done()
	}()
	if err := cm.AwaitConnection(ctx); err != nil {
		return nil // ctx done before the broker answered
	}
	f.publishLoop(ctx, cm)
	return nil
}

// publishLoop paces publishes at cfg.Rate. When it falls behind by more than a second (slow
// broker), it drops the backlog rather than bursting.
func (f *Fleet) publishLoop(ctx context.Context, cm *autopaho.ConnectionManager) {
	interval := time.Duration(float64(time.Second) / f.cfg.Rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := time.Now()
	props := &paho.PublishProperties{
		ContentType: "application/json",
		User:        paho.UserProperties{{Key: "source", Value: "tributary-dev-fleet"}},
	}
	for f.cfg.Count == 0 || f.published.Load() < uint64(f.cfg.Count) {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		topic, payload, err := f.Next(time.Now())
		if err == nil {
			_, err = cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: payload, Properties: props})
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			f.failed.Add(1)
			f.cfg.Logger.Warn("fleet: publish", "topic", topic, "error", err)
		default:
			f.published.Add(1)
		}
		next = next.Add(interval)
		if now := time.Now(); now.Sub(next) > time.Second {
			next = now
		}
	}
}
