package gatewaytest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kgo"
)

// subscriber is a minimal MQTT v5 subscriber for these tests: it records every
// PUBLISH it receives, in order.
type subscriber struct {
	client *paho.Client
	mu     sync.Mutex
	got    []*paho.Publish
}

// subscribe connects clientID to brokerURL with the given clean start and a
// one-hour session expiry, and subscribes to filter with qos.
func subscribe(t *testing.T, brokerURL, clientID string, cleanStart bool, filter string, qos byte) *subscriber {
	t.Helper()
	addr, err := mqttAddr(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("subscriber %s: dial %s: %v", clientID, addr, err)
	}
	s := &subscriber{}
	s.client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				s.mu.Lock()
				s.got = append(s.got, pr.Packet)
				s.mu.Unlock()
				return true, nil
			},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expiry := uint32(3600)
	if _, err := s.client.Connect(ctx, &paho.Connect{
		ClientID: clientID, CleanStart: cleanStart, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry},
	}); err != nil {
		t.Fatalf("subscriber %s: connect: %v", clientID, err)
	}
	if _, err := s.client.Subscribe(ctx, &paho.Subscribe{
		Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}},
	}); err != nil {
		t.Fatalf("subscriber %s: subscribe %q: %v", clientID, filter, err)
	}
	t.Cleanup(s.close)
	return s
}

func (s *subscriber) close() {
	_ = s.client.Disconnect(&paho.Disconnect{})
	select {
	case <-s.client.Done():
	case <-time.After(5 * time.Second):
	}
}

func (s *subscriber) messages() []*paho.Publish {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*paho.Publish(nil), s.got...)
}

// asRecords turns received PUBLISHes into the records a gateway with the
// default key would produce, so CheckDelivery can judge them.
func asRecords(ps []*paho.Publish) []*kgo.Record {
	out := make([]*kgo.Record, len(ps))
	for i, p := range ps {
		out[i] = &kgo.Record{Key: []byte(p.Topic), Value: p.Payload, Offset: int64(i)}
	}
	return out
}

func TestMosquitto_PublishKeepsTopicOrder(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			mq := Mosquitto(t)
			if !strings.HasPrefix(mq.URL(), "tcp://127.0.0.1:") {
				t.Fatalf("URL() = %q, want tcp://127.0.0.1:PORT", mq.URL())
			}
			sub := subscribe(t, mq.URL(), "sub", true, "building/#", 2)
			msgs := Messages(Topics("building/floor%d/sensor/%02d/temp", 2, 10), 2000)
			pub := NewPublisher(t, mq.URL())
			if err := pub.Publish(t.Context(), qos, msgs); err != nil {
				t.Fatal(err)
			}
			// The broker handles one connection's packets in order: once this
			// QoS 1 marker arrives, every message before it was routed.
			done := PublishMsg{Topic: "building/done", Seq: -1, Payload: Payload("building/done", -1)}
			if err := pub.Publish(t.Context(), 1, []PublishMsg{done}); err != nil {
				t.Fatal(err)
			}
			WaitFor(t, 30*time.Second, func() error {
				for _, m := range sub.messages() {
					if m.Topic == done.Topic {
						return nil
					}
				}
				return fmt.Errorf("marker not received; subscriber has %d of %d messages", len(sub.messages()), len(msgs))
			})
			var got []*paho.Publish
			for _, m := range sub.messages() {
				if m.Topic != done.Topic {
					got = append(got, m)
				}
			}
			r := CheckDelivery(msgs, asRecords(got))
			if qos == 0 {
				// At most once: the broker may drop QoS 0 under load, but
				// never duplicate or reorder.
				t.Logf("qos 0: %s", r)
				r.Missing = 0
			}
			if err := r.ExactlyOnce(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMosquitto_UserPropertiesAndContentType(t *testing.T) {
	mq := Mosquitto(t)
	sub := subscribe(t, mq.URL(), "sub", true, "a/#", 1)
	msg := PublishMsg{
		Topic: "a/b", Seq: 7, Payload: Payload("a/b", 7), ContentType: "application/json",
		UserProperties: []UserProperty{{"site", "hq"}, {"site", "annex"}},
	}
	Publish(t, mq.URL(), 1, []PublishMsg{msg})
	WaitFor(t, 10*time.Second, func() error {
		if len(sub.messages()) == 0 {
			return fmt.Errorf("no message on a/#")
		}
		return nil
	})
	got := sub.messages()[0]
	if got.Properties == nil || got.Properties.ContentType != "application/json" {
		t.Fatalf("content type: got properties %+v, want application/json", got.Properties)
	}
	if all := got.Properties.User.GetAll("site"); len(all) != 2 || all[0] != "hq" || all[1] != "annex" {
		t.Fatalf("user property site = %q, want [hq annex]", all)
	}
	if string(got.Payload) != string(msg.Payload) {
		t.Fatalf("payload = %s, want %s", got.Payload, msg.Payload)
	}
}

// TestMosquitto_RestartKeepsQueuedMessage checks WithPersistence: a QoS 1
// message queued for an offline persistent session survives a restart, after
// a clean stop and after a crash.
func TestMosquitto_RestartKeepsQueuedMessage(t *testing.T) {
	tests := []struct {
		name string
		down func(*Broker)
	}{
		{"stop", (*Broker).Stop},
		{"kill", (*Broker).Kill},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mq := Mosquitto(t, WithPersistence())
			addr := mq.Addr()
			sub := subscribe(t, mq.URL(), "persistent", false, "q/#", 1)
			sub.close() // offline; the session stays

			db := mq.Dir() + "/mosquitto.db"
			msg := Messages([]string{"q/1"}, 1)
			Publish(t, mq.URL(), 1, msg)
			// Autosave runs right after the change; wait for it before a crash.
			WaitFor(t, 10*time.Second, func() error {
				if data, _ := os.ReadFile(db); !bytes.Contains(data, msg[0].Payload) {
					return fmt.Errorf("%s does not hold the queued message yet", db)
				}
				return nil
			})

			tc.down(mq)
			if mq.Running() {
				t.Fatal("Running() = true after stopping")
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after %s", addr, tc.name)
			}
			mq.Start()
			if mq.Addr() != addr {
				t.Fatalf("address changed across restart: %s -> %s", addr, mq.Addr())
			}

			sub = subscribe(t, mq.URL(), "persistent", false, "q/#", 1)
			WaitFor(t, 10*time.Second, func() error {
				if len(sub.messages()) == 0 {
					return fmt.Errorf("queued message not redelivered after %s", tc.name)
				}
				return nil
			})
			if err := CheckDelivery(msg, asRecords(sub.messages())).ExactlyOnce(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMosquitto_PasswordFile(t *testing.T) {
	mq := Mosquitto(t, WithPasswordFile("gw", "s3cret"))
	tests := []struct {
		name       string
		opts       []PublisherOption
		wantReject bool
	}{
		{"right password", []PublisherOption{WithLogin("gw", "s3cret")}, false},
		{"wrong password", []PublisherOption{WithLogin("gw", "nope")}, true},
		{"anonymous", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := publisherSettings{workers: 1, clientID: "pw-test"}
			for _, o := range tc.opts {
				o(&s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := dialPublisher(ctx, mq.URL(), s)
			if tc.wantReject {
				if err == nil {
					p.Close()
					t.Fatal("connected, want the broker to refuse")
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			p.Close()
		})
	}
}

// recordingTB captures Skip and Fatal so the not-installed path can be tested.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func TestMosquitto_NotInstalled(t *testing.T) {
	tests := []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"1", false},
	}
	for _, tc := range tests {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(MosquittoBinEnv, t.TempDir()+"/no-such-mosquitto")
			t.Setenv(RequireMosquittoEnv, tc.require)
			r := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Mosquitto(r)
			}()
			<-done
			if r.skipped != tc.wantSkip || r.failed == tc.wantSkip {
				t.Fatalf("skipped=%v failed=%v, want skipped=%v", r.skipped, r.failed, tc.wantSkip)
			}
			if !strings.Contains(r.msg, "apt-get install -y mosquitto") || !strings.Contains(r.msg, "brew install mosquitto") {
				t.Fatalf("message %q lacks install instructions", r.msg)
			}
			if tc.wantSkip && !strings.Contains(r.msg, RequireMosquittoEnv+"=1") {
				t.Fatalf("skip message %q does not say how to make it a failure", r.msg)
			}
		})
	}
}
