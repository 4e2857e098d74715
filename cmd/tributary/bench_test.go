package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/loadbench"
)

// faultyGateway plays an external gateway: it moves every message on bench/# to topic, but
// drops those whose seq ends in 3 and writes those whose seq ends in 5 twice.
func faultyGateway(t *testing.T, ctx context.Context, brokerAddr, kafkaAddr, topic string) {
	t.Helper()
	kc, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	conn, err := net.Dial("tcp", brokerAddr)
	if err != nil {
		t.Fatal(err)
	}
	seqRE := regexp.MustCompile(`"seq":(\d+)`)
	msgs := make(chan *paho.Publish, 1000)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { msgs <- pr.Packet; return true, nil },
	}})
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "faulty-gateway", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}); conn.Close() })
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "bench/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-msgs:
				m := seqRE.FindSubmatch(p.Payload)
				if m == nil {
					continue
				}
				seq, _ := strconv.Atoi(string(m[1]))
				copies := 1
				switch seq % 10 {
				case 3:
					copies = 0
				case 5:
					copies = 2
				}
				for range copies {
					if err := kc.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(p.Topic), Value: p.Payload}).FirstErr(); err != nil && ctx.Err() == nil {
						t.Errorf("faulty gateway: produce: %v", err)
					}
				}
			}
		}
	}()
}

// TestBenchCommand_CountsLossAndDuplicates runs the benchmark against a gateway that drops
// and duplicates on purpose and checks the accounting to the message.
func TestBenchCommand_CountsLossAndDuplicates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, _, err := devstack.StartBroker(0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	k, _, err := devstack.StartKafka(0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	const topic = "faulty_out"
	faultyGateway(t, ctx, b.Addr(), k.Addr(), topic)

	// 200 messages over 10 topics: seqs 0..19 per topic, so 2 drops (3, 13) and 2 duplicates
	// (5, 15) per topic.
	var stdout, stderr bytes.Buffer
	code := runMain(ctx, []string{"bench", "--gateway", "external", "--mqtt", b.URL(), "--kafka", k.Addr(),
		"--kafka-topic", topic, "--mode", "flat", "--count", "200", "--topics", "10", "--publishers", "3",
		"--settle", "1s", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
	}
	var res loadbench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not a JSON result: %v\n%s", err, stdout.String())
	}
	if res.Published != 200 || res.Received != 180 || res.Lost != 20 || res.Duplicated != 20 || res.Foreign != 0 {
		t.Errorf("published %d received %d lost %d duplicated %d foreign %d; want 200 180 20 20 0",
			res.Published, res.Received, res.Lost, res.Duplicated, res.Foreign)
	}
	if !strings.Contains(stderr.String(), "in kafka") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestBenchCommand_Flags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"bad mode", []string{"--mode", "fast"}, 2, `mode "fast"`},
		{"bad qos", []string{"--qos", "3"}, 2, "--qos 3"},
		{"external needs a topic", []string{"--gateway", "external"}, 2, "kafka topic"},
		{"stray argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"soak unknown fault", []string{"--mode", "soak", "--faults", "gateway-kill,meteor"}, 2, `unknown kind "meteor"`},
		{"soak no fault spacing", []string{"--mode", "soak", "--fault-every", "0s"}, 2, "fault every 0s"},
		{"soak own broker", []string{"--mode", "soak", "--mqtt", "tcp://127.0.0.1:1"}, 2, "no mqtt url"},
		{"list outside scale", []string{"--mode", "backlog", "--routes", "1,10"}, 2, "--routes 1,10: a list of values is for --mode scale"},
		{"not a number", []string{"--mode", "scale", "--tenants", "0,many"}, 2, `--tenants 0,many: "many" is not a whole number`},
		{"scale chain of names", []string{"--mode", "scale", "--chain", "units,filter"}, 2, "numbers of first-party stages"},
		{"scale format", []string{"--mode", "scale", "--format", "csv"}, 2, "--format csv"},
		{"scale in process", []string{"--mode", "scale", "--gateway", "inprocess"}, 2, "runs the gateway as a subprocess"},
		{"scale point mode", []string{"--mode", "scale", "--mqtt", "tcp://127.0.0.1:1", "--point-mode", "flat"}, 2, `point mode "flat"`},
		{"scale rounds", []string{"--mode", "scale", "--mqtt", "tcp://127.0.0.1:1", "--rounds", "0"}, 2, "rounds 0"},
		{"tenants need topics", []string{"--mode", "scale", "--mqtt", "tcp://127.0.0.1:1", "--tenants", "0,20", "--topics", "10"}, 2, "topics 10: want at least one per tenant"},
		{"bad schema", []string{"--schema", "thrift"}, 2, `schema "thrift": want avro, protobuf or json_schema`},
		{"schema compare needs a schema", []string{"--mode", "backlog", "--schema-compare"}, 2, "--schema-compare: give the format"},
		{"schema compare mode", []string{"--mode", "flat", "--schema", "avro", "--schema-compare"}, 2, "--mode flat: want backlog or rate"},
		{"schema compare in process", []string{"--mode", "backlog", "--schema", "avro", "--schema-compare", "--gateway", "inprocess"}, 2, "runs the gateway as a subprocess"},
		{"schema compare rounds", []string{"--mode", "backlog", "--schema", "avro", "--schema-compare", "--rounds", "0"}, 2, "--rounds 0"},
		{"chain and names", []string{"--chain", "2", "--plugin-dir", "x", "--gateway", "external"}, 2, "first-party chains need a gateway the benchmark starts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), append([]string{"bench"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestBenchStageConfig: a --chain stage's config is NAME.json beside NAME.wasm, a JSON object
// passed on compacted; no file means no config; anything else is an error naming the file.
func TestBenchStageConfig(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"obj": "{ \"a\" : [1, 2] }\n", "arr": "[1]", "null": "null", "bad": "{"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if cfg, err := benchStageConfig(dir, "obj"); err != nil || string(cfg) != `{"a":[1,2]}` {
		t.Errorf("obj: %s, %v; want the object compacted", cfg, err)
	}
	if cfg, err := benchStageConfig(dir, "none"); err != nil || cfg != nil {
		t.Errorf("no file: %s, %v; want no config", cfg, err)
	}
	for _, name := range []string{"arr", "null", "bad"} {
		path := filepath.Join(dir, name+".json")
		if _, err := benchStageConfig(dir, name); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s", name, err, path)
		}
	}
}

// TestBenchUsage_ExplainsEveryFlag keeps benchUsage in step with the flags.
func TestBenchUsage_ExplainsEveryFlag(t *testing.T) {
	fs, _ := newBenchFlagSet(&bytes.Buffer{})
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(benchUsage, "\n  --"+f.Name+" ") {
			t.Errorf("benchUsage does not explain --%s", f.Name)
		}
	})
	if n < 20 {
		t.Errorf("only %d flags defined", n)
	}
	if c, ok := commands["bench"]; !ok || c.usage != benchUsage {
		t.Error(`commands["bench"] is not registered with benchUsage`)
	}
	if err := benchCommand(context.Background(), []string{"--help"}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: err = %v, want flag.ErrHelp", err)
	}
}
