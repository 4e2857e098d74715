package mqttsource

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/mqtttopic"
)

// Config is what a Source needs besides its MQTT settings.
type Config struct {
	// MQTT is the session's configuration; its ClientID is the session's.
	MQTT config.MQTT
	// Log receives connection events.
	Log *slog.Logger
	// Metrics are the session's counters.
	Metrics Metrics
	// OnMessage receives every message but the extra copies and the source's own fences, in
	// receive order, on the client's receive goroutine; while it blocks, the session reads
	// nothing more (the backpressure). A message it does not acknowledge (Message.Ack) holds
	// back the acknowledgements of every later one on its connection.
	OnMessage func(Message)
	// Subscriptions returns the filters in force; a new connection subscribes to them.
	Subscriptions func() []Subscription
	// Holding reports whether OnMessage is waiting on purpose (backpressure); see pinger.
	Holding func() bool
}

// Metrics are the counters and the gauge a Source keeps current.
type Metrics struct {
	Connected   prometheus.Gauge   // 1 while connected
	Connects    prometheus.Counter // successful connections
	ConnErrors  prometheus.Counter // failed connection attempts and lost connections
	CopyDropped prometheus.Counter // extra copies of a message (overlapping filters), dropped
}

// Subscription is one MQTT filter to subscribe to, at the highest QoS any route asks for it.
type Subscription struct {
	Filter string
	QoS    byte
	own    bool // the source's fence topic: never shared, never a route's
}

// Source is one MQTT session of a flow, MQTT v5 or 3.1.1 as mqtt.protocol says: it subscribes
// to the flow's filters and hands each message to Config.OnMessage, acknowledging nothing
// itself. Build it with New; Start connects. Its methods are safe for concurrent use.
type Source interface {
	// Start connects in the background; the client retries until ctx is done or Disconnect.
	Start(ctx context.Context) error
	// HoldReads stops reading from the broker until ReleaseReads: the caller's OnMessage
	// waits for room, and what the broker sends meanwhile should stay with the broker.
	HoldReads()
	// ReleaseReads lets reading go on after HoldReads.
	ReleaseReads()
	// AcksWritten returns once the acknowledgements sent so far (Ack.Send) have been written
	// and the broker has read them, or their connection has closed; or with ctx's error.
	AcksWritten(ctx context.Context) error
	// Disconnect sends DISCONNECT and waits for the client to finish, or for ctx.
	Disconnect(ctx context.Context) error
	// Ready reports whether the session is connected and subscribed.
	Ready() bool
	// Connected reports whether the session is connected.
	Connected() bool
	// Resubscribe moves the subscriptions from old to next, new filters first.
	Resubscribe(ctx context.Context, old, next []Subscription)
	// LeaveShares unsubscribes subs when the session is a member of a shared-subscription
	// group (mqtt.shared_group).
	LeaveShares(ctx context.Context, subs []Subscription)
}

// Message is one PUBLISH received, as the flow takes it from either protocol.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// ContentType and UserProperties are MQTT v5 properties; a 3.1.1 message has none.
	ContentType    string
	UserProperties []Property
	// Ack acknowledges the message to the broker; see Ack.Send.
	Ack Ack
}

// Property is one MQTT v5 user property.
type Property struct {
	Key, Value string
}

// New returns the Source of c for its protocol (c.MQTT.Protocol); nothing connects until
// Start.
func New(c Config) Source {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Holding == nil {
		c.Holding = func() bool { return false }
	}
	if c.MQTT.Is311() {
		return newV311(c)
	}
	return newV5(c)
}

// v5Source is one MQTT v5 session: autopaho with manual acknowledgement, subscription
// identifiers and fences to tell copies of one message apart, a buffered connection and a
// pinger that takes deliberate backpressure for silence.
type v5Source struct {
	cfg     config.MQTT
	log     *slog.Logger
	metrics Metrics
	onMsg   func(Message)
	subs    func() []Subscription
	holding func() bool

	cm         *autopaho.ConnectionManager
	conn       atomic.Pointer[packetConn] // the newest connection; messages arrive on it
	reads      readGate                   // held while the flow is at its in-flight bounds
	pinger     *pinger
	connected  atomic.Bool
	subscribed atomic.Bool

	// Subscription identifiers (MQTT v5) tell which filter delivered a copy, so copies of one
	// message sent once per matching filter are processed once (see twins). Each filter keeps
	// its identifier for the source's life; new filters get higher ones.
	idsMu     sync.Mutex
	subIDs    map[string]int
	nextSubID int
	useSubIDs atomic.Bool // the broker said it supports them (CONNACK)
	fenceOK   atomic.Bool // subscribed to the fence topic
	twins     twins       // touched only by paho's callback goroutine
	fenceName string      // fenceTopic(), set by start
}

func newV5(c Config) *v5Source {
	return &v5Source{cfg: c.MQTT, log: c.Log, metrics: c.Metrics, onMsg: c.OnMessage, subs: c.Subscriptions, holding: c.Holding}
}

// fenceTopic is where a source publishes to itself to separate, in its own queue at the
// broker, the messages routed before a subscription change from those routed after.
func (s *v5Source) fenceTopic() string {
	return "$tributary/fence/" + strings.NewReplacer("+", "_", "#", "_", "/", "_").Replace(s.cfg.ClientID)
}

// subID returns the subscription identifier of filter, assigning the next one on first use.
func (s *v5Source) subID(filter string) int {
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	if s.subIDs == nil {
		s.subIDs = map[string]int{}
	}
	id, ok := s.subIDs[filter]
	if !ok {
		s.nextSubID++
		id = s.nextSubID
		s.subIDs[filter] = id
	}
	return id
}

// filterCopies is paho's callback: it acknowledges extra copies and the source's own fences
// without handing them on, and hands every other message to onMsg.
func (s *v5Source) filterCopies(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if s.twins.extra(p) || p.Topic == s.fenceName {
		if p.QoS > 0 {
			// Counted like every acknowledgement, so that AcksWritten waits for what was
			// asked before it (see packetConn).
			if err := (Ack{conn: s.conn.Load(), client: pr.Client, packet: p}).Send(); err != nil {
				s.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", p.Topic), slog.String("error", err.Error()))
			}
		}
		if p.Topic != s.fenceName {
			s.metrics.CopyDropped.Inc()
		}
		return true, nil
	}
	m := Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain,
		// autopaho dials only after the previous connection's client has stopped, so the
		// message arrived on the newest connection.
		Ack: Ack{conn: s.conn.Load(), client: pr.Client, packet: p}}
	if p.Properties != nil {
		m.ContentType = p.Properties.ContentType
		if len(p.Properties.User) > 0 {
			m.UserProperties = make([]Property, len(p.Properties.User))
			for i, u := range p.Properties.User {
				m.UserProperties[i] = Property{Key: u.Key, Value: u.Value}
			}
		}
	}
	s.onMsg(m)
	return true, nil
}

// clientConfig maps the mqtt section of the configuration to autopaho.
func (s *v5Source) clientConfig(ctx context.Context) (autopaho.ClientConfig, error) {
	c := s.cfg
	u, err := url.Parse(c.URL)
	if err != nil {
		return autopaho.ClientConfig{}, fmt.Errorf("mqtt.url: %w", err)
	}
	var tc *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts", "wss":
		if tc, err = c.TLS.ClientConfig("mqtt.tls"); err != nil {
			return autopaho.ClientConfig{}, err
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
	}
	s.pinger = &pinger{holding: s.holding}
	receiveMax := uint16(c.ReceiveMaximum)
	sessionExpiry := uint32(c.SessionExpiry / time.Second)
	ac := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tc,
		KeepAlive:                     uint16(max(c.KeepAlive/time.Second, 1)),
		CleanStartOnInitialConnection: c.CleanStart,
		SessionExpiryInterval:         sessionExpiry,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(c.ReconnectMin, c.ReconnectMax, c.ReconnectMin, 2),
		ConnectTimeout:                c.ConnectTimeout,
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			conn, err := dialMQTT(ctx, u, tc, c.ConnectTimeout)
			if pc, ok := conn.(*packetConn); ok {
				// autopaho dials only after the previous connection's client has stopped, so
				// every message received from now on arrived on this connection.
				pc.gate = &s.reads
				s.conn.Store(pc)
			}
			return conn, err
		},
		OnConnectionUp:   s.onConnectionUp,
		OnConnectionDown: s.onConnectionDown,
		OnConnectError: func(err error) {
			s.metrics.ConnErrors.Inc()
			s.log.Warn("mqtt connect failed", slog.String("url", c.URL), slog.String("error", err.Error()))
		},
		ConnectUsername: c.Username,
		ConnectPassword: []byte(c.Password.Value()),
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.ReceiveMaximum = &receiveMax
			return cp, nil
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   c.ClientID,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){s.filterCopies},
			EnableManualAcknowledgment: true,
			PingHandler:                s.pinger,
			SendAcksInterval:           c.AckInterval,
			OnClientError: func(err error) {
				s.log.Warn("mqtt client error", slog.String("error", err.Error()))
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				s.log.Warn("mqtt server disconnected us", slog.Int("reason_code", int(d.ReasonCode)),
					slog.String("reason", reasonString(d)))
			},
		},
	}
	if c.Username == "" {
		ac.ConnectPassword = nil
	}
	return ac, nil
}

func reasonString(d *paho.Disconnect) string {
	if d.Properties != nil && d.Properties.ReasonString != "" {
		return d.Properties.ReasonString
	}
	return ""
}

// Start connects in the background (autopaho retries until ctx is done or Disconnect).
func (s *v5Source) Start(ctx context.Context) error {
	s.fenceName = s.fenceTopic()
	ac, err := s.clientConfig(ctx)
	if err != nil {
		return err
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	s.cm = cm
	return nil
}

func (s *v5Source) onConnectionUp(cm *autopaho.ConnectionManager, ack *paho.Connack) {
	s.connected.Store(true)
	s.metrics.Connected.Set(1)
	s.metrics.Connects.Inc()
	s.log.Info("mqtt connected", slog.String("url", s.cfg.URL), slog.String("client_id", s.cfg.ClientID),
		slog.Bool("session_present", ack.SessionPresent))
	s.useSubIDs.Store(ack.Properties == nil || ack.Properties.SubIDAvailable)
	// Must not block: subscribe on our own goroutine.
	go s.subscribe(cm)
}

func (s *v5Source) onConnectionDown() bool {
	s.connected.Store(false)
	s.subscribed.Store(false)
	s.metrics.Connected.Set(0)
	s.metrics.ConnErrors.Inc()
	s.log.Warn("mqtt connection lost; reconnecting", slog.String("url", s.cfg.URL))
	return true
}

// subscribe subscribes to every route filter on a new connection, and to the fence topic,
// trying again while the connection lasts (see subscribeUntil).
func (s *v5Source) subscribe(cm *autopaho.ConnectionManager) {
	pc := s.conn.Load()
	live := func() bool {
		select {
		case <-cm.Done():
			return false
		default:
		}
		return s.connected.Load() && s.conn.Load() == pc
	}
	s.subscribed.Store(subscribeUntil(func() bool {
		if s.useSubIDs.Load() && !s.fenceOK.Load() {
			s.fenceOK.Store(s.subscribeSet(cm, []Subscription{{Filter: s.fenceName, QoS: 1, own: true}}))
		}
		return s.subscribeSet(cm, s.subs())
	}, live, cm.Done(), s.cfg.ReconnectMin, s.cfg.ReconnectMax, s.log) && live())
}

// subscribeUntil calls attempt, which subscribes on the current connection, until it succeeds,
// waiting between tries from lo, doubling, to hi; it gives up, returning false, once live
// says the connection is gone (the next one subscribes again) or done is closed. A SUBSCRIBE can fail without
// anything being wrong with the connection: while a persistent session's backlog drains,
// intake holds the receive goroutine for in-flight slots, so the SUBACK may wait unread past
// mqtt.connect_timeout. Given up then, the session would stay not ready, and a filter new to
// it never delivered, until the next reconnection.
func subscribeUntil(attempt, live func() bool, done <-chan struct{}, lo, hi time.Duration, log *slog.Logger) bool {
	wait := max(lo, 10*time.Millisecond)
	for try := 1; ; try++ {
		if attempt() {
			return true
		}
		if !live() {
			return false
		}
		log.Warn("mqtt subscribe: trying again", slog.Int("attempt", try), slog.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-done:
			t.Stop()
			return false
		case <-t.C:
		}
		if !live() {
			return false
		}
		wait = min(2*wait, max(hi, wait))
	}
}

// fence publishes to the source's fence topic and waits for the broker's acknowledgement: the
// broker has then routed every message it routed before, and will route every later one,
// on the far side of the fence in this session's queue. Without subscription identifiers or
// when the broker refused the fence topic it does nothing.
func (s *v5Source) fence(ctx context.Context) {
	if s.cm == nil || !s.fenceOK.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	if _, err := s.cm.Publish(ctx, &paho.Publish{Topic: s.fenceName, QoS: 1, Payload: []byte("fence")}); err != nil {
		s.log.Warn("mqtt fence not published; a copy of a message may be processed twice across this subscription change",
			slog.String("error", err.Error()))
	}
}

// filterName is the filter as subscribed: with the shared-subscription prefix when
// mqtt.shared_group is set.
func (s *v5Source) filterName(filter string) string {
	if s.cfg.SharedGroup != "" {
		return mqtttopic.Shared(s.cfg.SharedGroup, filter)
	}
	return filter
}

// maxSubscribing bounds the SUBSCRIBE packets subscribeSet has waiting for their SUBACK.
const maxSubscribing = 256

// subscribeSet subscribes to subs (in one SUBSCRIBE, or one per filter with subscription
// identifiers) and reports whether the broker granted all.
// Retain handling 1 asks the broker to send retained messages only for new subscriptions, so a
// reconnect does not replay them.
func (s *v5Source) subscribeSet(cm *autopaho.ConnectionManager, subs []Subscription) bool {
	if len(subs) == 0 {
		return true
	}
	// With subscription identifiers each filter goes in its own SUBSCRIBE, since an
	// identifier applies to a whole packet.
	var reqs []*paho.Subscribe
	for _, sub := range subs {
		name := sub.Filter
		if !sub.own {
			name = s.filterName(sub.Filter)
		}
		opt := paho.SubscribeOptions{Topic: name, QoS: sub.QoS, RetainHandling: 1}
		if s.useSubIDs.Load() {
			id := s.subID(name)
			reqs = append(reqs, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{opt},
				Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id}})
			continue
		}
		if len(reqs) == 0 {
			reqs = append(reqs, &paho.Subscribe{})
		}
		reqs[0].Subscriptions = append(reqs[0].Subscriptions, opt)
	}
	// The SUBSCRIBEs go out together, up to maxSubscribing waiting for their SUBACK: one
	// after the other, a thousand filters would take a thousand round trips, each behind
	// the backlog a persistent session is being sent meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	var failed, refused atomic.Bool
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxSubscribing)
	for _, req := range reqs {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ack, err := cm.Subscribe(ctx, req)
			if err != nil {
				if !failed.Swap(true) {
					s.log.Error("mqtt subscribe failed", slog.String("error", err.Error()))
					cancel() // the others would fail alike
				}
				return
			}
			for i, rc := range ack.Reasons {
				if rc >= 0x80 && i < len(req.Subscriptions) {
					refused.Store(true)
					s.log.Error("mqtt broker refused subscription", slog.String("filter", req.Subscriptions[i].Topic),
						slog.Int("reason_code", int(rc)))
				}
			}
		})
	}
	wg.Wait()
	ok := !failed.Load() && !refused.Load()
	if ok && !(len(subs) == 1 && subs[0].own) {
		s.log.Info("mqtt subscribed", slog.Int("filters", len(subs)))
	}
	return ok
}

// AcksWritten returns once the acknowledgements sent so far (Ack.Send) have been written to
// the broker and the broker has read them (a PINGREQ written after them is answered), or their
// connection has closed, so they never will be; or with ctx's error. A drain calls it before
// Disconnect: paho writes acknowledgements every mqtt.ack_interval and has no call that
// flushes them or says they are out.
func (s *v5Source) AcksWritten(ctx context.Context) error {
	return acksWritten(ctx, s.conn.Load(), s.connected.Load, s.pinger)
}

// acksWritten waits until the acknowledgements handed to pc (nil: no connection yet) are
// written and, while connected says the connection is up, a PINGREQ written after them is
// answered: the broker has read them. Both protocols' AcksWritten.
func acksWritten(ctx context.Context, pc *packetConn, connected func() bool, p *pinger) error {
	if pc == nil {
		return nil
	}
	if err := pc.waitAcks(ctx); err != nil {
		return err
	}
	if !connected() {
		return nil // the acknowledgements not yet written never will be; nothing to ask
	}
	if err := p.roundTrip(ctx, pc); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// HoldReads stops reading from the broker until ReleaseReads: the caller's OnMessage waits
// for room (see readGate), and what the broker sends meanwhile should stay with the broker,
// not pile up in paho's queue.
func (s *v5Source) HoldReads() { s.reads.hold() }

// ReleaseReads lets reading go on after HoldReads.
func (s *v5Source) ReleaseReads() { s.reads.open() }

// Ack acknowledges one message on the connection it arrived on, and lets AcksWritten wait
// for it. The zero value acknowledges nothing.
type Ack struct {
	conn *packetConn
	// MQTT v5: paho queues the acknowledgement and writes the queue in receive order.
	client *paho.Client
	packet *paho.Publish
	// MQTT 3.1.1: the connection's receive-order queue, and this message's place in it.
	order *ackOrder
	slot  *ackSlot
}

// Send acknowledges the message. Acknowledgements leave in receive order (MQTT requires it
// of PUBACKs): MQTT v5's paho writes them every mqtt.ack_interval; with 3.1.1 each one
// leaves once every message received before it on its connection is acknowledged too. A
// QoS 0 message has none. An error means the connection that delivered the message is
// gone, and the broker redelivers it.
func (a Ack) Send() error {
	if a.slot != nil {
		return a.order.done(a.slot)
	}
	if a.client == nil || a.packet == nil || a.packet.QoS == 0 {
		return nil
	}
	// Expect it before paho can write it, so that AcksWritten waits for it.
	a.conn.expectAck()
	if err := a.client.Ack(a.packet); err != nil {
		a.conn.unexpectAck()
		return err
	}
	return nil
}

// Ready reports whether the session is connected and subscribed.
func (s *v5Source) Ready() bool { return s.connected.Load() && s.subscribed.Load() }

// Connected reports whether the session is connected.
func (s *v5Source) Connected() bool { return s.connected.Load() }

// Disconnect sends DISCONNECT and waits for autopaho to finish, or for ctx.
func (s *v5Source) Disconnect(ctx context.Context) error {
	if s.cm == nil {
		return nil
	}
	err := s.cm.Disconnect(ctx)
	select {
	case <-s.cm.Done():
	case <-ctx.Done():
	}
	return err
}

// Resubscribe moves the MQTT subscriptions from old to next: new filters first, so there is no
// moment when a filter kept across the change is not subscribed, then unsubscribes the rest.
// While disconnected it does nothing: the next connection subscribes to the current set.
func (s *v5Source) Resubscribe(ctx context.Context, old, next []Subscription) {
	if s.cm == nil || !s.connected.Load() {
		return
	}
	// Sets, not scans: with thousands of routes on each side, scanning one list for each item
	// of the other would take seconds.
	had := make(map[Subscription]bool, len(old))
	for _, o := range old {
		had[o] = true
	}
	kept := make(map[string]bool, len(next))
	var add, drop []Subscription
	for _, n := range next {
		kept[n.Filter] = true
		if !had[n] {
			add = append(add, n)
		}
	}
	for _, o := range old {
		if !kept[o.Filter] {
			drop = append(drop, o)
		}
	}
	if len(add) > 0 {
		s.subscribeSet(s.cm, add)
	}
	if len(add) > 0 && len(drop) > 0 {
		// Between a message routed only to an old filter and one routed only to a new one,
		// put a fence: the two can then never look like copies of one message.
		s.fence(ctx)
	}
	if len(drop) > 0 {
		var filters []string
		for _, d := range drop {
			filters = append(filters, s.filterName(d.Filter))
		}
		ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
		defer cancel()
		if _, err := s.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: filters}); err != nil {
			s.log.Warn("mqtt unsubscribe failed; messages on these filters will be counted as unrouted",
				slog.String("filters", strings.Join(filters, ",")), slog.String("error", err.Error()))
		}
	}
}

// LeaveShares unsubscribes subs when the session is a member of a shared-subscription group:
// the broker keeps dealing new messages to a member's session even while it is away, so an
// instance that stops without unsubscribing would hold its share until it comes back.
// Messages already sent to it still arrive.
func (s *v5Source) LeaveShares(ctx context.Context, subs []Subscription) {
	if s.cfg.SharedGroup != "" {
		s.Resubscribe(ctx, subs, nil)
	}
}
