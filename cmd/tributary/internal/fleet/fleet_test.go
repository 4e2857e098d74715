package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

func TestNew_Validation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "default", cfg: DefaultConfig()},
		{name: "no sensors", cfg: Config{Sensors: 0, Rate: 1}, wantErr: "fleet sensors: 0"},
		{name: "zero rate", cfg: Config{Sensors: 1, Rate: 0}, wantErr: "fleet rate"},
		{name: "negative count", cfg: Config{Sensors: 1, Rate: 1, Count: -1}, wantErr: "fleet count: -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New(%+v) error = %v, want one containing %q", tc.cfg, err, tc.wantErr)
			}
		})
	}
}

var topicRE = regexp.MustCompile(`^building/floor([1-3])/room([1-3]0[1-8])/sensor/(s\d{3})/(temperature|humidity|co2)$`)

func TestNext_TopicsAndReadings(t *testing.T) {
	f, err := New(Config{Sensors: 30, Rate: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	bounds := map[string][2]float64{}
	for _, m := range metrics {
		bounds[m.name] = [2]float64{m.min, m.max}
	}
	now := time.UnixMilli(1_718_000_000_000)
	perTopic := map[string]int{}
	lastSeq := map[string]uint64{}
	const n = 30 * 3 * 50 // every device and metric 50 times
	for i := range n {
		topic, payload, err := f.Next(now)
		if err != nil {
			t.Fatal(err)
		}
		m := topicRE.FindStringSubmatch(topic)
		if m == nil {
			t.Fatalf("message %d: topic %q does not match %s", i, topic, topicRE)
		}
		if len(payload) < 150 || len(payload) > 220 {
			t.Errorf("message %d: payload is %d bytes, want about 180: %s", i, len(payload), payload)
		}
		var r Reading
		if err := json.Unmarshal(payload, &r); err != nil {
			t.Fatalf("message %d: %v: %s", i, err, payload)
		}
		if r.Metric != m[4] || strconv.Itoa(r.Floor) != m[1] || strconv.Itoa(r.Room) != m[2] || !strings.HasSuffix(r.DeviceID, "-"+m[3]) {
			t.Fatalf("message %d: reading %+v disagrees with topic %s", i, r, topic)
		}
		if b := bounds[r.Metric]; r.Value < b[0] || r.Value > b[1] {
			t.Errorf("message %d: %s = %v outside %v", i, r.Metric, r.Value, b)
		}
		if r.TS != now.UnixMilli() || r.Battery <= 0 || r.Battery > 100 || r.RSSI > -30 || r.RSSI < -95 {
			t.Errorf("message %d: implausible reading %+v", i, r)
		}
		if prev, ok := lastSeq[r.DeviceID]; ok && r.Seq != prev+1 {
			t.Errorf("message %d: %s seq %d after %d", i, r.DeviceID, r.Seq, prev)
		}
		lastSeq[r.DeviceID] = r.Seq
		perTopic[topic]++
	}
	if len(perTopic) != 30*3 || len(f.Topics()) != 30*3 {
		t.Fatalf("%d distinct topics generated, Topics() lists %d; want 90 each", len(perTopic), len(f.Topics()))
	}
	for _, topic := range f.Topics() {
		if perTopic[topic] != 50 {
			t.Errorf("topic %s got %d messages, want 50 (devices and metrics take turns)", topic, perTopic[topic])
		}
	}
}

func TestNext_SeedIsReproducible(t *testing.T) {
	a, _ := New(Config{Sensors: 3, Rate: 1, Seed: 42})
	b, _ := New(Config{Sensors: 3, Rate: 1, Seed: 42})
	c, _ := New(Config{Sensors: 3, Rate: 1, Seed: 43})
	now := time.UnixMilli(1)
	differs := false
	for range 20 {
		ta, pa, _ := a.Next(now)
		tb, pb, _ := b.Next(now)
		_, pc, _ := c.Next(now)
		if ta != tb || !bytes.Equal(pa, pb) {
			t.Fatalf("same seed, different messages:\n%s %s\n%s %s", ta, pa, tb, pb)
		}
		differs = differs || !bytes.Equal(pa, pc)
	}
	if !differs {
		t.Fatal("seeds 42 and 43 produced identical readings")
	}
}

// mosquitto starts /usr/sbin/mosquitto on a free loopback port and returns its tcp:// URL.
func mosquitto(t *testing.T) string {
	t.Helper()
	bin := "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("TRIBUTARY_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Skip("mosquitto not installed (apt-get install mosquitto); set TRIBUTARY_REQUIRE_MOSQUITTO=1 to fail instead")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous true\n", port), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "tcp://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for the port, not timing the test
	}
}

func TestRun_PublishesCountOverMQTT(t *testing.T) {
	brokerURL := mosquitto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var got []*paho.Publish
	u, _ := url.Parse(brokerURL)
	sub, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     10,
		CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{
			ClientID: "fleet-test-sub",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				mu.Lock()
				got = append(got, pr.Packet)
				mu.Unlock()
				return true, nil
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "building/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	const count = 40
	f, err := New(Config{Sensors: 5, Rate: 1000, Count: count, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(ctx, brokerURL); err != nil {
		t.Fatal(err)
	}
	if f.Published() != count || f.Failed() != 0 {
		t.Fatalf("published %d, failed %d; want %d, 0", f.Published(), f.Failed(), count)
	}
	if err := f.Run(ctx, brokerURL); err == nil {
		t.Error("second Run returned nil, want an error")
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber received %d of %d messages", n, count)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range got {
		if !topicRE.MatchString(p.Topic) || p.QoS != 1 {
			t.Errorf("received topic %q qos %d", p.Topic, p.QoS)
		}
		if p.Properties == nil || p.Properties.ContentType != "application/json" {
			t.Errorf("received %s without content type application/json", p.Topic)
		}
		var r Reading
		if err := json.Unmarshal(p.Payload, &r); err != nil {
			t.Errorf("payload of %s: %v", p.Topic, err)
		}
	}
}

func TestRun_StopsOnCancel(t *testing.T) {
	brokerURL := mosquitto(t)
	f, err := New(Config{Sensors: 2, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, brokerURL) }()
	deadline := time.Now().Add(20 * time.Second)
	for f.Published() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("published %d messages, want 3 before cancelling", f.Published())
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
