package gatewaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/sync/errgroup"
)

// PayloadSize is the minimum length of a [Payload] in bytes, about the size of
// a building sensor reading in the seed data.
const PayloadSize = 180

// DefaultPublishWorkers is how many topic shards a [Publisher] sends from in
// parallel unless [WithWorkers] says otherwise.
const DefaultPublishWorkers = 32

// PublishTimeout bounds one call of the package-level [Publish].
const PublishTimeout = 5 * time.Minute

// PublishMsg is one MQTT message to publish, and the record of what was
// published for [CheckDelivery]. Seq and Topic identify the message; Payload
// is what goes on the wire (normally [Payload](Topic, Seq)).
type PublishMsg struct {
	Topic          string
	Seq            int64
	Payload        []byte
	Retain         bool
	ContentType    string         // MQTT v5 content type, sent when non-empty
	UserProperties []UserProperty // MQTT v5 user properties, in order
}

// UserProperty is one MQTT v5 user property. Keys may repeat.
type UserProperty struct{ Key, Value string }

// Topics expands pattern with fmt.Sprintf over every combination of indexes
// 0..counts[i]-1, the first count varying slowest:
// Topics("building/floor%d/sensor/%03d/temp", 5, 200) returns 1000 topics.
// With no counts it returns []string{pattern}. It panics if pattern does not
// take exactly len(counts) integer verbs, a programmer error.
func Topics(pattern string, counts ...int) []string {
	total := 1
	for _, c := range counts {
		total *= max(c, 0)
	}
	out := make([]string, 0, total)
	idx := make([]any, len(counts))
	for i := range total {
		rest := i
		for j := len(counts) - 1; j >= 0; j-- {
			idx[j] = rest % counts[j]
			rest /= counts[j]
		}
		topic := fmt.Sprintf(pattern, idx...)
		if strings.Contains(topic, "%!") {
			panic(fmt.Sprintf("gatewaytest.Topics: pattern %q does not take %d integer verbs: %q", pattern, len(counts), topic))
		}
		out = append(out, topic)
	}
	return out
}

// Payload returns the deterministic JSON payload of message seq on topic: a
// sensor-like reading carrying "seq" and "topic", padded to at least
// [PayloadSize] bytes. The same arguments always give the same bytes.
func Payload(topic string, seq int64) []byte {
	t, _ := json.Marshal(topic) // a string always marshals
	b := make([]byte, 0, PayloadSize+len(topic))
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"topic":`...)
	b = append(b, t...)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, 1_700_000_000_000+seq, 10)
	b = append(b, `,"temp":`...)
	b = strconv.AppendFloat(b, 15+float64(seq%1500)/100, 'f', 2, 64)
	b = append(b, `,"humidity":`...)
	b = strconv.AppendFloat(b, 30+float64(seq%400)/10, 'f', 1, 64)
	b = append(b, `,"unit":"C","pad":"`...)
	for len(b) < PayloadSize-2 {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// Messages returns n messages spread round-robin over topics: message i goes
// to topics[i%len(topics)] with Seq i and Payload(topic, i). So each topic's
// messages have increasing Seq in publish order.
func Messages(topics []string, n int) []PublishMsg {
	if len(topics) == 0 || n <= 0 {
		return nil
	}
	out := make([]PublishMsg, n)
	for i := range out {
		topic := topics[i%len(topics)]
		out[i] = PublishMsg{Topic: topic, Seq: int64(i), Payload: Payload(topic, int64(i))}
	}
	return out
}

// Publisher is an MQTT v5 client (paho.golang) for publishing test traffic.
// It is safe for concurrent use; messages of one topic keep their order only
// within one Publish call.
type Publisher struct {
	client   *paho.Client
	conn     net.Conn
	workers  int
	clientID string
	closed   atomic.Bool
	errMu    sync.Mutex
	connErr  error
}

// PublisherOption changes how [NewPublisher] connects and publishes.
type PublisherOption func(*publisherSettings)

type publisherSettings struct {
	clientID   string
	user, pass string
	workers    int
}

// WithLogin sets the username and password sent in CONNECT.
func WithLogin(user, pass string) PublisherOption {
	return func(s *publisherSettings) { s.user, s.pass = user, pass }
}

// WithClientID sets the MQTT client id. Defaults to a unique
// "gatewaytest-pub-N".
func WithClientID(id string) PublisherOption {
	return func(s *publisherSettings) { s.clientID = id }
}

// WithWorkers sets how many topic shards publish in parallel. Defaults to
// [DefaultPublishWorkers]; 1 publishes strictly in slice order.
func WithWorkers(n int) PublisherOption {
	return func(s *publisherSettings) { s.workers = max(n, 1) }
}

var publisherSeq atomic.Int64

// NewPublisher connects to the broker at brokerURL (tcp:// or mqtt://) with a
// clean MQTT v5 session and returns the connected publisher. Cleanup
// disconnects it. It fails the test if the broker refuses the connection.
func NewPublisher(t testing.TB, brokerURL string, opts ...PublisherOption) *Publisher {
	t.Helper()
	s := publisherSettings{workers: DefaultPublishWorkers}
	for _, o := range opts {
		o(&s)
	}
	if s.clientID == "" {
		s.clientID = fmt.Sprintf("gatewaytest-pub-%d", publisherSeq.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := dialPublisher(ctx, brokerURL, s)
	if err != nil {
		t.Fatalf("publisher %s: %v", s.clientID, err)
	}
	t.Cleanup(p.Close)
	return p
}

func dialPublisher(ctx context.Context, brokerURL string, s publisherSettings) (*Publisher, error) {
	addr, err := mqttAddr(brokerURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	p := &Publisher{conn: conn, workers: s.workers, clientID: s.clientID}
	p.client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		// Swallow anything the broker sends; a publisher subscribes to nothing.
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(paho.PublishReceived) (bool, error) { return true, nil },
		},
		OnClientError: p.setErr,
		OnServerDisconnect: func(d *paho.Disconnect) {
			p.setErr(fmt.Errorf("broker sent DISCONNECT, reason code %d", d.ReasonCode))
		},
	})
	cp := &paho.Connect{ClientID: s.clientID, CleanStart: true, KeepAlive: 30}
	if s.user != "" {
		cp.Username, cp.UsernameFlag = s.user, true
		cp.Password, cp.PasswordFlag = []byte(s.pass), true
	}
	ca, err := p.client.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil {
			return nil, fmt.Errorf("connect to %s: reason code %d: %w", addr, ca.ReasonCode, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return p, nil
}

// mqttAddr returns host:port from a tcp:// or mqtt:// URL (default port 1883).
func mqttAddr(brokerURL string) (string, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return "", fmt.Errorf("broker url %q: %w", brokerURL, err)
	}
	if u.Scheme != "tcp" && u.Scheme != "mqtt" {
		return "", fmt.Errorf("broker url %q: scheme %q not supported, want tcp:// or mqtt://", brokerURL, u.Scheme)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "1883"), nil
	}
	return u.Host, nil
}

func (p *Publisher) setErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.connErr == nil {
		p.connErr = err
	}
}

// Err returns the first connection error the client reported, or nil.
func (p *Publisher) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.connErr
}

// ClientID returns the MQTT client id the publisher connected with.
func (p *Publisher) ClientID() string { return p.clientID }

// Publish sends msgs with the given QoS and returns when every message is
// acknowledged: PUBACK for QoS 1, PUBCOMP for QoS 2, written to the socket for
// QoS 0. Messages are sharded by topic over the publisher's workers, so one
// topic's messages are sent one after another, each after the previous one's
// acknowledgement, in slice order, while different topics go in parallel.
//
// It returns the first error (naming the message's topic and seq) and stops
// sending; messages already sent stay sent.
func (p *Publisher) Publish(ctx context.Context, qos byte, msgs []PublishMsg) error {
	if qos > 2 {
		return fmt.Errorf("publish: qos %d is not 0, 1 or 2", qos)
	}
	shards := make([][]int, p.workers)
	for i, m := range msgs {
		h := fnv.New32a()
		h.Write([]byte(m.Topic))
		w := int(h.Sum32() % uint32(p.workers))
		shards[w] = append(shards[w], i)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, shard := range shards {
		if len(shard) == 0 {
			continue
		}
		g.Go(func() error {
			for _, i := range shard {
				if err := p.publishOne(gctx, qos, &msgs[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if qos == 0 {
		// QoS 0 has no acknowledgement: a QoS 1 publish after them returns only when the
		// broker has read everything before it on this connection.
		fence := PublishMsg{Topic: FenceTopic, Payload: []byte("fence")}
		if err := p.publishOne(ctx, 1, &fence); err != nil {
			return fmt.Errorf("qos 0 fence: %w", err)
		}
	}
	return nil
}

// FenceTopic is where a Publisher publishes one QoS 1 message after QoS 0 messages to learn
// that the broker has read them. Topics starting with $ are not matched by wildcard filters.
const FenceTopic = "$gatewaytest/fence"

func (p *Publisher) publishOne(ctx context.Context, qos byte, m *PublishMsg) error {
	pb := &paho.Publish{QoS: qos, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if m.ContentType != "" || len(m.UserProperties) > 0 {
		pb.Properties = &paho.PublishProperties{ContentType: m.ContentType}
		for _, up := range m.UserProperties {
			pb.Properties.User = append(pb.Properties.User, paho.UserProperty{Key: up.Key, Value: up.Value})
		}
	}
	resp, err := p.client.Publish(ctx, pb)
	if err != nil {
		if cerr := p.Err(); cerr != nil {
			err = fmt.Errorf("%w (connection: %v)", err, cerr)
		}
		return fmt.Errorf("publish %q seq %d qos %d: %w", m.Topic, m.Seq, qos, err)
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		return fmt.Errorf("publish %q seq %d qos %d: broker reason code %#x", m.Topic, m.Seq, qos, resp.ReasonCode)
	}
	return nil
}

// Close disconnects from the broker. It is safe to call more than once.
func (p *Publisher) Close() {
	if p.closed.Swap(true) {
		return
	}
	_ = p.client.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-p.client.Done():
	case <-time.After(5 * time.Second):
	}
	_ = p.conn.Close()
}

// Publish connects a [Publisher] to brokerURL, sends msgs with the given QoS
// (see [Publisher.Publish]), waits for every acknowledgement and disconnects.
// It fails the test on any error or after [PublishTimeout].
func Publish(t testing.TB, brokerURL string, qos byte, msgs []PublishMsg, opts ...PublisherOption) {
	t.Helper()
	p := NewPublisher(t, brokerURL, opts...)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), PublishTimeout)
	defer cancel()
	if err := p.Publish(ctx, qos, msgs); err != nil {
		t.Fatalf("publisher %s to %s: %v", p.clientID, brokerURL, err)
	}
}
