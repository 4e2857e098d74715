package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
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

// source is the MQTT side: one autopaho connection with manual acknowledgement.
type source struct {
	cfg     config.MQTT
	log     *slog.Logger
	metrics *metrics
	// connGauge is tributary_mqtt_connected for this session's tenant.
	connGauge prometheus.Gauge
	onMsg     func(paho.PublishReceived) (bool, error)
	subs      func() []subscription
	// holding reports whether onMsg is waiting on purpose (backpressure); see pinger.
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

// fenceTopic is where a source publishes to itself to separate, in its own queue at the
// broker, the messages routed before a subscription change from those routed after.
func (s *source) fenceTopic() string {
	return "$tributary/fence/" + strings.NewReplacer("+", "_", "#", "_", "/", "_").Replace(s.cfg.ClientID)
}

// subID returns the subscription identifier of filter, assigning the next one on first use.
func (s *source) subID(filter string) int {
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

// twins recognises the extra copies a broker sends when several of a session's filters match
// one message (Mosquitto sends one per filter, each with that filter's subscription
// identifier, one after the other in the session's queue). A copy is an extra one when the
// message before it on the connection has the same topic and payload, at least its QoS, and a
// group of identifiers that does not yet hold the copy's: the same message delivered again by
// one filter (a real repeat, or a redelivery) always starts a new group and is processed.
type twins struct {
	topic   string
	payload []byte
	qos     byte
	ids     []int
}

// extra reports whether p is an extra copy of the message before it, and remembers p.
func (t *twins) extra(p *paho.Publish) bool {
	if p.Properties == nil || p.Properties.SubscriptionIdentifier == nil {
		t.topic, t.payload, t.ids = "", nil, t.ids[:0]
		return false
	}
	id := *p.Properties.SubscriptionIdentifier
	if p.Topic == t.topic && p.QoS <= t.qos && !slices.Contains(t.ids, id) && bytes.Equal(p.Payload, t.payload) {
		t.ids = append(t.ids, id)
		return true
	}
	t.topic, t.payload, t.qos, t.ids = p.Topic, p.Payload, p.QoS, append(t.ids[:0], id)
	return false
}

// filterCopies is paho's callback: it acknowledges extra copies and the source's own fences
// without handing them on, and hands every other message to onMsg.
func (s *source) filterCopies(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if s.twins.extra(p) || p.Topic == s.fenceName {
		if p.QoS > 0 {
			if err := pr.Client.Ack(p); err != nil {
				s.log.Debug("mqtt ack not sent", slog.String("mqtt_topic", p.Topic), slog.String("error", err.Error()))
			}
		}
		if p.Topic != s.fenceName {
			s.metrics.copiesDropped.Inc()
		}
		return true, nil
	}
	return s.onMsg(pr)
}

// clientConfig maps the mqtt section of the configuration to autopaho.
func (s *source) clientConfig(ctx context.Context) (autopaho.ClientConfig, error) {
	c := s.cfg
	u, err := url.Parse(c.URL)
	if err != nil {
		return autopaho.ClientConfig{}, fmt.Errorf("mqtt.url: %w", err)
	}
	var tc *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts", "wss":
		if tc, err = tlsConfig(c.TLS, "mqtt.tls"); err != nil {
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
			s.metrics.mqttConnErrors.Inc()
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

func (s *source) start(ctx context.Context) error {
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

func (s *source) onConnectionUp(cm *autopaho.ConnectionManager, ack *paho.Connack) {
	s.connected.Store(true)
	s.connGauge.Set(1)
	s.metrics.mqttConnects.Inc()
	s.log.Info("mqtt connected", slog.String("url", s.cfg.URL), slog.String("client_id", s.cfg.ClientID),
		slog.Bool("session_present", ack.SessionPresent))
	s.useSubIDs.Store(ack.Properties == nil || ack.Properties.SubIDAvailable)
	// Must not block: subscribe on our own goroutine.
	go s.subscribe(cm)
}

func (s *source) onConnectionDown() bool {
	s.connected.Store(false)
	s.subscribed.Store(false)
	s.connGauge.Set(0)
	s.metrics.mqttConnErrors.Inc()
	s.log.Warn("mqtt connection lost; reconnecting", slog.String("url", s.cfg.URL))
	return true
}

// subscribe subscribes to every route filter on a new connection, and to the fence topic.
func (s *source) subscribe(cm *autopaho.ConnectionManager) {
	if s.useSubIDs.Load() {
		s.fenceOK.Store(s.subscribeSet(cm, []subscription{{filter: s.fenceName, qos: 1, own: true}}))
	}
	s.subscribed.Store(s.subscribeSet(cm, s.subs()))
}

// fence publishes to the source's fence topic and waits for the broker's acknowledgement: the
// broker has then routed every message it routed before, and will route every later one,
// on the far side of the fence in this session's queue. Without subscription identifiers or
// when the broker refused the fence topic it does nothing.
func (s *source) fence(ctx context.Context) {
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
func (s *source) filterName(filter string) string {
	if s.cfg.SharedGroup != "" {
		return mqtttopic.Shared(s.cfg.SharedGroup, filter)
	}
	return filter
}

// subscribeSet subscribes to subs in one SUBSCRIBE and reports whether the broker granted all.
// Retain handling 1 asks the broker to send retained messages only for new subscriptions, so a
// reconnect does not replay them.
func (s *source) subscribeSet(cm *autopaho.ConnectionManager, subs []subscription) bool {
	if len(subs) == 0 {
		return true
	}
	// With subscription identifiers each filter goes in its own SUBSCRIBE, since an
	// identifier applies to a whole packet.
	var reqs []*paho.Subscribe
	for _, sub := range subs {
		name := sub.filter
		if !sub.own {
			name = s.filterName(sub.filter)
		}
		opt := paho.SubscribeOptions{Topic: name, QoS: sub.qos, RetainHandling: 1}
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
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	ok := true
	for _, req := range reqs {
		ack, err := cm.Subscribe(ctx, req)
		if err != nil {
			s.log.Error("mqtt subscribe failed", slog.String("error", err.Error()))
			return false
		}
		for i, rc := range ack.Reasons {
			if rc >= 0x80 && i < len(req.Subscriptions) {
				ok = false
				s.log.Error("mqtt broker refused subscription", slog.String("filter", req.Subscriptions[i].Topic),
					slog.Int("reason_code", int(rc)))
			}
		}
	}
	if ok && !(len(subs) == 1 && subs[0].own) {
		s.log.Info("mqtt subscribed", slog.Int("filters", len(subs)))
	}
	return ok
}

// acksWritten returns once the acknowledgements given so far have been written to the
// broker and the broker has read them (a PINGREQ written after them is answered), or their
// connection has closed, so they never will be; or with ctx's error.
func (s *source) acksWritten(ctx context.Context) error {
	pc := s.conn.Load()
	if pc == nil {
		return nil
	}
	if err := pc.waitAcks(ctx); err != nil {
		return err
	}
	if !s.connected.Load() {
		return nil // the acknowledgements not yet written never will be; nothing to ask
	}
	if err := s.pinger.roundTrip(ctx, pc); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// ready reports whether the session is connected and subscribed.
func (s *source) ready() bool { return s.connected.Load() && s.subscribed.Load() }

// disconnect sends DISCONNECT and waits for autopaho to finish.
func (s *source) disconnect(ctx context.Context) error {
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
