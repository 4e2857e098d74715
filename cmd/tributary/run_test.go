package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// loadTopic is the Kafka topic the process tests' route writes to.
const loadTopic = "load"

// runConfig is the YAML of the process tests: one QoS 1 route load/# -> loadTopic, a fixed
// client id with a persistent session, the admin endpoint on a known port.
const runConfig = `mqtt:
  url: %s
  client_id: %s
  clean_start: false
  session_expiry: 1h
  reconnect_max: 500ms
kafka:
  brokers: [%s]
  compression: none
flow:
  drain_timeout: %s
plugins:
  dir: %s
admin:
  listen: 127.0.0.1:%d
log:
  level: info
routes:
  - name: load
    from: ["load/#"]
    qos: 1
    to:
      topic: ` + loadTopic + `
`

// gwProcess is one `tributary run` child process.
type gwProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and err is set
	err  error         // cmd.Wait's result
}

// exited reports whether the process has exited.
func (p *gwProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit code of an exited process, -1 if a signal ended it.
func (p *gwProcess) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// gwHarness starts, signals and restarts `tributary run --config` processes of one
// configuration. Every process writes to the same log file, printed when the test fails.
type gwHarness struct {
	t         *testing.T
	bin       string
	config    string
	adminPort int
	logPath   string
	starts    int
	env       []string // added to each process's environment, e.g. TRIBUTARY_MQTT__PROTOCOL
	cur       *gwProcess
	http      *http.Client
}

// newHarness builds the binary (once per test binary) and writes the configuration for a
// gateway between mq and kf with the given MQTT client id and drain timeout.
func newHarness(t *testing.T, mq *gatewaytest.Broker, kf *gatewaytest.KafkaCluster, clientID string, drain time.Duration) *gwHarness {
	t.Helper()
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	dir := t.TempDir()
	h := &gwHarness{
		t:         t,
		bin:       bin,
		config:    filepath.Join(dir, "tributary.yaml"),
		adminPort: gatewaytest.FreePort(t),
		logPath:   filepath.Join(dir, "tributary.log"),
		http:      &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	pluginDir := filepath.Join(dir, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(runConfig, mq.URL(), clientID, strings.Join(kf.Brokers(), ", "), drain, pluginDir, h.adminPort)
	if err := os.WriteFile(h.config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.cur != nil && !h.cur.exited() {
			_ = h.cur.cmd.Process.Kill()
			<-h.cur.done
		}
		if t.Failed() {
			t.Logf("tributary stderr (%d starts):\n%s", h.starts, tail(h.logPath, 64<<10))
		}
	})
	return h
}

// start starts a new process (the previous one must have exited) and waits until its
// /readyz answers 200. It fails the test if the process exits first.
func (h *gwHarness) start() *gwProcess {
	h.t.Helper()
	if h.cur != nil && !h.cur.exited() {
		h.t.Fatal("harness: start while the previous process runs")
	}
	h.starts++
	logf, err := os.OpenFile(h.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %d ===\n", h.starts)
	cmd := exec.Command(h.bin, "run", "--config", h.config)
	cmd.Env = append(childEnv(), h.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		h.t.Fatalf("starting %s: %v", h.bin, err)
	}
	p := &gwProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	h.cur = p
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", h.adminPort)
	gatewaytest.WaitFor(h.t, 30*time.Second, func() error {
		h.checkAlive()
		resp, err := h.http.Get(url)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /readyz: %d %s", resp.StatusCode, body)
		}
		return nil
	})
	return p
}

// checkAlive fails the test if the current process has exited.
func (h *gwHarness) checkAlive() {
	h.t.Helper()
	if h.cur.exited() {
		h.t.Fatalf("tributary run (start %d) exited unexpectedly: %v", h.starts, h.cur.err)
	}
}

// kill sends SIGKILL to the current process and waits for it to exit.
func (h *gwHarness) kill() {
	h.t.Helper()
	h.checkAlive()
	if err := h.cur.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatalf("SIGKILL: %v", err)
	}
	<-h.cur.done
}

// terminate sends SIGTERM to the current process and returns its exit code, failing the
// test if it has not exited within timeout.
func (h *gwHarness) terminate(timeout time.Duration) int {
	h.t.Helper()
	h.checkAlive()
	if err := h.cur.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-h.cur.done:
		return h.cur.exitCode()
	case <-time.After(timeout):
		h.t.Fatalf("tributary run did not exit within %v of SIGTERM", timeout)
		return -1
	}
}

// childEnv is this process's environment without TRIBUTARY_ variables, so the developer's
// shell cannot change the configuration under test.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRIBUTARY_") {
			env = append(env, kv)
		}
	}
	return env
}

// tail returns at most the last n bytes of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = append([]byte("...\n"), b[len(b)-n:]...)
	}
	return string(b)
}

// countRecords consumes topic from the start for the rest of the test and returns the
// number of records read so far (duplicates included).
func countRecords(t *testing.T, kf *gatewaytest.KafkaCluster, topic string) *atomic.Int64 {
	t.Helper()
	cl := kf.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			n.Add(int64(fs.NumRecords()))
		}
	}()
	t.Cleanup(func() { cancel(); <-done }) // runs before kf.Client's cleanup closes cl
	return &n
}

// slowProduce delays every Kafka produce request by d, so that at any moment many
// messages are received but not yet durable: a gateway that acknowledged MQTT messages
// before Kafka did would lose them when killed.
func slowProduce(kf *gatewaytest.KafkaCluster, d time.Duration) {
	c := kf.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.SleepControl(func() { <-time.After(d) }) // latency injection, not test synchronisation
		return nil, nil, false                     // not handled: kfake then produces as usual
	})
}

// publishAsync publishes msgs at QoS 1 in the background and returns a channel that
// receives Publish's result. Cleanup stops an unfinished publish.
func publishAsync(t *testing.T, brokerURL string, msgs []gatewaytest.PublishMsg) <-chan error {
	t.Helper()
	p := gatewaytest.NewPublisher(t, brokerURL)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res <- p.Publish(ctx, 1, msgs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("publisher did not stop within 30s of cancel")
		}
	})
	return res
}

// waitPublished waits for publishAsync's result and fails the test on an error.
func waitPublished(t *testing.T, res <-chan error, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("publishing: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("publishing did not finish within %v", timeout)
	}
}

// skipShort skips the process-level tests under -short: each runs a gateway binary
// against Mosquitto and moves thousands of messages.
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test: run without -short")
	}
}

// TestRun_SIGKILLNoLoss kills `tributary run` with SIGKILL three times while QoS 1
// messages flow, restarting it each time with the same persistent MQTT session. Every
// published message must be in Kafka afterwards; duplicates are allowed and logged.
//
// Produce requests are slowed down so that hundreds of messages are in flight at each
// kill: had the gateway acknowledged any of them to the broker before Kafka had them, they
// would be missing.
//
// It runs with MQTT v5 and, on fewer messages, with MQTT 3.1.1 (mqtt.protocol from the
// environment), whose acknowledgements take another path (the 3.1.1 source's receive-order
// queue).
func TestRun_SIGKILLNoLoss(t *testing.T) {
	skipShort(t)
	t.Run("v5", func(t *testing.T) { testRunSIGKILLNoLoss(t, nil, 20000) })
	t.Run("v3.1.1", func(t *testing.T) {
		testRunSIGKILLNoLoss(t, []string{"TRIBUTARY_MQTT__PROTOCOL=3.1.1"}, 8000)
	})
}

func testRunSIGKILLNoLoss(t *testing.T, env []string, total int) {
	const topics = 200
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(10, loadTopic))
	slowProduce(kf, 5*time.Millisecond)
	h := newHarness(t, mq, kf, "tributary-sigkill", 10*time.Second)
	h.env = env
	count := countRecords(t, kf, loadTopic)
	h.start()

	msgs := gatewaytest.Messages(gatewaytest.Topics("load/dev%03d", topics), total)
	published := publishAsync(t, mq.URL(), msgs)

	for i, at := range []int64{500, int64(total) * 3 / 10, int64(total) * 6 / 10} {
		gatewaytest.WaitFor(t, 60*time.Second, func() error {
			h.checkAlive()
			if n := count.Load(); n < at {
				return fmt.Errorf("kill %d: %d records in Kafka, waiting for %d", i+1, n, at)
			}
			return nil
		})
		h.kill()
		n := count.Load()
		if n >= int64(total) {
			t.Fatalf("kill %d came after %d records, not mid-stream: the test no longer exercises redelivery", i+1, n)
		}
		t.Logf("kill %d: SIGKILL with %d records in Kafka", i+1, n)
		h.start()
	}

	waitPublished(t, published, 2*time.Minute)
	rep := kf.WaitDelivered(t, loadTopic, msgs, time.Minute)
	if err := rep.AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
	t.Logf("after 3 SIGKILLs: %d published, %d records, %d duplicates", rep.Published, rep.Received, rep.Duplicates)
	if code := h.terminate(30 * time.Second); code != 0 {
		t.Errorf("final SIGTERM: exit code %d, want 0", code)
	}
}

// TestRun_SIGTERMDrains sends SIGTERM while QoS 1 messages flow: the process must drain and
// exit 0 within flow.drain_timeout, and a restart must deliver the rest with nothing lost
// and, since the drain acknowledged what it produced, nothing duplicated.
func TestRun_SIGTERMDrains(t *testing.T) {
	skipShort(t)
	const (
		total = 10000
		drain = 15 * time.Second
	)
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(10, loadTopic))
	slowProduce(kf, 5*time.Millisecond)
	h := newHarness(t, mq, kf, "tributary-sigterm", drain)
	count := countRecords(t, kf, loadTopic)
	h.start()

	msgs := gatewaytest.Messages(gatewaytest.Topics("load/dev%03d", 100), total)
	published := publishAsync(t, mq.URL(), msgs)
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		h.checkAlive()
		if n := count.Load(); n < total/5 {
			return fmt.Errorf("%d records in Kafka, waiting for %d", n, total/5)
		}
		return nil
	})
	// The drain must finish within drain_timeout; allow 5s more for process exit.
	if code := h.terminate(drain + 5*time.Second); code != 0 {
		t.Fatalf("SIGTERM mid-stream: exit code %d, want 0", code)
	}
	n := count.Load()
	if n >= total {
		t.Fatalf("SIGTERM came after %d records, not mid-stream: the test no longer exercises the drain", n)
	}
	t.Logf("SIGTERM drained with %d records in Kafka", n)

	h.start()
	waitPublished(t, published, 2*time.Minute)
	rep := kf.WaitDelivered(t, loadTopic, msgs, time.Minute)
	if err := rep.AtLeastOnce(); err != nil {
		t.Fatal(err)
	}
	t.Logf("after SIGTERM and restart: %d published, %d records, %d duplicates", rep.Published, rep.Received, rep.Duplicates)
	// A drain that finished within its timeout acknowledged everything it produced (run's
	// usage promises it), so the broker had nothing produced to redeliver.
	if rep.Duplicates > 0 {
		t.Errorf("%d duplicates after a clean drain: messages produced during the drain were not acknowledged to the broker\n%s",
			rep.Duplicates, rep.String())
	}
	if code := h.terminate(drain + 5*time.Second); code != 0 {
		t.Errorf("final SIGTERM: exit code %d, want 0", code)
	}
}

// TestRun_BadConfig runs `run` in-process with an invalid configuration (exit 1, stderr
// naming each offending key) and without --config (exit 2 with the usage).
func TestRun_BadConfig(t *testing.T) {
	clearTributaryEnv(t) // TRIBUTARY_CONFIG would stand in for a missing --config
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`mqtt:
  url: tcp://127.0.0.1:1
  clientid: typo
flow:
  drain_timeout: soon
routes:
  - name: r
    from: ["a/#"]
    to: {topic: t}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr []string
	}{
		{
			name:       "unknown key and bad value",
			args:       []string{"run", "--config", bad},
			wantCode:   1,
			wantStderr: []string{"tributary run: ", "mqtt.clientid", "flow.drain_timeout"},
		},
		{
			name:       "missing file",
			args:       []string{"run", "--config", filepath.Join(dir, "nope.yaml")},
			wantCode:   1,
			wantStderr: []string{"nope.yaml"},
		},
		{
			name:       "no --config",
			args:       []string{"run"},
			wantCode:   2,
			wantStderr: []string{"--config is required", runUsage},
		},
		{
			name:       "stray argument",
			args:       []string{"run", "--config", bad, "extra"},
			wantCode:   2,
			wantStderr: []string{`unexpected argument "extra"`, runUsage},
		},
		{
			name:       "unknown flag",
			args:       []string{"run", "--confg", bad},
			wantCode:   2,
			wantStderr: []string{"confg", runUsage},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := runMain(ctx, tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tc.wantCode, stderr.String())
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
