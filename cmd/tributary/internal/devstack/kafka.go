package devstack

import (
	"fmt"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultPartitions is the partition count of every topic the in-memory Kafka holds.
const DefaultPartitions = 3

// Kafka is an in-memory, single-broker Kafka (kfake) on loopback TCP. Topics are created on
// first use with DefaultPartitions partitions. Safe for concurrent use.
type Kafka struct {
	cluster *kfake.Cluster
	addr    string
}

// StartKafka starts the cluster on 127.0.0.1:port (rules as in Listen), creating topics up
// front so consumers find them at once, and reports whether it fell back to a free port.
//
// # Errors
//
// StartKafka returns an error naming the port when it cannot listen or the cluster fails to
// start.
func StartKafka(port int, fallback bool, topics ...string) (k *Kafka, fellBack bool, err error) {
	ln, fellBack, err := Listen(port, fallback)
	if err != nil {
		return nil, false, fmt.Errorf("kafka: %w", err)
	}
	// kfake listens through listenFn; hand it the listener we already hold, once, so the port
	// we checked is the port it serves.
	var once sync.Once
	listen := func(network, address string) (net.Listener, error) {
		var out net.Listener
		once.Do(func() { out = ln })
		if out == nil {
			return nil, fmt.Errorf("kafka: second listener for %s requested; devstack runs one broker", address)
		}
		return out, nil
	}
	port = ln.Addr().(*net.TCPAddr).Port
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(listen),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(DefaultPartitions),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(DefaultPartitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		_ = ln.Close()
		return nil, false, fmt.Errorf("kafka on %s: %w", ln.Addr(), err)
	}
	return &Kafka{cluster: c, addr: ln.Addr().String()}, fellBack, nil
}

// Addr returns the broker's host:port, e.g. "127.0.0.1:9092".
func (k *Kafka) Addr() string { return k.addr }

// Close stops the cluster; its records are lost. Safe to call more than once.
func (k *Kafka) Close() { k.cluster.Close() }
