package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// readmeBlock returns the lines of the first ```sh block after the heading in the README at
// path.
func readmeBlock(t *testing.T, path, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no %q section", path, heading)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("%s: no ```sh block under %q", path, heading)
	}
	block, _, _ = strings.Cut(block, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// copyTree copies the files under src to dst, leaving out built modules (*.wasm), which a
// fresh clone does not have.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(path, ".wasm") || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadme_RunningIt runs the commands of the README's "Running it" section as written,
// with bash, in a copy of the files of a fresh clone they use (go.mod, the SDK, the plugins'
// sources, the example; no .wasm): the binary is the one the go build line names (built once
// per test binary instead), the plugin builds and validate must succeed, and run must serve
// the example's route through its three plugins, against Mosquitto and an in-memory Kafka
// that the environment points it at, as the README says to.
func TestReadme_RunningIt(t *testing.T) {
	skipShort(t)
	root, err := gatewaytest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeBlock(t, filepath.Join(root, "README.md"), "## Running it")
	if len(lines) < 3 || !strings.Contains(lines[0], "go build -o tributary ./cmd/tributary") {
		t.Fatalf("Running it starts %q, want the go build of ./tributary", lines)
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)

	work := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyTree(t, filepath.Join(root, f), filepath.Join(work, f))
	}
	for _, d := range []string{"sdk", "plugins", "examples/building-sensors"} {
		copyTree(t, filepath.Join(root, d), filepath.Join(work, d))
	}
	if err := os.Symlink(gatewaytest.BuildBinary(t, "./cmd/tributary"), filepath.Join(work, "tributary")); err != nil {
		t.Fatal(err)
	}
	cacheHome := t.TempDir()
	linkCompileCache(t, filepath.Join(cacheHome, "tributary", "wasm-cache")) // plugin build's
	compiled := filepath.Join(t.TempDir(), "compiled")
	linkCompileCache(t, compiled) // validate's and run's
	adminPort := gatewaytest.FreePort(t)
	env := append(childEnv(), "XDG_CACHE_HOME="+cacheHome,
		"TRIBUTARY_PLUGINS__CACHE_DIR="+compiled,
		"TRIBUTARY_MQTT__URL="+mq.URL(), "TRIBUTARY_KAFKA__BROKERS="+strings.Join(kf.Brokers(), ","),
		fmt.Sprintf("TRIBUTARY_ADMIN__LISTEN=127.0.0.1:%d", adminPort))

	ran := 0
	for _, line := range lines[1:] {
		if strings.HasPrefix(line, "./tributary run ") {
			runReadmeGateway(t, work, env, line, adminPort, mq, kf)
			ran++
			continue
		}
		start := time.Now()
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		t.Logf("%s: %s", line, time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		if strings.Contains(line, " validate ") {
			for _, want := range []string{"is valid", "stage 0: plugin topic-fields", "stage 1: plugin units", "stage 2: plugin filter"} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("%s: output lacks %q:\n%s", line, want, out)
				}
			}
		}
		ran++
	}
	if ran != len(lines)-1 {
		t.Fatalf("ran %d of the %d commands", ran, len(lines)-1)
	}
}

// runReadmeGateway starts the README's run line, waits for /readyz, publishes a Celsius
// reading and waits for it in Kafka in Fahrenheit, then stops the gateway with SIGTERM.
func runReadmeGateway(t *testing.T, dir string, env []string, line string, adminPort int, mq *gatewaytest.Broker, kf *gatewaytest.KafkaCluster) {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command("bash", "-c", "exec "+line)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", line, logs.String())
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	gatewaytest.WaitFor(t, 60*time.Second, func() error {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("%s exited early: %v", line, err)
		default:
		}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})

	const topic = "building/floor1/room101/sensor/s000/temperature"
	msg := gatewaytest.PublishMsg{Topic: topic, Payload: []byte(`{"device_id":"s000","value":21.25,"unit":"celsius"}`)}
	if err := gatewaytest.NewPublisher(t, mq.URL()).Publish(t.Context(), 1, []gatewaytest.PublishMsg{msg}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	recs := kf.WaitRecords(t, "mqtt_building_sensors_raw", 1, 30*time.Second)
	var got map[string]any
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatalf("record %q: %v", recs[0].Value, err)
	}
	if got["value"] != 70.25 || got["unit"] != "fahrenheit" || got["room"] != 101.0 || got["sensor"] != "s000" {
		t.Errorf("record = %s, want the reading in Fahrenheit with the topic's fields", recs[0].Value)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0", line, err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("%s did not stop within 40s of SIGTERM", line)
	}
}
