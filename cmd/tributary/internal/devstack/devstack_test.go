package devstack

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// takenPort returns a port some listener holds for the rest of the test.
func takenPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestListen(t *testing.T) {
	taken := takenPort(t)
	tests := []struct {
		name         string
		port         int
		fallback     bool
		wantFellBack bool
		wantErr      string
	}{
		{name: "free port", port: 0},
		{name: "taken port falls back", port: taken, fallback: true, wantFellBack: true},
		{name: "taken port without fallback", port: taken, wantErr: "127.0.0.1:" + strconv.Itoa(taken)},
		{name: "out of range", port: 70000, fallback: true, wantErr: "port 70000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, fellBack, err := Listen(tc.port, tc.fallback)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Listen(%d, %v) error = %v, want one containing %q", tc.port, tc.fallback, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if fellBack != tc.wantFellBack {
				t.Errorf("fellBack = %v, want %v", fellBack, tc.wantFellBack)
			}
			got := ln.Addr().(*net.TCPAddr)
			if !got.IP.IsLoopback() || got.Port == 0 || got.Port == taken {
				t.Errorf("listening on %v, want a free loopback port", got)
			}
		})
	}
}

func TestReserveAddr(t *testing.T) {
	addr, _, err := ReserveAddr(0, false)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr) // released, so usable by the caller
	if err != nil {
		t.Fatalf("reserved %s is not free: %v", addr, err)
	}
	ln.Close()
}

func connect(t *testing.T, ctx context.Context, brokerURL, id string, onPublish func(paho.PublishReceived) (bool, error)) *autopaho.ConnectionManager {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     10,
		CleanStartOnInitialConnection: true,
		ClientConfig:                  paho.ClientConfig{ClientID: id},
	}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onPublish}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = cm.Disconnect(dctx)
	})
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatalf("connect %s to %s: %v", id, brokerURL, err)
	}
	return cm
}

func TestBroker_PublishSubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _, err := StartBroker(0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "tcp://127.0.0.1:") || b.URL() != "tcp://"+b.Addr() {
		t.Fatalf("URL() = %q, Addr() = %q", b.URL(), b.Addr())
	}

	const topic = "building/floor1/room101/sensor/s000/temperature"
	if b.Subscribed(topic) {
		t.Fatal("Subscribed before anyone subscribed")
	}
	got := make(chan *paho.Publish, 1)
	sub := connect(t, ctx, b.URL(), "sub", func(pr paho.PublishReceived) (bool, error) {
		got <- pr.Packet
		return true, nil
	})
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "building/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitSubscribed(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if b.Subscribed("elsewhere/x") {
		t.Error("Subscribed(elsewhere/x) = true, want false")
	}

	pub := connect(t, ctx, b.URL(), "pub", nil)
	if _, err := pub.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: []byte(`{"value":21.5}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.Topic != topic || string(p.Payload) != `{"value":21.5}` {
			t.Fatalf("received %s %q", p.Topic, p.Payload)
		}
	case <-ctx.Done():
		t.Fatal("no message received")
	}
}

func TestBroker_WaitSubscribedHonoursContext(t *testing.T) {
	b, _, err := StartBroker(0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.WaitSubscribed(ctx, "building/x"); err == nil {
		t.Fatal("WaitSubscribed with a cancelled context and no subscriber returned nil")
	}
}

func TestBroker_PortTaken(t *testing.T) {
	taken := takenPort(t)
	if _, _, err := StartBroker(taken, false, nil); err == nil || !strings.Contains(err.Error(), "mqtt broker") {
		t.Fatalf("StartBroker on a taken port without fallback: err = %v, want one naming the mqtt broker", err)
	}
	b, fellBack, err := StartBroker(taken, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !fellBack || strings.HasSuffix(b.Addr(), ":"+strconv.Itoa(taken)) {
		t.Fatalf("fellBack = %v, addr %s; want a different port than %d", fellBack, b.Addr(), taken)
	}
}

func TestKafka_ProduceConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	taken := takenPort(t)
	k, fellBack, err := StartKafka(taken, true, "seeded")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if !fellBack {
		t.Error("fellBack = false on a taken port")
	}
	if _, _, err := StartKafka(taken, false); err == nil || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("StartKafka on a taken port without fallback: err = %v, want one naming kafka", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("seeded", "auto"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"seeded", "auto"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(topic)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	seen := map[string]string{}
	for len(seen) < 2 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %v of 2 topics: %v", seen, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[r.Topic] = string(r.Value) })
	}
	if seen["seeded"] != "seeded" || seen["auto"] != "auto" {
		t.Fatalf("read back %v", seen)
	}
}

// dialPaho connects a plain paho client to b that announces receive maximum rm, with
// onPublish as its handler; manual acknowledges nothing until the test does.
func dialPaho(t *testing.T, ctx context.Context, b *Broker, id string, rm uint16, manual bool, onPublish func(paho.PublishReceived) (bool, error)) *paho.Client {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn:                       conn,
		OnPublishReceived:          []func(paho.PublishReceived) (bool, error){onPublish},
		EnableManualAcknowledgment: manual,
	})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if rm > 0 {
		cp.Properties = &paho.ConnectProperties{ReceiveMaximum: &rm}
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}); conn.Close() })
	return c
}

func subscribe(t *testing.T, ctx context.Context, c *paho.Client, filter string) {
	t.Helper()
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

// TestBroker_DoesNotHoldBackBeyondReceiveMaximum checks the broker writes QoS 1 messages to a
// subscriber past its receive maximum instead of holding them back: holding back is the path
// on which mochi deadlocks (see noSendQuota).
func TestBroker_DoesNotHoldBackBeyondReceiveMaximum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, _, err := StartBroker(0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 10
	got := make(chan struct{}, n)
	sub := dialPaho(t, ctx, b, "sub", 2, true, func(paho.PublishReceived) (bool, error) {
		got <- struct{}{} // never acknowledged
		return true, nil
	})
	subscribe(t, ctx, sub, "t/#")
	pub := dialPaho(t, ctx, b, "pub", 0, false, func(paho.PublishReceived) (bool, error) { return true, nil })
	for i := range n {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "t/" + strconv.Itoa(i), QoS: 1, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatalf("the subscriber got %d of %d unacknowledged messages with receive maximum 2: the broker held the rest back", i, n)
		}
	}
}

// TestBroker_ConcurrentPublishersToAckingSubscriber is the scenario in which mochi v2.7.9
// deadlocked (tributary bench, and dev at high rates): many publishers deliver to one
// subscriber with a small receive maximum while it acknowledges. Every message must arrive;
// before the fix the broker stopped after about the first receive-maximum's worth.
func TestBroker_ConcurrentPublishersToAckingSubscriber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, _, err := StartBroker(0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const publishers, each = 8, 1500
	var received atomic.Int64
	all := make(chan struct{})
	sub := dialPaho(t, ctx, b, "sub", 20, false, func(paho.PublishReceived) (bool, error) {
		if received.Add(1) == publishers*each {
			close(all)
		}
		return true, nil
	})
	subscribe(t, ctx, sub, "load/#")
	var g errgroup.Group
	for p := range publishers {
		pub := dialPaho(t, ctx, b, "pub"+strconv.Itoa(p), 0, false, func(paho.PublishReceived) (bool, error) { return true, nil })
		g.Go(func() error {
			for i := range each {
				pb := &paho.Publish{Topic: "load/" + strconv.Itoa(p), QoS: 1, Payload: []byte(strconv.Itoa(i))}
				if _, err := pub.PublishWithOptions(ctx, pb, paho.PublishOptions{Method: paho.PublishMethod_AsyncSend}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("publishing: %v (received %d of %d)", err, received.Load(), publishers*each)
	}
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("received %d of %d messages before the test's time limit: the broker is stuck", received.Load(), publishers*each)
	}
}
