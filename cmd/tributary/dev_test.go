package main

import (
	"context"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

var devKafkaLine = regexp.MustCompile(`(?m)^  Kafka +(127\.0\.0\.1:\d+) `)

// TestDevCommand runs `tributary dev` in-process on free ports with a small --count, reads
// the records back from both example topics, then cancels and expects a prompt, clean return.
func TestDevCommand(t *testing.T) {
	// Generous: the first run builds the example plugins from source (wasip1), which takes a
	// while on a loaded 2-core machine under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	const count = 20
	pluginCache := devPluginCache(t)
	var stdout, stderr gatewaytest.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- devCommand(runCtx, []string{
			"--mqtt-port", "0", "--kafka-port", "0", "--admin-port", "0",
			"--sensors", "4", "--rate", "200", "--count", "20", "--view-interval", "100ms",
			"--plugin-cache", pluginCache,
		}, &stdout, &stderr)
	}()

	var addr string
	deadline := time.Now().Add(4 * time.Minute)
	for addr == "" {
		if m := devKafkaLine.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("devCommand returned %v before printing the Kafka address\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Kafka address printed\nstdout:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}

	topics := []string{"mqtt_building_sensors_raw", "mqtt_building_sensors_envelope"}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int{}
	for got[topics[0]] < count || got[topics[1]] < count {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back %v, want %d records per topic\nstdout:\n%s\nstderr:\n%s", got, count, stdout.String(), stderr.String())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !strings.HasPrefix(string(r.Key), "building/floor") {
				t.Errorf("record on %s has key %q, want the MQTT topic", r.Topic, r.Key)
			}
			got[r.Topic]++
		})
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("devCommand after cancel = %v, want nil\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("devCommand did not return within 30s of cancel")
	}
	out := stdout.String()
	for _, want := range []string{
		"mosquitto_pub -h 127.0.0.1 -p ",
		"kcat -b " + addr + " -t mqtt_building_sensors_raw -C",
		"http://127.0.0.1:",
		"published      20 messages",
		"delivered      40 records",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestDevCommand_Flags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantErr   string // substring; "" with wantHelp
		wantHelp  bool
		wantUsage bool
	}{
		{name: "help", args: []string{"--help"}, wantHelp: true},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope", wantUsage: true},
		{name: "argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`, wantUsage: true},
		{name: "no sensors", args: []string{"--sensors", "0"}, wantErr: "--sensors 0", wantUsage: true},
		{name: "zero rate", args: []string{"--rate", "0"}, wantErr: "--rate 0", wantUsage: true},
		{name: "negative count", args: []string{"--count", "-1"}, wantErr: "--count -1", wantUsage: true},
		{name: "negative duration", args: []string{"--duration", "-1s"}, wantErr: "--duration -1s", wantUsage: true},
		{name: "zero view interval", args: []string{"--view-interval", "0s"}, wantErr: "--view-interval 0s", wantUsage: true},
		{name: "admin port", args: []string{"--admin-port", "-2"}, wantErr: "--admin-port -2", wantUsage: true},
		{name: "log level", args: []string{"--log-level", "loud"}, wantErr: `--log-level "loud"`, wantUsage: true},
		{name: "short admin token", args: []string{"--admin-token", "short"}, wantErr: "--admin-token: want at least 16", wantUsage: true},
		{name: "admin token with a space", args: []string{"--admin-token", "0123456789 abcdef"}, wantErr: "--admin-token", wantUsage: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr gatewaytest.SyncBuffer
			err := devCommand(context.Background(), tc.args, &stdout, &stderr)
			if tc.wantHelp {
				// HasPrefix, not ==: main.go's parseFlags prints the usage a second time after
				// FlagSet.Parse has printed it (reported to the lead).
				if !errors.Is(err, flag.ErrHelp) || stdout.String() != devUsage {
					t.Fatalf("--help: err = %v, stdout %q; want flag.ErrHelp and devUsage", err, stdout.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if isUsage := errors.As(err, new(usageError)); isUsage != tc.wantUsage {
				t.Errorf("usage error = %v, want %v", isUsage, tc.wantUsage)
			}
		})
	}
}

// TestDevUsage_ExplainsEveryFlag keeps devUsage in step with the flags devCommand defines.
func TestDevUsage_ExplainsEveryFlag(t *testing.T) {
	fs, _ := newDevFlagSet(&gatewaytest.SyncBuffer{})
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(devUsage, "\n  --"+f.Name+" ") {
			t.Errorf("devUsage does not explain --%s", f.Name)
		}
	})
	if n < 12 {
		t.Errorf("only %d flags defined", n)
	}
	if c, ok := commands["dev"]; !ok || c.usage != devUsage {
		t.Error(`commands["dev"] is not registered with devUsage`)
	}
}
