package loadbench

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-gw/tributary/gateway/gatewaytest/faultproxy"
	"github.com/tributary-gw/tributary/sdk/wasmbuild"
)

// soakPluginSource is the misbehaving plugin's Go source (stdlib only); see its comment.
//
//go:embed soakplugin/main.go.txt
var soakPluginSource []byte

// soakPluginName is the plugin's name in the soak gateway's plugin dir.
const soakPluginName = "soakfault"

// buildSoakPlugin writes the plugin's source into dir/src as a module of its own and builds
// dir/plugins/soakfault.wasm with wasmbuild. It returns the plugin dir.
func buildSoakPlugin(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("soak plugin source %s: %w", src, err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module soakfault\n\ngo 1.24\n"), 0o600); err != nil {
		return "", fmt.Errorf("soak plugin source %s: %w", src, err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), soakPluginSource, 0o600); err != nil {
		return "", fmt.Errorf("soak plugin source %s: %w", src, err)
	}
	plugins := filepath.Join(dir, "plugins")
	if err := wasmbuild.GoBuild(ctx, src, filepath.Join(plugins, soakPluginName+".wasm")); err != nil {
		return "", err
	}
	return plugins, nil
}

// soakKafka is an embedded kfake broker that advertises a fault proxy's address, so every
// client that follows metadata (the gateway) goes through the proxy, while the benchmark's
// consumer dials the broker directly (see dial). Produce requests can be refused for a while
// (down) to play an unavailable cluster.
type soakKafka struct {
	cluster *kfake.Cluster
	proxy   *faultproxy.Proxy
	real    string // the broker's own listener
	down    atomic.Bool
}

func startSoakKafka(topics ...string) (*soakKafka, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	proxy, err := faultproxy.New(ln.Addr().String())
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	adv, err := proxy.Advertise(ln)
	if err != nil {
		proxy.Close()
		_ = ln.Close()
		return nil, fmt.Errorf("kafka: %w", err)
	}
	var once sync.Once
	listen := func(network, address string) (net.Listener, error) {
		var out net.Listener
		once.Do(func() { out = adv })
		if out == nil {
			return nil, fmt.Errorf("kafka: second listener for %s requested; the soak runs one broker", address)
		}
		return out, nil
	}
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.ListenFn(listen),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4), kfake.SeedTopics(4, topics...))
	if err != nil {
		proxy.Close()
		_ = ln.Close()
		return nil, fmt.Errorf("kafka on %s: %w", ln.Addr(), err)
	}
	k := &soakKafka{cluster: c, proxy: proxy, real: ln.Addr().String()}
	c.ControlKey(int16(kmsg.Produce), k.refuseProduce)
	return k, nil
}

// refuseProduce answers every produce request with NOT_ENOUGH_REPLICAS, a retriable error,
// while the cluster is down, and leaves the request to kfake otherwise.
func (k *soakKafka) refuseProduce(r kmsg.Request) (kmsg.Response, error, bool) {
	k.cluster.KeepControl()
	req, ok := r.(*kmsg.ProduceRequest)
	if !ok || !k.down.Load() {
		return nil, nil, false
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.NotEnoughReplicas.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, true
}

// gatewayAddr is the address the gateway is given: the proxy's.
func (k *soakKafka) gatewayAddr() string { return k.proxy.Addr() }

// dial connects the benchmark's own clients to the broker itself, not through the proxy.
func (k *soakKafka) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if host == k.proxy.Addr() {
		host = k.real
	}
	var d net.Dialer
	return d.DialContext(ctx, network, host)
}

func (k *soakKafka) close() {
	k.proxy.Close()
	k.cluster.Close()
}

// soakGatewayConfig returns the soak gateway's YAML: route "soak" from PREFIX/# to the main
// topic without plugins, and route "soak-plugin" from PREFIX-p/# through the misbehaving
// plugin to the plugin topic; both dead-letter to the DLQ topic. Plugin calls time out after
// 500ms: a looping message costs little, and a slow call (or instantiation) on a busy
// machine is not taken for a loop.
func soakGatewayConfig(o *Options, mqttURL, kafkaAddr, pluginDir, adminAddr string, t soakTopics) []byte {
	q := strconv.Quote
	return fmt.Appendf(nil, `mqtt:
  url: %s
  client_id: %s
  clean_start: false
  session_expiry: 1h
  protocol: %s
  reconnect_min: 100ms
  reconnect_max: 1s
kafka:
  brokers: [%s]
plugins:
  dir: %s
  limits:
    call_timeout: 500ms
admin:
  listen: %s
log:
  level: warn
routes:
  - name: soak
    from: [%s]
    qos: 2
    to:
      topic: %s
      envelope: none
    dead_letter: %s
  - name: soak-plugin
    from: [%s]
    qos: 2
    chain:
      - plugin: %s
    to:
      topic: %s
      envelope: none
    dead_letter: %s
`, q(mqttURL), q(o.ClientID), q(cmp.Or(o.Protocol, "5")), q(kafkaAddr), q(pluginDir), q(adminAddr),
		q(o.TopicPrefix+"/#"), q(t.main), q(t.dlq),
		q(o.TopicPrefix+"-p/#"), q(soakPluginName), q(t.plugin), q(t.dlq))
}

// soakTopics names the soak's Kafka topics.
type soakTopics struct{ main, plugin, dlq string }

func (t soakTopics) all() []string { return []string{t.main, t.plugin, t.dlq} }

// waitUntil polls cond every 20ms until it is true, ctx ends or d passes.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}
