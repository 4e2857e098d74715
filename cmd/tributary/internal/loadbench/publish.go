package loadbench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/sync/errgroup"
)

// topicName returns the MQTT topic of topic index t.
func topicName(prefix string, t int) string {
	return prefix + "/dev" + fmt.Sprintf("%05d", t) + "/telemetry"
}

// publishers sends the benchmark's messages. Topic t belongs to publisher t % n, so each
// topic's messages leave one connection in sequence order.
type publishers struct {
	o         *Options
	url, run  string
	clients   []*mqttClient
	topics    []string
	published []atomic.Int64 // per topic: messages sent, which is also the next seq
	total     atomic.Int64
}

func newPublishers(ctx context.Context, o *Options, lay layout, brokerURL, run string) (*publishers, error) {
	p := &publishers{o: o, url: brokerURL, run: run, published: make([]atomic.Int64, o.Topics)}
	for t := range o.Topics {
		p.topics = append(p.topics, lay.topic(t))
	}
	for i := range o.Publishers {
		c, err := dial(ctx, brokerURL, "tributary-bench-"+run+"-"+strconv.Itoa(i), true, 0)
		if err != nil {
			p.close()
			return nil, err
		}
		p.clients = append(p.clients, c)
	}
	return p, nil
}

func (p *publishers) close() {
	for _, c := range p.clients {
		c.close()
	}
}

// counts returns how many messages each topic was sent.
func (p *publishers) counts() []int64 {
	out := make([]int64, len(p.published))
	for i := range p.published {
		out[i] = p.published[i].Load()
	}
	return out
}

// send publishes one message of topic t with the next seq. Blocking waits for the broker's
// acknowledgement (QoS 1/2); otherwise the message is written and the session tracks it.
func (p *publishers) send(ctx context.Context, c *mqttClient, t int, blocking bool) error {
	seq := p.published[t].Load()
	payload := appendPayload(make([]byte, 0, p.o.PayloadBytes+32), p.run, t, seq, time.Now().UnixNano(), p.o.PayloadBytes)
	pb := &paho.Publish{QoS: p.o.QoS, Topic: p.topics[t], Payload: payload}
	method := paho.PublishMethod_AsyncSend
	if blocking {
		method = paho.PublishMethod_Blocking
	}
	if _, err := c.c.PublishWithOptions(ctx, pb, paho.PublishOptions{Method: method}); err != nil {
		return fmt.Errorf("publish %s seq %d: %w", p.topics[t], seq, err)
	}
	p.published[t].Add(1)
	p.total.Add(1)
	return nil
}

// fence publishes one QoS 1 message outside the benchmark's topics and waits for its
// acknowledgement: the broker has then read everything sent before it on c.
func (p *publishers) fence(ctx context.Context, c *mqttClient) error {
	_, err := c.c.Publish(ctx, &paho.Publish{QoS: 1, Topic: p.o.TopicPrefix + "-fence", Payload: []byte("fence")})
	if err != nil {
		return fmt.Errorf("publish fence: %w", err)
	}
	if e := c.err.Load(); e != nil {
		return fmt.Errorf("mqtt publisher: %w", *e)
	}
	return nil
}

// publishCount sends count messages spread evenly over the topics, as fast as the broker
// takes them, and returns when the broker has all of them.
func (p *publishers) publishCount(ctx context.Context, count int64) error {
	n := len(p.clients)
	T := int64(len(p.topics))
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range p.clients {
		g.Go(func() error {
			for r := int64(0); r*T < count; r++ {
				for t := i; t < len(p.topics); t += n {
					if r*T+int64(t) >= count {
						break
					}
					// An asynchronous send returns at once while the window has room, so
					// it would not notice Ctrl-C: check.
					if err := gctx.Err(); err != nil {
						return err
					}
					if err := p.send(gctx, c, t, false); err != nil {
						return err
					}
				}
			}
			return p.fence(gctx, c)
		})
	}
	return g.Wait()
}

// publishRate sends rate messages per second in total, for d, each publisher keeping its
// share on a fixed schedule (catching up when it falls behind) and cycling over its topics.
func (p *publishers) publishRate(ctx context.Context, rate float64, d time.Duration) error {
	n := len(p.clients)
	interval := time.Duration(float64(time.Second) * float64(n) / rate)
	start := time.Now()
	end := start.Add(d)
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range p.clients {
		g.Go(func() error {
			var own []int
			for t := i; t < len(p.topics); t += n {
				own = append(own, t)
			}
			if len(own) == 0 {
				return nil
			}
			// Stagger the publishers over one interval.
			next := start.Add(interval * time.Duration(i) / time.Duration(n))
			for k := 0; ; k++ {
				if !next.Before(end) {
					break
				}
				if w := time.Until(next); w > 0 {
					select {
					case <-gctx.Done():
						return gctx.Err()
					case <-time.After(w):
					}
				}
				if err := p.send(gctx, c, own[k%len(own)], true); err != nil {
					return err
				}
				next = next.Add(interval)
			}
			return p.fence(gctx, c)
		})
	}
	return g.Wait()
}
