package loadbench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// poisonKinds are the poison payloads the soak sends; each must end up dead-lettered.
var poisonKinds = []string{"empty", "1mb", "badutf8", "badjson", "deep", "binary"}

func poisonIndex(kind string) int {
	for i, k := range poisonKinds {
		if k == kind {
			return i
		}
	}
	return -1
}

// poisonPayload returns the payload of a poison message of kind.
func poisonPayload(kind string) []byte {
	switch kind {
	case "1mb":
		return bytes.Repeat([]byte("a"), 1<<20)
	case "badutf8":
		return []byte{'{', '"', 'a', '"', ':', '"', 0xff, 0xfe, '"', '}'}
	case "badjson":
		return []byte(`{"temp": 21.5,`)
	case "deep":
		return []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
	case "binary":
		return []byte{0x00, 0x01, 0x02, 0x03, 0x80, 0x81, 0xc0, 0xff}
	}
	return []byte{}
}

// pluginFaults are the ways the soak's plugin misbehaves on a marked message.
var pluginFaults = []string{"trap", "loop", "garbage"}

// soakClient is one publishing MQTT connection that survives broker restarts: publish
// retries a message on a new connection until the broker acknowledges it, so a message
// counts as published only once acknowledged, and may reach the broker more than once.
//
// Not safe for concurrent use.
type soakClient struct {
	url, id string
	c       *mqttClient
	conn    context.Context // ends when c's connection is lost
	stop    context.CancelFunc
}

// publish sends pb (QoS 1 or 2) and waits for the acknowledgement, reconnecting as often as
// needed, until ctx ends.
func (s *soakClient) publish(ctx context.Context, pb *paho.Publish) error {
	backoff := 50 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.c == nil {
			c, err := dial(ctx, s.url, s.id, true, 0)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			s.c = c
			s.conn, s.stop = context.WithCancel(ctx)
			go func(done <-chan struct{}, conn context.Context, stop context.CancelFunc) {
				select {
				case <-done:
				case <-conn.Done():
				}
				stop()
			}(c.c.Done(), s.conn, s.stop)
		}
		backoff = 50 * time.Millisecond
		pctx, cancel := context.WithTimeout(s.conn, 10*time.Second)
		resp, err := s.c.c.Publish(pctx, pb)
		cancel()
		if err == nil && (resp == nil || resp.ReasonCode < 0x80) {
			return nil
		}
		s.close()
	}
}

func (s *soakClient) close() {
	if s.c != nil {
		s.stop()
		s.c.close()
		s.c = nil
	}
}

// soakPublishers publishes the soak's traffic and remembers every acknowledged message.
// Safe for concurrent use.
type soakPublishers struct {
	o   *Options
	url string
	run string

	mu        sync.Mutex
	published map[msgID]bool // acknowledged; true when it should be dead-lettered
	qos2      int64
	faulty    map[string]int64 // plugin-fault messages by fault
	poison    int64
	burst     []string // plugin faults to mark the next plugin-route messages with

	poisonClient *soakClient
	poisonSeq    int64
}

func newSoakPublishers(o *Options, url, run string) *soakPublishers {
	return &soakPublishers{o: o, url: url, run: run, published: make(map[msgID]bool), faulty: make(map[string]int64),
		poisonClient: &soakClient{url: url, id: "tributary-soak-" + run + "-poison"}}
}

func (p *soakPublishers) acked(id msgID, dlq bool, qos byte, fault string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published[id] = dlq
	if qos == 2 {
		p.qos2++
	}
	if fault != "" {
		p.faulty[fault]++
	}
	if id.stream == streamPoison {
		p.poison++
	}
}

func (p *soakPublishers) total() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(len(p.published))
}

// markBurst makes the next plugin-route messages misbehave, one per plugin fault.
func (p *soakPublishers) markBurst() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.burst = append(p.burst, pluginFaults...)
}

func (p *soakPublishers) nextBurst() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.burst) == 0 {
		return ""
	}
	f := p.burst[0]
	p.burst = p.burst[1:]
	return f
}

// sendPoison publishes one message of every poison kind and returns when the broker has
// them all.
func (p *soakPublishers) sendPoison(ctx context.Context) error {
	p.poisonSeq++
	for i, kind := range poisonKinds {
		topic := p.o.TopicPrefix + "-p/poison/" + kind + "/" + strconv.FormatInt(p.poisonSeq, 10)
		if err := p.poisonClient.publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: poisonPayload(kind)}); err != nil {
			return fmt.Errorf("publish poison %s: %w", topic, err)
		}
		p.acked(msgID{stream: streamPoison, topic: int32(i), seq: p.poisonSeq}, true, 1, "")
	}
	return nil
}

// publish publishes until stop ends: the main route's topics at o.Rate messages/s over
// o.Publishers connections (every fifth topic at QoS 2, the others at QoS 1), and the plugin
// route's 10 topics at a twentieth of that from one more connection, one message in 25
// marked to make the plugin trap, loop or return garbage, plus the bursts markBurst asks for.
// Each topic's messages leave one connection in sequence order, one at a time. No new
// message starts once stop ends; one being retried goes on until the broker has it or ctx
// ends.
func (p *soakPublishers) publish(ctx, stop context.Context) {
	var wg sync.WaitGroup
	n := p.o.Publishers
	interval := time.Duration(float64(time.Second) * float64(n) / p.o.Rate)
	for i := range n {
		wg.Go(func() {
			c := &soakClient{url: p.url, id: "tributary-soak-" + p.run + "-" + strconv.Itoa(i)}
			defer c.close()
			var own []int
			for t := i; t < p.o.Topics; t += n {
				own = append(own, t)
			}
			seqs := make([]int64, len(own))
			p.pace(stop, interval, i, n, func(k int) bool {
				j := k % len(own)
				t := own[j]
				qos := byte(1)
				if t%5 == 0 {
					qos = 2
				}
				pb := &paho.Publish{QoS: qos, Topic: topicName(p.o.TopicPrefix, t),
					Payload: appendPayload(nil, p.run, t, seqs[j], time.Now().UnixNano(), p.o.PayloadBytes)}
				if c.publish(ctx, pb) != nil {
					return false
				}
				p.acked(msgID{stream: streamMain, topic: int32(t), seq: seqs[j]}, false, qos, "")
				seqs[j]++
				return true
			})
		})
	}
	wg.Go(func() {
		c := &soakClient{url: p.url, id: "tributary-soak-" + p.run + "-plugin"}
		defer c.close()
		const topics = 10
		var seqs [topics]int64
		p.pace(stop, interval*20/time.Duration(n), 0, 1, func(k int) bool {
			t := k % topics
			fault := p.nextBurst()
			if fault == "" && k%25 == 24 {
				fault = pluginFaults[(k/25)%len(pluginFaults)]
			}
			payload := appendPayload(nil, p.run, t, seqs[t], time.Now().UnixNano(), p.o.PayloadBytes)
			if fault != "" {
				payload = append(payload[:len(payload)-1], `,"fault":"`+fault+`"}`...)
			}
			qos := byte(1 + k%2)
			pb := &paho.Publish{QoS: qos, Topic: p.o.TopicPrefix + "-p/dev" + fmt.Sprintf("%05d", t) + "/telemetry", Payload: payload}
			if c.publish(ctx, pb) != nil {
				return false
			}
			p.acked(msgID{stream: streamPlugin, topic: int32(t), seq: seqs[t]}, fault != "", qos, fault)
			seqs[t]++
			return true
		})
	})
	wg.Wait()
	p.poisonClient.close()
}

// pace calls send on a fixed schedule of one call per interval, staggered by slot of
// slots, catching up when it falls behind, until ctx ends or send returns false.
func (p *soakPublishers) pace(ctx context.Context, interval time.Duration, slot, slots int, send func(k int) bool) {
	next := time.Now().Add(interval * time.Duration(slot) / time.Duration(slots))
	for k := 0; ; k++ {
		if w := time.Until(next); w > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(w):
			}
		}
		if ctx.Err() != nil || !send(k) {
			return
		}
		next = next.Add(interval)
	}
}
