package loadbench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// mqttAddr returns host:port from a tcp:// or mqtt:// URL (default port 1883).
func mqttAddr(brokerURL string) (string, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return "", fmt.Errorf("mqtt url %q: %w", brokerURL, err)
	}
	if u.Scheme != "tcp" && u.Scheme != "mqtt" {
		return "", fmt.Errorf("mqtt url %q: scheme %q not supported by the benchmark, want tcp:// or mqtt://", brokerURL, u.Scheme)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "1883"), nil
	}
	return u.Host, nil
}

// mqttClient is one paho connection; errors the client reports later land in err.
type mqttClient struct {
	c    *paho.Client
	conn net.Conn
	err  atomic.Pointer[error]
}

// dial connects a client with the given id and session settings.
func dial(ctx context.Context, brokerURL, id string, cleanStart bool, sessionExpiry uint32) (*mqttClient, error) {
	addr, err := mqttAddr(brokerURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt dial %s: %w", addr, err)
	}
	m := &mqttClient{conn: conn}
	setErr := func(err error) { m.err.CompareAndSwap(nil, &err) }
	m.c = paho.NewClient(paho.ClientConfig{
		Conn:              conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) { return true, nil }},
		OnClientError:     setErr,
		OnServerDisconnect: func(d *paho.Disconnect) {
			setErr(fmt.Errorf("broker sent DISCONNECT, reason code %d", d.ReasonCode))
		},
		PacketTimeout: time.Minute,
	})
	cp := &paho.Connect{ClientID: id, CleanStart: cleanStart, KeepAlive: 60}
	if sessionExpiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &sessionExpiry}
	}
	ca, err := m.c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil {
			return nil, fmt.Errorf("mqtt connect %s as %s: reason code %d: %w", addr, id, ca.ReasonCode, err)
		}
		return nil, fmt.Errorf("mqtt connect %s as %s: %w", addr, id, err)
	}
	return m, nil
}

func (m *mqttClient) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-m.c.Done():
	case <-ctx.Done():
	}
	m.conn.Close()
}

// primeSession creates the gateway's persistent session before the gateway runs: it connects
// with the gateway's client id (clean start, so a previous run's backlog is dropped, and a
// session expiry of 1h), subscribes to filters and disconnects. From then on the broker queues
// matching QoS 1/2 messages for the gateway.
func primeSession(ctx context.Context, brokerURL, clientID string, filters []string, qos byte) error {
	m, err := dial(ctx, brokerURL, clientID, true, 3600)
	if err != nil {
		return fmt.Errorf("priming the gateway session: %w", err)
	}
	defer m.close()
	// Up to 100 filters per SUBSCRIBE: thousands of routes prime in a few round trips.
	for batch := range slices.Chunk(filters, 100) {
		subs := make([]paho.SubscribeOptions, len(batch))
		for i, f := range batch {
			subs[i] = paho.SubscribeOptions{Topic: f, QoS: qos}
		}
		sa, err := m.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if err != nil {
			return fmt.Errorf("priming the gateway session %s: subscribe %s: %w", clientID, batch[0], err)
		}
		for i, code := range sa.Reasons {
			if code >= 0x80 && i < len(batch) {
				return fmt.Errorf("priming the gateway session %s: broker refused %s: reason code %d", clientID, batch[i], code)
			}
		}
	}
	return nil
}
