package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
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

	cm         *autopaho.ConnectionManager
	connected  atomic.Bool
	subscribed atomic.Bool
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
			return dialMQTT(ctx, u, tc, c.ConnectTimeout)
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
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){s.onMsg},
			EnableManualAcknowledgment: true,
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

// subscribe subscribes to every route filter on a new connection.
func (s *source) subscribe(cm *autopaho.ConnectionManager) {
	s.subscribed.Store(s.subscribeSet(cm, s.subs()))
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
	req := &paho.Subscribe{}
	for _, sub := range subs {
		req.Subscriptions = append(req.Subscriptions, paho.SubscribeOptions{
			Topic: s.filterName(sub.filter), QoS: sub.qos, RetainHandling: 1,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
	defer cancel()
	ack, err := cm.Subscribe(ctx, req)
	if err != nil {
		s.log.Error("mqtt subscribe failed", slog.String("error", err.Error()))
		return false
	}
	ok := true
	for i, rc := range ack.Reasons {
		if rc >= 0x80 && i < len(req.Subscriptions) {
			ok = false
			s.log.Error("mqtt broker refused subscription", slog.String("filter", req.Subscriptions[i].Topic),
				slog.Int("reason_code", int(rc)))
		}
	}
	if ok {
		s.log.Info("mqtt subscribed", slog.Int("filters", len(req.Subscriptions)))
	}
	return ok
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
