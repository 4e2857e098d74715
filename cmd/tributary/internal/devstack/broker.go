package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is an embedded MQTT v5 broker (mochi-mqtt) listening on loopback TCP. Every client
// may connect without credentials and use every topic. Safe for concurrent use.
type Broker struct {
	srv  *mqtt.Server
	addr string
}

// StartBroker starts a broker on 127.0.0.1:port (rules as in Listen) and reports whether it
// fell back to a free port. Broker logs go to log; nil discards them.
//
// # Errors
//
// StartBroker returns an error naming the port when it cannot listen, or when the broker fails
// to start.
func StartBroker(port int, fallback bool, log *slog.Logger) (b *Broker, fellBack bool, err error) {
	ln, fellBack, err := Listen(port, fallback)
	if err != nil {
		return nil, false, fmt.Errorf("mqtt broker: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Without the send quota (see noSendQuota) a subscriber's unacknowledged messages are
	// bounded by these two: raised from 8192 so that bursts of a few tens of thousands are
	// queued rather than dropped.
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = math.MaxUint16
	caps.MaximumClientWritesPending = math.MaxUint16
	srv := mqtt.New(&mqtt.Options{Logger: log, InlineClient: false, Capabilities: caps})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		_ = ln.Close()
		return nil, false, fmt.Errorf("mqtt broker: allow-all auth hook: %w", err)
	}
	if err := srv.AddHook(new(noSendQuota), nil); err != nil {
		_ = ln.Close()
		return nil, false, fmt.Errorf("mqtt broker: send quota hook: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		_ = ln.Close()
		return nil, false, fmt.Errorf("mqtt broker: listener on %s: %w", ln.Addr(), err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, false, fmt.Errorf("mqtt broker on %s: %w", ln.Addr(), err)
	}
	return &Broker{srv: srv, addr: ln.Addr().String()}, fellBack, nil
}

// Addr returns the broker's host:port, e.g. "127.0.0.1:1883".
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker address as a tributary mqtt.url, e.g. "tcp://127.0.0.1:1883".
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Subscribed reports whether some client holds a subscription (plain or shared) whose filter
// matches topic.
func (b *Broker) Subscribed(topic string) bool {
	subs := b.srv.Topics.Subscribers(topic)
	return len(subs.Subscriptions) > 0 || len(subs.Shared) > 0
}

// WaitSubscribed blocks until Subscribed(topic) is true, checking every 20ms, or until ctx is
// done, when it returns ctx's error.
func (b *Broker) WaitSubscribed(ctx context.Context, topic string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !b.Subscribed(topic) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a subscriber to %s: %w", topic, context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}

// closeWait bounds Close: how long it waits for mochi to stop its clients.
const closeWait = 3 * time.Second

// Close disconnects every client and stops the broker. Messages it held are lost. It waits at
// most closeWait for the broker's client goroutines to end; when they do not (a client stuck
// inside the broker), it returns an error saying so and leaves them behind, so that a Ctrl-C
// always gets through.
func (b *Broker) Close() error {
	done := make(chan error, 1)
	go func() { done <- b.srv.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWait):
		return fmt.Errorf("mqtt broker on %s: clients still running %s after close; left behind", b.addr, closeWait)
	}
}

// noSendQuota makes the broker ignore each client's Receive Maximum (the number of
// unacknowledged QoS 1/2 messages the client accepts), so that the broker never holds
// messages back for a subscriber. Holding back is where mochi v2.7.9 (the latest release)
// deadlocks: after every packet a client sends (a PUBACK from the gateway), while messages
// are held and the quota allows, mochi's Inflight.NextImmediate takes the client's inflight
// read lock and calls Inflight.GetAll, which takes the same read lock again. When a publisher's
// goroutine asks for the write lock in between (Inflight.Set, delivering a new message to that
// client), sync.RWMutex blocks the second read lock behind the waiting writer, the writer
// waits for the first read lock, and both goroutines, then every publisher to that client and
// Close, wait forever. With a zero send quota mochi writes every message straight to the
// client's write queue and never calls NextImmediate; the client's TCP window then does the
// flow control (paho blocks reading once its Receive Maximum of messages is unprocessed), and
// a full write queue drops messages as before.
type noSendQuota struct{ mqtt.HookBase }

func (*noSendQuota) ID() string { return "tributary-dev-no-send-quota" }

func (*noSendQuota) Provides(b byte) bool { return b == mqtt.OnConnect }

// OnConnect runs after mochi parsed the CONNECT (which set the quota from the client's
// Receive Maximum) and before it takes over an existing session (which sets it again from
// Props.ReceiveMaximum), so both are zeroed here.
func (*noSendQuota) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	cl.Properties.Props.ReceiveMaximum = 0
	cl.State.Inflight.ResetSendQuota(0)
	return nil
}

// allowAll lets every client connect and use every topic. It is mochi's auth.AllowHook,
// written out because that package also pulls in a YAML library the module does not carry.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "tributary-dev-allow-all" }

func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
