package mqttsource

import (
	"bytes"
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestV311SessionOnTheWire starts a 3.1.1 source against a listener that plays the broker and
// reads what the client sends: a CONNECT for a persistent session at level 4 whose keep alive
// is mqtt.keep_alive (the client itself runs none), then one SUBSCRIBE of the flow's filters,
// with the shared-subscription prefix. A PUBLISH it then sends reaches OnMessage, and its
// acknowledgement leaves only when OnMessage's caller sends it.
func TestV311SessionOnTheWire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Default().MQTT
	cfg.Protocol = config.Protocol311
	cfg.URL = "tcp://" + ln.Addr().String()
	cfg.ClientID = "gw-311"
	cfg.KeepAlive = 7 * time.Second
	cfg.SharedGroup = "g"
	got := make(chan Message, 1)
	src := New(Config{
		MQTT:          cfg,
		Metrics:       testMetrics(),
		OnMessage:     func(m Message) { got <- m },
		Subscriptions: func() []Subscription { return []Subscription{{Filter: "a/#", QoS: 1}} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))

	cp, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cp.(*packets.ConnectPacket)
	if !ok {
		t.Fatalf("first packet %T, want CONNECT", cp)
	}
	if c.ProtocolName != "MQTT" || c.ProtocolVersion != 4 || c.CleanSession || c.ClientIdentifier != "gw-311" || c.Keepalive != 7 {
		t.Fatalf("CONNECT %s %d clean=%v id=%q keepalive=%d; want MQTT 4 clean=false gw-311 7",
			c.ProtocolName, c.ProtocolVersion, c.CleanSession, c.ClientIdentifier, c.Keepalive)
	}
	ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	if err := ack.Write(conn); err != nil {
		t.Fatal(err)
	}
	sp, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	sub, ok := sp.(*packets.SubscribePacket)
	if !ok || !slices.Equal(sub.Topics, []string{"$share/g/a/#"}) || !slices.Equal(sub.Qoss, []byte{1}) {
		t.Fatalf("after CONNACK got %v, want SUBSCRIBE $share/g/a/# at QoS 1", sp)
	}
	suback := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
	suback.MessageID, suback.ReturnCodes = sub.MessageID, []byte{1}
	if err := suback.Write(conn); err != nil {
		t.Fatal(err)
	}

	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.TopicName, pub.Qos, pub.MessageID, pub.Payload = "a/b", 1, 42, []byte("hello")
	if err := pub.Write(conn); err != nil {
		t.Fatal(err)
	}
	m := <-got
	if m.Topic != "a/b" || string(m.Payload) != "hello" || m.QoS != 1 {
		t.Fatalf("OnMessage got %+v", m)
	}
	// Nothing is acknowledged yet: the next packet is the PUBACK sent below, not an earlier one.
	time.Sleep(100 * time.Millisecond) // room for a wrong automatic acknowledgement to leave
	if err := m.Ack.Send(); err != nil {
		t.Fatal(err)
	}
	ap, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	if pa, ok := ap.(*packets.PubackPacket); !ok || pa.MessageID != 42 {
		t.Fatalf("got %v, want PUBACK 42", ap)
	}
	// AcksWritten asks the broker for a round trip after the acknowledgement.
	done := make(chan error, 1)
	go func() { done <- src.AcksWritten(context.Background()) }()
	if pp, err := packets.ReadPacket(conn); err != nil {
		t.Fatal(err)
	} else if _, ok := pp.(*packets.PingreqPacket); !ok {
		t.Fatalf("got %v, want PINGREQ", pp)
	}
	if err := packets.NewControlPacket(packets.Pingresp).Write(conn); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	_ = src.Disconnect(dctx)
	if dp, err := packets.ReadPacket(conn); err != nil {
		t.Fatal(err)
	} else if _, ok := dp.(*packets.DisconnectPacket); !ok {
		t.Fatalf("got %v, want DISCONNECT", dp)
	}
}

func testMetrics() Metrics {
	return Metrics{
		Connected:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "c"}),
		Connects:    prometheus.NewCounter(prometheus.CounterOpts{Name: "n"}),
		ConnErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "e"}),
		CopyDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"}),
	}
}

// ackRecorder is an mqtt.Message whose Ack records its id.
type ackRecorder struct {
	mqtt.Message
	id   int
	mu   *sync.Mutex
	sent *[]int
}

func (a ackRecorder) Ack() {
	a.mu.Lock()
	*a.sent = append(*a.sent, a.id)
	a.mu.Unlock()
}

// TestAckOrderReleasesInReceiveOrder acknowledges messages out of order, as shards finish
// them: each acknowledgement leaves only once every earlier message's has.
func TestAckOrderReleasesInReceiveOrder(t *testing.T) {
	var mu sync.Mutex
	var sent []int
	o := &ackOrder{}
	var slots []*ackSlot
	for i := range 6 {
		slots = append(slots, o.add(ackRecorder{id: i, mu: &mu, sent: &sent}))
	}
	step := func(i int, want ...int) {
		t.Helper()
		if err := o.done(slots[i]); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(sent, want) {
			t.Fatalf("after done(%d): sent %v, want %v", i, sent, want)
		}
	}
	step(2)
	step(1)
	step(0, 0, 1, 2)
	step(5, 0, 1, 2)
	step(3, 0, 1, 2, 3)
	slots = append(slots, o.add(ackRecorder{id: 6, mu: &mu, sent: &sent}))
	step(6, 0, 1, 2, 3)
	step(4, 0, 1, 2, 3, 4, 5, 6)
}

func TestSetConnectKeepAlive(t *testing.T) {
	c := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	c.ProtocolName, c.ProtocolVersion, c.ClientIdentifier, c.Keepalive = "MQTT", 4, string(bytes.Repeat([]byte("x"), 200)), 0
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	setConnectKeepAlive(b, 300) // remaining length over 127: two bytes of it
	back, err := packets.ReadPacket(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if k := back.(*packets.ConnectPacket).Keepalive; k != 300 {
		t.Fatalf("keep alive %d, want 300", k)
	}
	// A 3.1 CONNECT (MQIsdp) is left as it is.
	old := []byte("\x10\x0c\x00\x06MQIsdp\x03\x02\x00\x00")
	setConnectKeepAlive(old, 9)
	if !bytes.Equal(old, []byte("\x10\x0c\x00\x06MQIsdp\x03\x02\x00\x00")) {
		t.Fatalf("a 3.1 CONNECT was changed: %q", old)
	}
}

// TestPacketScannerAcrossReads feeds packets to the scanner in pieces of every size and
// checks it counts each packet once and each PINGRESP.
func TestPacketScannerAcrossReads(t *testing.T) {
	var stream bytes.Buffer
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.TopicName, pub.Qos, pub.MessageID, pub.Payload = "t", 1, 1, bytes.Repeat([]byte("p"), 300)
	for range 3 {
		_ = pub.Write(&stream)
		_ = packets.NewControlPacket(packets.Pingresp).Write(&stream)
	}
	for size := 1; size <= stream.Len(); size += 37 {
		p := &pinger{}
		var s packetScanner
		b := stream.Bytes()
		for len(b) > 0 {
			n := min(size, len(b))
			s.scan(b[:n], p)
			b = b[n:]
		}
		if p.pongs != 3 || p.lastReceived.IsZero() || s.state != 0 {
			t.Fatalf("pieces of %d: %d PINGRESPs counted, state %d; want 3, 0", size, p.pongs, s.state)
		}
	}
}

// TestV311ResubscribesOnlyWhenTheSessionIsNew drops the connection twice. A reconnection to a
// session the broker kept (CONNACK session present) sends no SUBSCRIBE, which in 3.1.1 would
// have the broker send its retained messages again; one to a session the broker lost
// subscribes again.
func TestV311ResubscribesOnlyWhenTheSessionIsNew(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Default().MQTT
	cfg.Protocol = config.Protocol311
	cfg.URL = "tcp://" + ln.Addr().String()
	cfg.ClientID = "gw-311-resub"
	cfg.ReconnectMin, cfg.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	src := New(Config{
		MQTT:          cfg,
		Metrics:       testMetrics(),
		OnMessage:     func(Message) {},
		Subscriptions: func() []Subscription { return []Subscription{{Filter: "a/#", QoS: 1}} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// session accepts a connection, answers its CONNECT with sessionPresent, grants any
	// SUBSCRIBE, and once the source is ready (subscribed, or sure it need not) closes the
	// connection and reports whether it subscribed.
	session := func(sessionPresent bool) (subscribed bool) {
		t.Helper()
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := packets.ReadPacket(conn); err != nil {
			t.Fatal(err)
		}
		ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
		ack.SessionPresent = sessionPresent
		if err := ack.Write(conn); err != nil {
			t.Fatal(err)
		}
		in := make(chan packets.ControlPacket)
		go func() {
			for {
				p, err := packets.ReadPacket(conn)
				if err != nil {
					close(in)
					return
				}
				in <- p
			}
		}()
		deadline := time.After(20 * time.Second)
		for !src.Ready() {
			select {
			case p := <-in:
				if sub, ok := p.(*packets.SubscribePacket); ok {
					subscribed = true
					suback := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
					suback.MessageID, suback.ReturnCodes = sub.MessageID, []byte{1}
					if err := suback.Write(conn); err != nil {
						t.Fatal(err)
					}
				}
			case <-time.After(5 * time.Millisecond):
			case <-deadline:
				t.Fatal("the source never got ready")
			}
		}
		conn.Close()
		for range in { // until the reader sees the close
		}
		return subscribed
	}
	if !session(false) {
		t.Fatal("first connection: no SUBSCRIBE")
	}
	// Wait for the source to see the connection gone, so that Ready is about the next one.
	for src.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	if session(true) {
		t.Fatal("reconnection to a kept session subscribed again")
	}
	for src.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	if !session(false) {
		t.Fatal("reconnection to a lost session: no SUBSCRIBE")
	}
}

// TestV311UnansweredPingReconnects plays a broker that stops answering: the pinger closes the
// connection after a keep-alive interval without a PINGRESP or any other packet, and the
// client reports the loss and connects again (a close it took for its own would leave it
// silently dead).
func TestV311UnansweredPingReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Default().MQTT
	cfg.Protocol = config.Protocol311
	cfg.URL = "tcp://" + ln.Addr().String()
	cfg.ClientID = "gw-311-ping"
	cfg.KeepAlive = time.Second
	cfg.ReconnectMin, cfg.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	src := New(Config{MQTT: cfg, Metrics: testMetrics(), OnMessage: func(Message) {},
		Subscriptions: func() []Subscription { return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	accept := func() net.Conn {
		t.Helper()
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := packets.ReadPacket(conn); err != nil {
			t.Fatal(err)
		}
		if err := packets.NewControlPacket(packets.Connack).Write(conn); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	first := accept()
	defer first.Close()
	// Read (so the client's writes never block) and answer nothing.
	pings := make(chan struct{}, 10)
	go func() {
		for {
			p, err := packets.ReadPacket(first)
			if err != nil {
				return
			}
			if _, ok := p.(*packets.PingreqPacket); ok {
				pings <- struct{}{}
			}
		}
	}()
	second := accept()
	defer second.Close()
	select {
	case <-pings:
	default:
		t.Fatal("the client reconnected without having sent a PINGREQ")
	}
}
