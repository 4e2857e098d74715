package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// authorConfig is the gateway configuration of TestAuthorLoop_OutsideCheckout: one route
// through the new plugin, with its defaults (Celsius to Fahrenheit).
const authorConfig = `mqtt:
  url: %s
  client_id: tributary-author-loop
kafka:
  brokers: [%s]
plugins:
  dir: %s
  cache_dir: %s
admin:
  listen: 127.0.0.1:%d
routes:
  - name: temps
    from: ["building/#"]
    qos: 1
    chain:
      - plugin: celsius
        config: {field: temp}
    to:
      topic: temps
`

// TestAuthorLoop_OutsideCheckout is a plugin author's first hour with the built binary, in an
// empty folder outside this checkout, with the network off (GOPROXY=off, GOFLAGS=-mod=mod):
// plugin new, go mod tidy (changes nothing), then the next steps exactly as plugin new printed
// them (go test, plugin build, plugin test), validate of a configuration using the plugin, and
// the plugin in a route of `tributary run` between Mosquitto and Kafka.
func TestAuthorLoop_OutsideCheckout(t *testing.T) {
	skipShort(t)
	start := time.Now()
	bin := gatewaytest.BuildBinary(t, "./cmd/tributary")
	t.Logf("binary: %s", time.Since(start).Round(time.Millisecond))
	work := t.TempDir()
	if root, _ := gatewaytest.ModuleRoot(); root != "" && strings.HasPrefix(work, root+string(filepath.Separator)) {
		t.Fatalf("temp folder %s lies inside the checkout %s", work, root)
	}
	cacheHome := t.TempDir()
	linkCompileCache(t, filepath.Join(cacheHome, "tributary", "wasm-cache"))
	// XDG_CACHE_HOME moves plugin test's compile cache, and would move Go's build cache too
	// (a cold one costs minutes): keep Go's where it is.
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	env := append(childEnv(), "XDG_CACHE_HOME="+cacheHome, "GOCACHE="+strings.TrimSpace(string(gocache)), "GOPROXY=off", "GOFLAGS=-mod=mod")
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
		}
		t.Logf("%s %s: %s", filepath.Base(name), args[0], time.Since(start).Round(time.Millisecond))
		return string(out)
	}

	out := run(work, bin, "plugin", "new", "celsius")
	plugin := filepath.Join(work, "plugins", "celsius")
	wantContains(t, "plugin new output", out, "created plugin celsius in plugins/celsius:\n", "  plugins/celsius/go.mod\n",
		"  plugins/celsius/tributary-sdk/   the Go SDK's source, github.com/tributary-gw/tributary/sdk v0.")
	gomod, err := os.ReadFile(filepath.Join(plugin, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	run(plugin, "go", "mod", "tidy")
	if after, _ := os.ReadFile(filepath.Join(plugin, "go.mod")); !bytes.Equal(after, gomod) {
		t.Errorf("go mod tidy changed go.mod:\n%s\nto:\n%s", gomod, after)
	}

	// The next steps, as printed: commands only, comments dropped, run one after another by sh.
	_, steps, ok := strings.Cut(out, "Next steps, from here:\n")
	if !ok {
		t.Fatalf("no next steps:\n%s", out)
	}
	steps, _, _ = strings.Cut(steps, "\nThen ")
	var cmds []string
	for _, line := range strings.Split(steps, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cmd, _, ok := strings.Cut(line, "   # "); ok {
			line = strings.TrimSpace(cmd)
		}
		cmds = append(cmds, line)
	}
	if len(cmds) != 4 || cmds[0] != "cd plugins/celsius" {
		t.Fatalf("next steps %q: want cd, go test, plugin build, plugin test", cmds)
	}
	stepsOut := run(work, "sh", "-ec", strings.Join(cmds, "\n"))
	wasm := filepath.Join(work, "plugins", "celsius.wasm")
	wantContains(t, "next steps' output", stepsOut, "ok  \tcelsius", "built "+wasm,
		`[0] payload: {"temp":70.7,"unit":"F"}`, "headers: unit=F", "summary: 5 inputs, 3 outputs, 0 filtered, 2 dead letters")

	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t, kfake.SeedTopics(1, "temps"))
	adminPort := gatewaytest.FreePort(t)
	config := filepath.Join(work, "tributary.yaml")
	// Machine code from the compile cache test binaries share (plugin build compiled it there).
	compiled, err := wasmtest.CompileCacheDir()
	if err != nil {
		compiled = filepath.Join(work, "compiled")
	}
	yaml := fmt.Sprintf(authorConfig, mq.URL(), strings.Join(kf.Brokers(), ", "), filepath.Join(work, "plugins"), compiled, adminPort)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	wantContains(t, "validate output", run(work, bin, "validate", "--config", "tributary.yaml"), "celsius")

	h := &gwHarness{t: t, bin: bin, config: config, adminPort: adminPort, logPath: filepath.Join(work, "tributary.log"),
		http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	t.Cleanup(func() {
		if h.cur != nil && !h.cur.exited() {
			_ = h.cur.cmd.Process.Kill()
			<-h.cur.done
		}
		if t.Failed() {
			t.Logf("tributary run log:\n%s", tail(h.logPath, 16<<10))
		}
	})
	start = time.Now()
	h.start()
	t.Logf("run: ready in %s", time.Since(start).Round(time.Millisecond))
	gatewaytest.Publish(t, mq.URL(), 1, []gatewaytest.PublishMsg{{Topic: "building/floor1/t1", Payload: []byte(`{"temp":20,"unit":"C"}`)}})
	recs := kf.WaitRecords(t, "temps", 1, 30*time.Second)
	if got := string(recs[0].Value); got != `{"temp":68,"unit":"F"}` {
		t.Errorf("record value %s, want the plugin's conversion", got)
	}
	if code := h.terminate(30 * time.Second); code != 0 {
		t.Errorf("tributary run: exit %d after SIGTERM, want 0", code)
	}
}
