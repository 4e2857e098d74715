package gateway_test

// Scale-out: several gateway instances with the same mqtt.shared_group split a topic space
// through MQTT v5 shared subscriptions ($share/<group>/<filter>).
//
// What Mosquitto 2.0 does, pinned by TestMosquittoSharedSubscriptionOfflineMember:
//
//   - It hands each message to one member of the group, round robin per message, not per
//     topic. One topic's messages therefore go to every instance in turn, and their order in
//     Kafka is not kept across instances.
//   - The round robin includes members whose persistent session is offline. A member that
//     crashes, or even disconnects cleanly, keeps its unacknowledged in-flight messages AND
//     goes on receiving its share of new ones in its offline session. Nothing moves to the
//     surviving members: the messages wait until an instance reconnects with the same client
//     id (or are dropped when the session expires after mqtt.session_expiry).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// sharedGroupNoLoss is DeliveryReport.AtLeastOnce without the order check: a shared
// subscription spreads one topic's messages over the instances, so per-topic order across
// instances is not a property scale-out has.
func sharedGroupNoLoss(rep gatewaytest.DeliveryReport) error {
	if rep.Missing != 0 || rep.Unexpected != 0 {
		return errors.New(rep.String())
	}
	return nil
}

// TestScaleOut_SharedGroupExactlyOnceAndSpread runs three in-process gateways in one shared
// group: with none failing, every message lands exactly once and each instance takes a fair
// part of the load.
func TestScaleOut_SharedGroupExactlyOnceAndSpread(t *testing.T) {
	// Mosquitto takes $share/ subscriptions from MQTT 3.1.1 clients too.
	forEachProtocol(t, testScaleOutSharedGroupExactlyOnceAndSpread)
}

func testScaleOutSharedGroupExactlyOnceAndSpread(t *testing.T, protocol string) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	const instances = 3
	gws := make([]*running, instances)
	for i := range gws {
		cfg := testConfig(t, mq.URL(), kf, route("fleet", "fleet/#", 1, "fleet"))
		cfg.MQTT.ClientID = fmt.Sprintf("%s-%d", cfg.MQTT.ClientID, i)
		cfg.MQTT.SharedGroup = "tributary"
		cfg.MQTT.Protocol = protocol
		gws[i] = startGateway(t, cfg)
	}
	msgs := gatewaytest.Messages(gatewaytest.Topics("fleet/floor%d/sensor/%03d", 4, 30), 3000)
	gatewaytest.Publish(t, mq.URL(), 1, msgs)

	rep := kf.WaitDelivered(t, "fleet", msgs, 60*time.Second)
	if err := sharedGroupNoLoss(rep); err != nil {
		t.Fatal(err)
	}
	if rep.Duplicates != 0 {
		t.Fatalf("no instance failed, yet there are duplicates: %s", rep)
	}
	t.Logf("per-topic order across instances is not kept: %d of %d records out of order", rep.OutOfOrder, rep.Received)

	var outs [instances]uint64
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		var sum uint64
		for i, gw := range gws {
			s := gw.Stats()
			if s.InFlight != 0 {
				return fmt.Errorf("instance %d: %d in flight", i, s.InFlight)
			}
			outs[i] = s.Routes[0].Out
			sum += outs[i]
		}
		if sum != uint64(len(msgs)) {
			return fmt.Errorf("instances produced %v = %d records, want %d", outs, sum, len(msgs))
		}
		return nil
	})
	t.Logf("records produced per instance: %v", outs)
	for i, out := range outs {
		// Mosquitto's round robin gives each a third; 10% is a loose floor that still fails
		// when one instance takes (nearly) everything.
		if out < uint64(len(msgs))/10 {
			t.Errorf("instance %d produced %d of %d records, want at least 10%% (all: %v)", i, out, len(msgs), outs)
		}
	}
}

// TestScaleOut_KillOneInstance runs three `tributary run` processes from one configuration
// file, each with its own TRIBUTARY_MQTT__CLIENT_ID, SIGKILLs one while messages flow and
// restarts it with the same client id: every message lands at least once.
//
// The restart is required, not a nicety: Mosquitto keeps the killed member's in-flight
// messages, and its round-robin share of later ones, in its offline session (see the top of
// this file). The test checks that too: with the member down, its share does not reach Kafka.
func TestScaleOut_KillOneInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tributary binary; skipped with -short")
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	dir := t.TempDir()
	conf := filepath.Join(dir, "tributary.yaml")
	yamlDoc := fmt.Sprintf(`mqtt:
  url: %s
  shared_group: tributary
  session_expiry: 1h
  reconnect_max: 500ms
kafka:
  brokers: [%s]
  compression: none
plugins:
  dir: %s
flow:
  max_in_flight: 200
log:
  level: debug
routes:
  - name: fleet
    from: ["fleet/#"]
    qos: 1
    to:
      topic: fleet
`, mq.URL(), strings.Join(kf.Brokers(), ", "), dir)
	if err := os.WriteFile(conf, []byte(yamlDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	procs := make([]*gatewayProcess, 3)
	for i := range procs {
		procs[i] = startGatewayProcess(t, bin, conf, fmt.Sprintf("tributary-scaleout-%d", i))
	}

	msgs := gatewaytest.Messages(gatewaytest.Topics("fleet/floor%d/sensor/%03d", 4, 25), 4000)
	during, after := msgs[:2000], msgs[2000:]
	pub := gatewaytest.NewPublisher(t, mq.URL())
	pubDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), gatewaytest.PublishTimeout)
		defer cancel()
		pubDone <- pub.Publish(ctx, 1, during)
	}()
	// Kill instance 1 once records are flowing.
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		recs, err := kf.FetchRecords(ctx, "fleet")
		if err != nil {
			return err
		}
		if len(recs) < 300 {
			return fmt.Errorf("%d records so far", len(recs))
		}
		return nil
	})
	var pubErr error
	published := false
	select {
	case pubErr = <-pubDone:
		published = true
	default:
	}
	procs[1].kill(t)
	if !published {
		pubErr = <-pubDone
	}
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	t.Logf("instance 1 killed while the publisher was still sending: %v", !published)
	// Published with the member down: a third goes to its offline session.
	ctx, cancel := context.WithTimeout(context.Background(), gatewaytest.PublishTimeout)
	defer cancel()
	if err := pub.Publish(ctx, 1, after); err != nil {
		t.Fatal(err)
	}

	// The survivors deliver their shares of `after`; the dead member's share stays missing.
	afterTopics := map[string]bool{}
	for _, m := range after {
		afterTopics[m.Topic] = true
	}
	var rep gatewaytest.DeliveryReport
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		recs, err := kf.FetchRecords(ctx, "fleet")
		if err != nil {
			return err
		}
		rep = gatewaytest.CheckDelivery(after, recs)
		if rep.Delivered < len(after)/2 {
			return fmt.Errorf("survivors delivered %d of %d messages published after the kill", rep.Delivered, len(after))
		}
		return nil
	})
	if rep.Missing == 0 {
		t.Fatalf("every message published after the kill was delivered without the killed member: "+
			"Mosquitto no longer queues a shared group's messages for offline members; update the docs (%s)", rep)
	}

	procs[1] = startGatewayProcess(t, bin, conf, "tributary-scaleout-1")
	rep = kf.WaitDelivered(t, "fleet", msgs, 90*time.Second)
	if err := sharedGroupNoLoss(rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("after kill and restart: %s", rep)
}

// gatewayProcess is one `tributary run` started by startGatewayProcess.
type gatewayProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *gatewaytest.SyncBuffer
	admin  string
}

// startGatewayProcess runs `bin run --config conf` with TRIBUTARY_MQTT__CLIENT_ID=clientID and
// an admin endpoint on a free port, and waits until /readyz says it is connected and
// subscribed. Cleanup stops it with SIGTERM (SIGKILL after 30s) and prints its logs when the
// test failed.
func startGatewayProcess(t *testing.T, bin, conf, clientID string) *gatewayProcess {
	t.Helper()
	p := &gatewayProcess{
		logs:   &gatewaytest.SyncBuffer{},
		exited: make(chan struct{}),
		admin:  net.JoinHostPort("127.0.0.1", fmt.Sprint(gatewaytest.FreePort(t))),
	}
	p.cmd = exec.Command(bin, "run", "--config", conf)
	p.cmd.Env = append(os.Environ(),
		config.EnvPrefix+"MQTT__CLIENT_ID="+clientID,
		config.EnvPrefix+"ADMIN__LISTEN="+p.admin)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", clientID, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("gateway %s did not stop within 30s of SIGTERM", clientID)
		}
		if t.Failed() {
			t.Logf("gateway %s logs:\n%s", clientID, p.logs.String())
		}
	})
	gatewaytest.WaitFor(t, 30*time.Second, func() error {
		select {
		case <-p.exited:
			return fmt.Errorf("gateway %s exited: %s", clientID, p.logs.String())
		default:
		}
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("gateway %s readyz %d: %s", clientID, resp.StatusCode, body)
		}
		return nil
	})
	return p
}

// kill sends SIGKILL, like a crash, and waits for the process to exit.
func (p *gatewayProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// shareMember is a raw MQTT v5 client in a shared subscription that records what it gets.
type shareMember struct {
	conn net.Conn
	cl   *paho.Client
	mu   sync.Mutex
	got  []string
}

// joinShare connects id with a one-hour persistent session and subscribes to filters at
// QoS 1. With ack false it never acknowledges a message, like a gateway that has not yet
// produced it.
func joinShare(t *testing.T, addr, id string, ack bool, filters ...string) *shareMember {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &shareMember{conn: conn}
	cl := paho.NewClient(paho.ClientConfig{
		Conn: conn, ClientID: id, EnableManualAcknowledgment: true,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			m.mu.Lock()
			m.got = append(m.got, string(pr.Packet.Payload))
			m.mu.Unlock()
			if ack {
				_ = pr.Client.Ack(pr.Packet)
			}
			return true, nil
		}},
	})
	expiry, receiveMax := uint32(3600), uint16(100)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.cl = cl
	if _, err := cl.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry, ReceiveMaximum: &receiveMax}}); err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	if len(filters) == 0 {
		return m // a resumed session keeps its subscriptions
	}
	sub := &paho.Subscribe{}
	for _, f := range filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	if _, err := cl.Subscribe(ctx, sub); err != nil {
		t.Fatalf("subscribe %s: %v", id, err)
	}
	return m
}

// waitFence waits until m has received the payload fence and returns what came before it.
func (m *shareMember) waitFence(t *testing.T, fence string) []string {
	t.Helper()
	var got []string
	gatewaytest.WaitFor(t, 10*time.Second, func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		i := slices.Index(m.got, fence)
		if i < 0 {
			return fmt.Errorf("fence %q not received; got %v", fence, m.got)
		}
		got = slices.Clone(m.got[:i])
		m.got = m.got[i+1:]
		return nil
	})
	return got
}

// TestMosquittoSharedSubscriptionOfflineMember pins the broker behaviour the scale-out docs
// describe: when a member of a shared group goes away with its persistent session kept
// (crash, or a clean DISCONNECT with a session expiry), Mosquitto keeps its unacknowledged
// messages in the session, goes on giving it its round-robin share of new ones while it is
// offline, and hands all of that over only when the same client id reconnects.
//
// Each member also subscribes (unshared) to its own fence topic. Mosquitto sends one client's
// messages in order, so once a member has its fence, it has everything routed to it before.
func TestMosquittoSharedSubscriptionOfflineMember(t *testing.T) {
	tests := []struct {
		name  string
		leave func(m *shareMember)
	}{
		{"crash", func(m *shareMember) { m.conn.Close() }},
		{"clean disconnect", func(m *shareMember) {
			_ = m.cl.Disconnect(&paho.Disconnect{ReasonCode: 0}) // session expiry stays 1h
			m.conn.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mq := gatewaytest.Mosquitto(t)
			a := joinShare(t, mq.Addr(), "share-a", false, "$share/g/x/#", "fence/a")
			b := joinShare(t, mq.Addr(), "share-b", true, "$share/g/x/#", "fence/b")
			batch := func(name string) []gatewaytest.PublishMsg {
				var msgs []gatewaytest.PublishMsg
				for i := range 10 {
					msgs = append(msgs, gatewaytest.PublishMsg{Topic: "x/t", Seq: int64(i), Payload: fmt.Appendf(nil, "%s-%d", name, i)})
				}
				return append(msgs,
					gatewaytest.PublishMsg{Topic: "fence/a", Payload: []byte("fence-" + name)},
					gatewaytest.PublishMsg{Topic: "fence/b", Payload: []byte("fence-" + name)})
			}
			pub := gatewaytest.NewPublisher(t, mq.URL(), gatewaytest.WithWorkers(1)) // strictly in order
			publish := func(msgs []gatewaytest.PublishMsg) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := pub.Publish(ctx, 1, msgs); err != nil {
					t.Fatal(err)
				}
			}

			publish(batch("one"))
			aOne, bOne := a.waitFence(t, "fence-one"), b.waitFence(t, "fence-one")
			if len(aOne) != 5 || len(bOne) != 5 {
				t.Fatalf("one topic's 10 messages split %d/%d, want 5/5 (round robin per message): a=%v b=%v", len(aOne), len(bOne), aOne, bOne)
			}

			tc.leave(a) // a's 5 messages stay unacknowledged
			publish(batch("two"))
			bTwo := b.waitFence(t, "fence-two")
			if len(bTwo) != 5 {
				t.Fatalf("with a offline, b got %d of 10 new messages, want 5 (the other 5 queue for a): %v", len(bTwo), bTwo)
			}
			for _, p := range bTwo {
				if slices.Contains(aOne, p) {
					t.Fatalf("b got %s, a's unacknowledged message, while a was offline", p)
				}
			}

			a2 := joinShare(t, mq.Addr(), "share-a", true) // same client id, session resumed
			aBack := a2.waitFence(t, "fence-two")
			want := map[string]bool{}
			for _, p := range append(aOne, batchPayloads(batch("two")[:10])...) {
				if !slices.Contains(bTwo, p) {
					want[p] = true
				}
			}
			for _, p := range aBack {
				delete(want, p)
			}
			if len(want) != 0 {
				t.Fatalf("after a reconnected, still missing %v (a got %v)", want, aBack)
			}
		})
	}
}

func batchPayloads(msgs []gatewaytest.PublishMsg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Payload)
	}
	return out
}

// TestScaleOut_GracefulStopLeavesGroup stops one of two shared-group instances with a graceful
// drain and never restarts it: it leaves the group first, so every later message reaches Kafka
// through the other instance.
func TestScaleOut_GracefulStopLeavesGroup(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	var gws [2]*running
	for i := range gws {
		cfg := testConfig(t, mq.URL(), kf, route("fleet", "fleet/#", 1, "fleet"))
		cfg.MQTT.ClientID = fmt.Sprintf("%s-%d", cfg.MQTT.ClientID, i)
		cfg.MQTT.SharedGroup = "tributary"
		gws[i] = startGateway(t, cfg)
	}
	before := gatewaytest.Messages(gatewaytest.Topics("fleet/%d", 20), 400)
	gatewaytest.Publish(t, mq.URL(), 1, before)
	kf.WaitDelivered(t, "fleet", before, 30*time.Second)
	if err := gws[1].stop(); err != nil {
		t.Fatal(err)
	}
	after := gatewaytest.Messages(gatewaytest.Topics("fleet/%d", 20), 1000)[len(before):]
	gatewaytest.Publish(t, mq.URL(), 1, after)
	rep := kf.WaitDelivered(t, "fleet", append(before, after...), 30*time.Second)
	if err := sharedGroupNoLoss(rep); err != nil {
		t.Fatal(err)
	}
}
