package mqttsource

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-gw/tributary/gateway/config"
)

// v311Source is one MQTT 3.1.1 session (Eclipse paho.mqtt.golang): a persistent session
// (clean session off, the configured client id), automatic acknowledgement off, messages
// handed over one at a time in receive order (order matters: the handler runs on the
// client's receive goroutine, so while the flow waits for room the client reads nothing
// more), and acknowledgements released in receive order (ackOrder).
//
// The connection under it is the v5 source's packetConn, reached through v311Conn: buffered
// reads, the read gate (HoldReads), coalesced writes and the count of acknowledgements written
// (AcksWritten). paho.mqtt.golang's own keep-alive would drop the connection when the flow
// holds reads on purpose (the broker's PINGRESP stays unread behind the messages it keeps),
// so the client runs without one (keep alive 0) and the source's pinger keeps the connection
// instead, as for v5; v311Conn writes mqtt.keep_alive into the CONNECT packet the client
// sends, so the broker still watches the link.
//
// There is no copy detection: 3.1.1 has no subscription identifiers, so configuration refuses
// overlapping filters for a 3.1.1 session (see config.MQTT.Is311).
type v311Source struct {
	cfg     config.MQTT
	log     *slog.Logger
	metrics Metrics
	onMsg   func(Message)
	subs    func() []Subscription
	holding func() bool

	client     mqtt.Client
	conn       atomic.Pointer[v311Conn] // the newest connection; messages arrive on it
	reads      readGate
	pinger     *pinger
	connected  atomic.Bool
	subscribed atomic.Bool
	stopWatch  context.CancelFunc // ends Start's watch of its context

	// sessionSubs are the filters the broker's session holds, as far as this process knows:
	// set by a successful SUBSCRIBE of them all, nil when unknown. A reconnection to a
	// session the broker kept (CONNACK session present) with these same filters subscribes
	// nothing, since 3.1.1 has no Retain Handling and a SUBSCRIBE would have the broker send
	// the retained messages again.
	subsMu      sync.Mutex
	sessionSubs []Subscription
}

func newV311(c Config) *v311Source {
	return &v311Source{cfg: c.MQTT, log: c.Log, metrics: c.Metrics, onMsg: c.OnMessage, subs: c.Subscriptions,
		holding: c.Holding, pinger: &pinger{holding: c.Holding}}
}

// options maps the mqtt section of the configuration to paho.mqtt.golang.
func (s *v311Source) options() (*mqtt.ClientOptions, error) {
	c := s.cfg
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("mqtt.url: %w", err)
	}
	var tc *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts", "wss":
		if tc, err = c.TLS.ClientConfig("mqtt.tls"); err != nil {
			return nil, err
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
	}
	keepAlive := uint16(max(c.KeepAlive/time.Second, 1))
	o := mqtt.NewClientOptions()
	o.Servers = []*url.URL{u}
	o.SetClientID(c.ClientID)
	o.SetProtocolVersion(4) // 3.1.1, and no fallback to 3.1
	o.SetCleanSession(false)
	o.SetOrderMatters(true)
	o.SetAutoAckDisabled(true)
	o.SetKeepAlive(0) // the source's pinger keeps the connection; see v311Source
	o.SetConnectTimeout(c.ConnectTimeout)
	o.SetWriteTimeout(c.ConnectTimeout)
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetConnectRetryInterval(c.ReconnectMin)
	o.SetMaxReconnectInterval(c.ReconnectMax)
	o.SetResumeSubs(false) // onConnect subscribes to the filters in force
	if c.Username != "" {
		o.SetUsername(c.Username)
		o.SetPassword(c.Password.Value())
	}
	o.SetDefaultPublishHandler(s.onPublish)
	o.SetOnConnectHandler(s.onConnect)
	o.SetConnectionLostHandler(s.onConnectionLost)
	o.SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
		// One per failed attempt: the network, TLS, or the broker's CONNACK refusing it.
		if f, ok := n.(mqtt.ConnectionNotificationFailed); ok {
			s.metrics.ConnErrors.Inc()
			s.log.Warn("mqtt connect failed", slog.String("url", c.URL), slog.String("error", f.Reason.Error()))
		}
	})
	o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		conn, err := dialMQTT(context.Background(), u, tc, c.ConnectTimeout)
		if err != nil {
			return nil, err // reported by the ConnectionNotificationFailed that follows
		}
		pc := conn.(*packetConn)
		pc.gate = &s.reads
		vc := &v311Conn{packetConn: pc, keepAlive: keepAlive, pinger: s.pinger, order: &ackOrder{conn: pc}}
		// The client dials only after the previous connection's workers have stopped, so
		// every message received from now on arrived on this connection.
		s.conn.Store(vc)
		return vc, nil
	})
	return o, nil
}

// Start connects in the background: the client retries until Disconnect, which Start's
// context being done calls too.
func (s *v311Source) Start(ctx context.Context) error {
	o, err := s.options()
	if err != nil {
		return err
	}
	s.client = mqtt.NewClient(o)
	s.client.Connect() // with ConnectRetry its token completes only once connected
	wctx, cancel := context.WithCancel(ctx)
	s.stopWatch = cancel
	go func() {
		<-wctx.Done()
		if ctx.Err() != nil {
			s.client.Disconnect(0)
		}
	}()
	return nil
}

// onPublish is the client's handler for every message, called in receive order.
func (s *v311Source) onPublish(_ mqtt.Client, pm mqtt.Message) {
	m := Message{Topic: pm.Topic(), Payload: pm.Payload(), QoS: pm.Qos(), Retain: pm.Retained()}
	if pm.Qos() > 0 {
		if vc := s.conn.Load(); vc != nil {
			m.Ack = Ack{conn: vc.packetConn, order: vc.order, slot: vc.order.add(pm)}
		}
	}
	s.onMsg(m)
}

func (s *v311Source) onConnect(mqtt.Client) {
	vc := s.conn.Load()
	s.connected.Store(true)
	s.metrics.Connected.Set(1)
	s.metrics.Connects.Inc()
	s.log.Info("mqtt connected", slog.String("url", s.cfg.URL), slog.String("client_id", s.cfg.ClientID),
		slog.String("protocol", config.Protocol311))
	if vc != nil {
		go vc.keepAlive311()
	}
	subs := s.subs()
	s.subsMu.Lock()
	kept := vc != nil && vc.scan.sessionPresent.Load() && s.sessionSubs != nil && sameFilters(s.sessionSubs, subs)
	s.subsMu.Unlock()
	if kept {
		s.log.Info("mqtt session kept its subscriptions", slog.Int("filters", len(subs)))
		s.subscribed.Store(true)
		return
	}
	live := func() bool { return s.connected.Load() && s.conn.Load() == vc }
	ok := subscribeUntil(func() bool { return s.subscribeSet(s.subs()) }, live, nil,
		s.cfg.ReconnectMin, s.cfg.ReconnectMax, s.log) && live()
	s.noteSessionSubs(s.subs(), ok)
	s.subscribed.Store(ok)
}

// noteSessionSubs records subs as the session's filters when ok, or forgets what the session
// holds.
func (s *v311Source) noteSessionSubs(subs []Subscription, ok bool) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.sessionSubs = nil
	if ok {
		s.sessionSubs = append([]Subscription{}, subs...)
	}
}

// sameFilters reports whether a and b hold the same subscriptions, in any order.
func sameFilters(a, b []Subscription) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func (s *v311Source) onConnectionLost(_ mqtt.Client, err error) {
	s.connected.Store(false)
	s.subscribed.Store(false)
	s.metrics.Connected.Set(0)
	s.metrics.ConnErrors.Inc()
	s.log.Warn("mqtt connection lost; reconnecting", slog.String("url", s.cfg.URL), slog.String("error", err.Error()))
}

// filterName is the filter as subscribed: with the shared-subscription prefix when
// mqtt.shared_group is set.
func (s *v311Source) filterName(filter string) string {
	if s.cfg.SharedGroup != "" {
		return "$share/" + s.cfg.SharedGroup + "/" + filter
	}
	return filter
}

// subscribeSet subscribes to subs in one SUBSCRIBE and reports whether the broker granted
// all. 3.1.1 has no retain handling: every SUBSCRIBE, a reconnection's too, makes the broker
// send the retained messages of its filters again.
func (s *v311Source) subscribeSet(subs []Subscription) bool {
	if len(subs) == 0 {
		return true
	}
	filters := make(map[string]byte, len(subs))
	for _, sub := range subs {
		filters[s.filterName(sub.Filter)] = sub.QoS
	}
	tok := s.client.SubscribeMultiple(filters, nil) // nil: messages go to the default handler
	if !tok.WaitTimeout(s.cfg.ConnectTimeout) {
		s.log.Error("mqtt subscribe failed", slog.String("error", "no SUBACK within mqtt.connect_timeout"))
		return false
	}
	if err := tok.Error(); err != nil {
		s.log.Error("mqtt subscribe failed", slog.String("error", err.Error()))
		return false
	}
	ok := true
	for f, rc := range tok.(*mqtt.SubscribeToken).Result() {
		if rc >= 0x80 {
			ok = false
			s.log.Error("mqtt broker refused subscription", slog.String("filter", f), slog.Int("reason_code", int(rc)))
		}
	}
	if ok {
		s.log.Info("mqtt subscribed", slog.Int("filters", len(subs)))
	}
	return ok
}

// HoldReads stops reading from the broker until ReleaseReads (see readGate).
func (s *v311Source) HoldReads() { s.reads.hold() }

// ReleaseReads lets reading go on after HoldReads.
func (s *v311Source) ReleaseReads() { s.reads.open() }

// AcksWritten returns once the acknowledgements sent so far have been written and the
// broker has answered a PINGREQ written after them, or their connection has closed.
func (s *v311Source) AcksWritten(ctx context.Context) error {
	vc := s.conn.Load()
	if vc == nil {
		return nil
	}
	return acksWritten(ctx, vc.packetConn, s.connected.Load, s.pinger)
}

// Disconnect sends DISCONNECT and waits for the client to close, at most until ctx's
// deadline (5s without one).
func (s *v311Source) Disconnect(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	quiesce := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		quiesce = min(max(time.Until(d), 0), quiesce)
	}
	s.client.Disconnect(uint(quiesce / time.Millisecond))
	s.stopWatch()
	s.connected.Store(false)
	s.metrics.Connected.Set(0)
	return ctx.Err()
}

// Ready reports whether the session is connected and subscribed.
func (s *v311Source) Ready() bool { return s.connected.Load() && s.subscribed.Load() }

// Connected reports whether the session is connected.
func (s *v311Source) Connected() bool { return s.connected.Load() }

// Resubscribe moves the subscriptions from old to next: new filters first, then unsubscribes
// the rest. While disconnected it does nothing: the next connection subscribes to the current
// set. Without fences, a message routed to a dropped filter and to its overlapping
// replacement in the moment both are subscribed may arrive twice.
func (s *v311Source) Resubscribe(ctx context.Context, old, next []Subscription) {
	if s.client == nil || !s.connected.Load() {
		return
	}
	var add []Subscription
	var drop []string
	for _, n := range next {
		if !slices.Contains(old, n) {
			add = append(add, n)
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(next, func(n Subscription) bool { return n.Filter == o.Filter }) {
			drop = append(drop, s.filterName(o.Filter))
		}
	}
	ok := true
	if len(add) > 0 {
		ok = s.subscribeSet(add)
	}
	defer func() { s.noteSessionSubs(next, ok) }()
	if len(drop) > 0 {
		tok := s.client.Unsubscribe(drop...)
		wait := s.cfg.ConnectTimeout
		if d, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(d))
		}
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			err := tok.Error()
			if err == nil {
				err = errors.New("no UNSUBACK in time")
			}
			s.log.Warn("mqtt unsubscribe failed; messages on these filters will be counted as unrouted",
				slog.String("filters", strings.Join(drop, ",")), slog.String("error", err.Error()))
			ok = false
		}
	}
}

// LeaveShares unsubscribes subs when the session is a member of a shared-subscription group.
func (s *v311Source) LeaveShares(ctx context.Context, subs []Subscription) {
	if s.cfg.SharedGroup != "" {
		s.Resubscribe(ctx, subs, nil)
	}
}

// v311Conn is the connection paho.mqtt.golang uses: a packetConn, written one whole packet
// per Write (paho.mqtt.golang writes each packet in one call), with the stream of packets read
// scanned for the pinger, and the CONNECT packet's keep alive set to mqtt.keep_alive.
type v311Conn struct {
	*packetConn
	keepAlive uint16
	pinger    *pinger
	order     *ackOrder // this connection's acknowledgements, in receive order
	scan      packetScanner
	failed    atomic.Pointer[error] // why fail closed the connection
}

// Write sends one packet. The client runs with keep alive 0 (no pinger of its own), so the
// CONNECT it writes asks the broker for none; the keep alive put in instead is the one the
// source's pinger keeps.
func (c *v311Conn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0] == 0x10 {
		setConnectKeepAlive(p, c.keepAlive)
	}
	c.packetConn.Lock()
	n, err := c.packetConn.Write(p)
	c.packetConn.Unlock()
	c.pinger.PacketSent()
	return n, err
}

// Read reads through the packetConn and tells the pinger of each packet received, and of
// each PINGRESP. When the connection was closed because it failed (the pinger's timeout, a
// failed write), the read fails with that reason: paho.mqtt.golang takes a read error saying
// "use of closed network connection" for its own deliberate close and would neither report
// the loss nor reconnect.
func (c *v311Conn) Read(p []byte) (int, error) {
	n, err := c.packetConn.Read(p)
	c.scan.scan(p[:n], c.pinger)
	if err != nil {
		if f := c.failure(); f != nil {
			err = f
		}
	}
	return n, err
}

// fail closes the connection because it failed for reason.
func (c *v311Conn) fail(reason error) {
	c.failed.CompareAndSwap(nil, &reason)
	_ = c.packetConn.Close()
}

// failure returns why the connection failed, or nil when it did not (or was closed on
// purpose).
func (c *v311Conn) failure() error {
	if f := c.failed.Load(); f != nil {
		return fmt.Errorf("mqtt connection failed: %s", strings.ReplaceAll((*f).Error(), closedConnText, "closed connection"))
	}
	c.packetConn.mu.Lock()
	werr := c.packetConn.werr
	c.packetConn.mu.Unlock()
	if werr != nil {
		return fmt.Errorf("mqtt write failed: %s", strings.ReplaceAll(werr.Error(), closedConnText, "closed connection"))
	}
	return nil
}

// closedConnText is what paho.mqtt.golang looks for in a read error to tell its own close.
const closedConnText = "use of closed network connection"

// keepAlive311 runs the pinger on c until c closes; a PINGRESP that does not come while the
// flow reads closes c, and the client reconnects.
func (c *v311Conn) keepAlive311() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-c.packetConn.done
		cancel()
	}()
	c.pinger.PacketReceived() // the CONNACK
	if err := c.pinger.Run(ctx, c.packetConn, c.keepAlive); err != nil {
		c.fail(err)
	}
	cancel()
}

// packetPingresp is the MQTT control packet type of PINGRESP.
const packetPingresp = 13

// setConnectKeepAlive writes keepAlive into the 3.1.1 CONNECT packet p (fixed header, then the
// protocol name "MQTT", level 4, connect flags and the keep alive). Anything else is left.
func setConnectKeepAlive(p []byte, keepAlive uint16) {
	i := 1
	for i < len(p) && i < 5 && p[i]&0x80 != 0 {
		i++
	}
	i++ // past the last byte of the remaining length
	const name = "\x00\x04MQTT\x04"
	if len(p) < i+len(name)+3 || string(p[i:i+len(name)]) != name {
		return
	}
	k := i + len(name) + 1 // past the connect flags
	p[k], p[k+1] = byte(keepAlive>>8), byte(keepAlive)
}

// packetScanner follows the MQTT packets in a byte stream read in pieces: a fixed header (type
// in the high nibble of the first byte, then the remaining length as a variable byte
// integer) and that many bytes.
type packetScanner struct {
	state int // 0: at a packet's first byte; 1: in its remaining length; 2: in its body
	typ   byte
	rem   int
	shift uint
	body  int // body bytes seen of the current packet
	// sessionPresent is the CONNACK's session-present flag.
	sessionPresent atomic.Bool
}

// packetConnack is the MQTT control packet type of CONNACK.
const packetConnack = 2

// scan consumes b and tells p of each packet whose last byte it holds, and of each PINGRESP.
func (s *packetScanner) scan(b []byte, p *pinger) {
	done := func(typ byte) {
		p.PacketReceived()
		if typ == packetPingresp {
			p.PingResp()
		}
	}
	for len(b) > 0 {
		switch s.state {
		case 0:
			s.typ, s.rem, s.shift, s.state = b[0]>>4, 0, 0, 1
			b = b[1:]
		case 1:
			v := b[0]
			b = b[1:]
			s.rem |= int(v&0x7f) << s.shift
			s.shift += 7
			if v&0x80 == 0 {
				s.state, s.body = 2, 0
				if s.rem == 0 {
					s.state = 0
					done(s.typ)
				}
			}
		case 2:
			if s.typ == packetConnack && s.body == 0 {
				s.sessionPresent.Store(b[0]&1 != 0) // the acknowledge flags
			}
			n := min(s.rem, len(b))
			s.body += n
			s.rem -= n
			b = b[n:]
			if s.rem == 0 {
				s.state = 0
				done(s.typ)
			}
		}
	}
}

// ackOrder releases one connection's acknowledgements in the order their messages were
// received, as MQTT requires of PUBACKs and as the v5 client does: an acknowledgement sent
// while an earlier message's is still due waits for it. paho.mqtt.golang writes each one as
// soon as it is asked, so the order is kept here.
type ackOrder struct {
	conn  *packetConn
	mu    sync.Mutex
	queue []*ackSlot // received, oldest first, from head on; the ones before head are sent
	head  int
}

// ackSlot is one QoS 1 or 2 message's place in its connection's ackOrder.
type ackSlot struct {
	msg  mqtt.Message
	done bool
}

// add queues m, just received, and returns its place.
func (o *ackOrder) add(m mqtt.Message) *ackSlot {
	s := &ackSlot{msg: m}
	o.mu.Lock()
	o.queue = append(o.queue, s)
	o.mu.Unlock()
	return s
}

// done marks s acknowledged and sends, in receive order, every acknowledgement no longer
// waiting for an earlier one. The client drops what it is asked after its connection is
// gone; the broker redelivers those messages.
func (o *ackOrder) done(s *ackSlot) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.done = true
	for o.head < len(o.queue) && o.queue[o.head].done {
		// Expected before it can be written, so that AcksWritten waits for it.
		o.conn.expectAck()
		o.queue[o.head].msg.Ack()
		o.queue[o.head] = nil
		o.head++
	}
	if o.head > len(o.queue)/2 {
		// Drop the sent ones, keeping the backing array: a move of at most half the queue
		// each time the queue's front half is sent.
		o.queue = o.queue[:copy(o.queue, o.queue[o.head:])]
		o.head = 0
	}
	return nil
}
