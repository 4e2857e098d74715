package gatewaytest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaBehindProxy starts a one-broker kfake cluster, as [Kafka] does with the
// same defaults and opts, that is reachable only through the returned
// [FaultProxy]. The broker listens on a private loopback port and advertises
// the proxy's address in its metadata, so every client bootstrapped from
// [KafkaCluster.Brokers] (the gateway, [KafkaCluster.FetchRecords],
// [KafkaCluster.Client]) connects through the proxy, for its first request and
// for every one after metadata. Cut, Pause and Delay the proxy to break the
// network between a client and Kafka; reading records back also goes through
// it, so restore the proxy first.
//
// Only one broker is supported: opts asking for more (kfake.NumBrokers(3)) fail
// the test, and so does [KafkaCluster.Restart], which cannot keep the proxy.
// Cleanup closes the cluster, then the proxy.
func KafkaBehindProxy(t testing.TB, opts ...kfake.Opt) (*KafkaCluster, *FaultProxy) {
	t.Helper()
	var (
		mu    sync.Mutex
		proxy *FaultProxy
	)
	listen := func(network, _ string) (net.Listener, error) {
		mu.Lock()
		defer mu.Unlock()
		if proxy != nil {
			return nil, errors.New("kafka behind proxy: only one broker is supported, and no restart")
		}
		ln, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kafka behind proxy: listen: %w", err)
		}
		p := Proxy(t, ln.Addr().String())
		adv, err := p.Advertise(ln)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("kafka behind proxy: %w", err)
		}
		proxy = p
		return adv, nil
	}
	k := &KafkaCluster{opts: slices.Concat(
		[]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()},
		opts,
		[]kfake.Opt{kfake.ListenFn(listen)},
	)}
	c, err := kfake.NewCluster(k.opts...)
	if err != nil {
		t.Fatalf("kfake behind proxy: new cluster: %v", err)
	}
	k.c = c
	t.Cleanup(func() { k.Cluster().Close() })
	return k, proxy
}

// Rewinds counts, per MQTT topic (see [RecordIdentity]), how often a record's
// seq is not above the seq of the topic's previous record in got: each rewind
// starts a new delivery run, as a redelivery after a reconnect or a producer
// retry does. Within a run seqs strictly increase, so with the order kept
// inside every delivery, a topic's rewinds are bounded by the number of
// redeliveries. Records without an identity are skipped (CheckDelivery counts
// them as unexpected). Pass records as [KafkaCluster.Records] returns them.
func Rewinds(got []*kgo.Record) map[string]int {
	last := make(map[string]int64)
	out := make(map[string]int)
	for _, r := range got {
		topic, seq, err := RecordIdentity(r)
		if err != nil {
			continue
		}
		if prev, ok := last[topic]; ok && seq <= prev {
			out[topic]++
		}
		last[topic] = seq
	}
	return out
}

// MaxRewinds returns the topic with the most [Rewinds] in got and that count,
// or "" and 0 when every topic arrived in one run.
func MaxRewinds(got []*kgo.Record) (topic string, n int) {
	for t, c := range Rewinds(got) {
		if c > n || (c == n && n > 0 && t < topic) {
			topic, n = t, c
		}
	}
	return topic, n
}

// MosquittoLogAll is the Mosquitto setting that logs every packet, which
// [MosquittoSendOrder] reads: pass WithConfig(MosquittoLogAll) to [Mosquitto].
const MosquittoLogAll = "log_type all"

// sendLine matches Mosquitto's log of a PUBLISH it sends:
// `Sending PUBLISH to CLIENT (d0, q1, r0, m17, 'a/b', ... (180 bytes))`.
var sendLine = regexp.MustCompile(`Sending PUBLISH to (\S+) \(d([01]), q([12]), r[01], m(\d+), '([^']*)'`)

// MosquittoSendOrder reads the log of a broker started with [MosquittoLogAll]
// and returns, per MQTT topic, the order in which the broker first sent that
// topic's QoS 1 and 2 messages to clientID, as ranks: 0 is the topic's first
// message to reach the client's session, 1 the second, and so on. Resends
// (the DUP flag) are left out.
//
// It is the oracle for order when the broker itself reorders, as Mosquitto
// 2.0.11 does under backpressure: while a session has a backlog, it sends some
// newly arrived messages ahead of older ones still queued. Ranks
// come from the packet identifiers, which Mosquitto assigns to a session's
// messages in arrival order, so the result holds while the session has
// received fewer than 65535 messages and no topic contains a quote.
func MosquittoSendOrder(logFile, clientID string) (map[string][]int, error) {
	f, err := os.Open(logFile)
	if err != nil {
		return nil, fmt.Errorf("mosquitto log: %w", err)
	}
	defer f.Close()
	mids := make(map[string][]int)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := sendLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != clientID || m[2] != "0" {
			continue
		}
		mid, err := strconv.Atoi(m[4])
		if err != nil {
			return nil, fmt.Errorf("mosquitto log %s: packet id %q: %w", logFile, m[4], err)
		}
		mids[m[5]] = append(mids[m[5]], mid)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mosquitto log %s: %w", logFile, err)
	}
	if len(mids) == 0 {
		return nil, fmt.Errorf("mosquitto log %s: no PUBLISH sent to %q; was the broker started with %q?", logFile, clientID, MosquittoLogAll)
	}
	out := make(map[string][]int, len(mids))
	for topic, sent := range mids {
		sorted := slices.Clone(sent)
		slices.Sort(sorted)
		ranks := make([]int, len(sent))
		for i, mid := range sent {
			ranks[i], _ = slices.BinarySearch(sorted, mid)
		}
		out[topic] = ranks
	}
	return out, nil
}
