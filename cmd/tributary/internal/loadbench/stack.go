package loadbench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
	"github.com/tributary-gw/tributary/gateway/gatewaytest/mosquitto"
)

// DefaultMosquitto is where --mosquitto looks for the broker binary.
const DefaultMosquitto = "/usr/sbin/mosquitto"

// startMosquitto starts bin on a free loopback port with its configuration and log in dir,
// queueing without limit for offline persistent sessions, and waits until it accepts
// connections. With persist the broker saves its sessions and queues every 30s and on a clean
// stop and loads them when started again, as the soak's broker restarts need.
func startMosquitto(ctx context.Context, bin, dir string, persist bool) (*mosquitto.Process, error) {
	addr, _, err := devstack.ReserveAddr(0, false)
	if err != nil {
		return nil, fmt.Errorf("mosquitto: %w", err)
	}
	_, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("mosquitto: port of %s: %w", addr, err)
	}
	cfg := mosquitto.Config{Port: port, Dir: dir, Quiet: true, Persistence: persist}
	if persist {
		cfg.AutosaveSeconds = 30
	}
	m, err := mosquitto.New(bin, cfg)
	if err != nil {
		return nil, err
	}
	if err := startBrokerProcess(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// startBrokerProcess starts m (again) and waits at most 10s for it to accept connections.
func startBrokerProcess(ctx context.Context, m *mosquitto.Process) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(m.LogTail()))
	}
	return nil
}

// stopMosquitto stops m cleanly (SIGINT: it saves its persistence file) and waits for it,
// killing it after 5s.
func stopMosquitto(m *mosquitto.Process) { _ = m.Signal(syscall.SIGINT, 5*time.Second) }

// stack is what Run started and must stop, in reverse order.
type stack struct {
	stops []func()
}

func (s *stack) push(f func()) { s.stops = append(s.stops, f) }

func (s *stack) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// startBroker returns the MQTT URL to use and a description of the broker: the URL given, a
// Mosquitto process, or an embedded mochi broker.
func startBroker(ctx context.Context, o *Options, st *stack, dir string) (url, desc string, err error) {
	switch {
	case o.MQTT != "":
		return o.MQTT, "external " + o.MQTT, nil
	case o.Mosquitto:
		bin := o.MosquittoPath
		if bin == "" {
			bin = DefaultMosquitto
		}
		m, err := startMosquitto(ctx, bin, dir, false)
		if err != nil {
			return "", "", err
		}
		st.push(func() { stopMosquitto(m) })
		return m.URL(), "mosquitto " + m.URL(), nil
	}
	b, _, err := devstack.StartBroker(0, false, nil)
	if err != nil {
		return "", "", err
	}
	st.push(func() { _ = b.Close() })
	return b.URL(), "embedded mochi " + b.URL(), nil
}

// startKafka returns the seed brokers to use and a description: those given, or an embedded
// kfake cluster.
func startKafka(o *Options, st *stack) (brokers []string, desc string, err error) {
	if len(o.Kafka) > 0 {
		return o.Kafka, "external " + strings.Join(o.Kafka, ","), nil
	}
	k, _, err := devstack.StartKafka(0, false)
	if err != nil {
		return nil, "", err
	}
	st.push(k.Close)
	return []string{k.Addr()}, "embedded kfake " + k.Addr(), nil
}
