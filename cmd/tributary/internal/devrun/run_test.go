package devrun

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/fleet"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// waitFor polls f every 20ms until it returns nil or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline, not timing
	}
}

var kafkaLine = regexp.MustCompile(`(?m)^  Kafka +(127\.0\.0\.1:\d+) `)

// kafkaAddr waits for the banner and returns the Kafka address it printed.
func kafkaAddr(t *testing.T, out *gatewaytest.SyncBuffer) string {
	t.Helper()
	var addr string
	// Generous: the session first builds and compiles the example's plugins, which under
	// -race on a loaded machine takes a while.
	waitFor(t, 3*time.Minute, func() error {
		m := kafkaLine.FindStringSubmatch(out.String())
		if m == nil {
			return errString("no Kafka address in the output yet:\n" + out.String())
		}
		addr = m[1]
		return nil
	})
	return addr
}

type errString string

func (e errString) Error() string { return string(e) }

// readRecords reads n records from each topic at addr.
func readRecords(t *testing.T, ctx context.Context, addr string, n int, topics ...string) map[string][]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string][]*kgo.Record{}
	enough := func() bool {
		for _, tp := range topics {
			if len(got[tp]) < n {
				return false
			}
		}
		return true
	}
	for !enough() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			counts := map[string]int{}
			for tp, rs := range got {
				counts[tp] = len(rs)
			}
			t.Fatalf("read %v records, want %d per topic: %v", counts, n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
	}
	return got
}

var fleetTopic = regexp.MustCompile(`^building/floor[1-3]/room\d+/sensor/s\d{3}/(temperature|humidity|co2)$`)

// TestRun_EndToEnd runs a session outside the checkout, as an installed binary would: the
// example's plugins are built from the source carried in the binary.
func TestRun_EndToEnd(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	const count = 30
	var out gatewaytest.SyncBuffer
	var logs gatewaytest.SyncBuffer
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := Run(runCtx, Options{
			Fleet:        fleet.Config{Sensors: 4, Rate: 300, Count: count, Seed: 1},
			ViewInterval: 50 * time.Millisecond,
			PluginCache:  testPluginCache(t),
			Load:         loadSharingCompiles,
			Logger:       newTestLogger(&logs),
			Stdout:       &out,
		})
		done <- result{sum, err}
	}()

	addr := kafkaAddr(t, &out)
	got := readRecords(t, ctx, addr, count, "mqtt_building_sensors_raw", "mqtt_building_sensors_envelope")

	for _, r := range got["mqtt_building_sensors_raw"] {
		if !fleetTopic.Match(r.Key) {
			t.Errorf("raw record key %q is not a fleet topic", r.Key)
		}
		var rd fleet.Reading
		if err := json.Unmarshal(r.Value, &rd); err != nil || rd.DeviceID == "" || !strings.HasSuffix(string(r.Key), "/"+rd.Metric) {
			t.Errorf("raw record %s: value %s is not the fleet's reading (%v)", r.Key, r.Value, err)
		}
		// The example's chain ran: topic-fields added the sensor, units made Fahrenheit.
		var added struct {
			Sensor string `json:"sensor"`
		}
		_ = json.Unmarshal(r.Value, &added)
		if added.Sensor == "" || (rd.Metric == "temperature" && rd.Unit != "fahrenheit") {
			t.Errorf("raw record %s: value %s did not go through the example's chain", r.Key, r.Value)
		}
	}
	for _, r := range got["mqtt_building_sensors_envelope"] {
		var env struct {
			Topic     string          `json:"mqtt_topic"`
			ArrivedAt int64           `json:"arrived_at_ms"`
			Payload   json.RawMessage `json:"payload"`
			QoS       int             `json:"qos"`
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			t.Fatalf("envelope record %s: %v: %s", r.Key, err, r.Value)
		}
		if env.Topic != string(r.Key) || env.ArrivedAt == 0 || env.QoS != 1 || len(env.Payload) == 0 {
			t.Errorf("envelope record %s: %s", r.Key, r.Value)
		}
	}

	// The live view shows both routes and samples of what landed.
	waitFor(t, 30*time.Second, func() error {
		o := out.String()
		for _, want := range []string{"building-sensors-raw", "building-sensors-envelope", "  kafka mqtt_building_sensors_", "fleet published 30 (done)"} {
			if !strings.Contains(o, want) {
				return errString("live view lacks " + want + ":\n" + o)
			}
		}
		return nil
	})

	stop()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	if res.err != nil {
		t.Fatalf("Run = %v, want nil after cancel\nlogs:\n%s", res.err, logs.String())
	}
	want := Summary{Published: count, Delivered: 2 * count, ReadBack: 2 * count}
	if res.sum != want {
		t.Errorf("summary = %+v, want %+v", res.sum, want)
	}
	for _, line := range []string{"published      30 messages", "delivered      60 records", "dead-lettered  0", "read back      60"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("printed summary lacks %q:\n%s", line, out.String())
		}
	}
}

func TestRun_DurationStopsOnItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out gatewaytest.SyncBuffer
	_, err := Run(ctx, Options{
		Duration:    500 * time.Millisecond,
		Quiet:       true,
		SourceRoot:  t.TempDir(),
		PluginCache: testPluginCache(t),
		Load:        loadSharingCompiles,
		Logger:      newTestLogger(&gatewaytest.SyncBuffer{}),
		Stdout:      &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run outlived its test deadline")
	}
	if o := out.String(); !strings.Contains(o, "stopped after") || strings.Contains(o, "--- 00:") {
		t.Errorf("quiet run printed a live view or no summary:\n%s", o)
	}
}

func TestRun_Errors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	badLoad := func([]byte, []string) (*config.Config, error) { return nil, errString("routes[0].to.topic: required") }
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no loader", opts: Options{}, wantErr: "Options.Load"},
		{name: "bad fleet", opts: Options{Load: config.LoadBytes, Fleet: fleet.Config{Sensors: -1}}, wantErr: "fleet sensors"},
		{name: "config rejected", opts: Options{Load: badLoad}, wantErr: "examples/building-sensors/tributary.yaml: routes[0].to.topic"},
		{name: "mqtt port taken", opts: Options{Load: config.LoadBytes, MQTT: Port{Number: taken}}, wantErr: "mqtt broker"},
		{name: "kafka port taken", opts: Options{Load: config.LoadBytes, Kafka: Port{Number: taken}}, wantErr: "kafka"},
		{name: "admin port taken", opts: Options{Load: config.LoadBytes, Admin: Port{Number: taken}}, wantErr: "admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SourceRoot = t.TempDir()
			tc.opts.PluginCache = testPluginCache(t)
			tc.opts.Stdout = &gatewaytest.SyncBuffer{}
			tc.opts.Logger = newTestLogger(&gatewaytest.SyncBuffer{})
			_, err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Run error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// Outside a checkout, the plugins come from the source the binary carries: written once per
// source, as one module that needs no network, and never built from a folder with no go.
func TestWriteCarried(t *testing.T) {
	cache := t.TempDir()
	var out bytes.Buffer
	names := chainPlugins()
	dirs, err := writeCarried(cache, names, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not in a tributary checkout") || !strings.Contains(out.String(), filepath.Join(cache, "src")) {
		t.Errorf("no line saying where the source goes:\n%s", out.String())
	}
	for _, name := range names {
		if dirs[name] != filepath.Join(cache, "src", "plugins", name) {
			t.Errorf("plugin %s: source folder %q", name, dirs[name])
		}
		if _, err := os.Stat(filepath.Join(dirs[name], "main.go")); err != nil {
			t.Error(err)
		}
	}
	// The module resolves with the network off: the SDK comes from ./sdk.
	cmd := exec.Command("go", "list", "-deps", "./...")
	cmd.Dir = filepath.Join(cache, "src")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "github.com/tributary-gw/tributary/sdk/jsonfield") {
		t.Fatalf("go list in the written module: %v\n%s", err, b)
	}

	// Unchanged source: nothing is written again, a module built since stays.
	wasm := filepath.Join(cache, names[0]+".wasm")
	if err := os.WriteFile(wasm, []byte("built"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := writeCarried(cache, names, &out); err != nil || out.Len() != 0 {
		t.Fatalf("second writeCarried: %v, printed %q; want nothing done", err, out.String())
	}
	if _, err := os.Stat(wasm); err != nil {
		t.Fatal("second writeCarried removed a module built from the same source")
	}
	// A checkout's build forgets the stamp: the carried source is written again, its modules rebuilt.
	forgetCarried(cache)
	if _, err := writeCarried(cache, names, &out); err != nil || out.Len() == 0 {
		t.Fatalf("writeCarried after forgetCarried: %v, printed %q", err, out.String())
	}
	if _, err := os.Stat(wasm); err == nil {
		t.Fatal("a module built from other source was kept")
	}
	if _, err := writeCarried(cache, []string{"nope"}, &out); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("writeCarried of a plugin not carried: %v", err)
	}

	// Without go on PATH, Run says so.
	t.Chdir(t.TempDir())
	t.Setenv("PATH", "")
	_, err = Run(context.Background(), Options{PluginCache: t.TempDir(), Load: config.LoadBytes, Quiet: true,
		Stdout: &out, Logger: newTestLogger(&gatewaytest.SyncBuffer{})})
	if err == nil || !strings.Contains(err.Error(), "go command") || !strings.Contains(err.Error(), "PATH") {
		t.Fatalf("Run without go on PATH: %v, want an error naming the go command and PATH", err)
	}
}

func TestRouteTopics(t *testing.T) {
	cfg := &config.Config{Routes: []config.Route{
		{To: config.Destination{Topic: "a"}, DeadLetter: "a_dlq"},
		{To: config.Destination{Topic: "sensors.{{.Segment 1}}"}, DeadLetter: "a_dlq"},
		{To: config.Destination{Topic: "a"}, DeadLetter: ""},
		{To: config.Destination{Topic: "b"}, DeadLetter: "b_dlq"},
	}}
	if got, want := strings.Join(routeTopics(cfg), ","), "a,b,a_dlq,b_dlq"; got != want {
		t.Fatalf("routeTopics = %s, want %s", got, want)
	}
}

func TestFindRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "cmd", "tributary")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "cmd", "go.mod") // another module's go.mod on the way up
	if err := os.WriteFile(other, []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findRoot(deep); got != "" {
		t.Fatalf("findRoot without our go.mod = %q, want \"\"", got)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(modulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findRoot(deep); got != root {
		t.Fatalf("findRoot = %q, want %q", got, root)
	}
}
