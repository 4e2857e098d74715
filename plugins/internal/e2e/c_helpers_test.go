package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/wasmhost"
	"github.com/tributary-gw/tributary/wasmhost/jsonimports"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// cWarnings make the first-party C guests' builds fail on any warning.
var cWarnings = []string{"-Wall", "-Wextra", "-Werror", "-Wno-unused-function"}

// repoRoot returns the module root, found from this file's location.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the e2e package source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// buildCGuest compiles plugins/c/<name>/<name>.c with sdktest.BuildC (skipped without
// clang and wasm-ld unless TRIBUTARY_REQUIRE_CLANG=1) and returns the .wasm bytes.
func buildCGuest(t testing.TB, name string) []byte {
	t.Helper()
	return sdktest.BuildC(t, filepath.Join(repoRoot(t), "plugins", "c", name, name+".c"), cWarnings...)
}

var (
	testHostOnce sync.Once
	testHost     *wasmhost.Host
	testHostErr  error
)

// sharedHost returns one wasmhost.Host for the whole test binary, so each
// plugin binary is compiled once.
func sharedHost(t testing.TB) *wasmhost.Host {
	t.Helper()
	testHostOnce.Do(func() {
		hc := wasmhost.HostConfig{Extensions: jsonimports.Functions()}
		if cache, err := wasmtest.CompileCacheDir(); err == nil {
			hc.CacheDir = cache
		}
		testHost, testHostErr = wasmhost.NewHost(context.Background(), hc)
	})
	if testHostErr != nil {
		t.Fatal(testHostErr)
	}
	return testHost
}

// newInstance compiles wasm as plugin name and instantiates it with cfg
// under limits; the instance is closed when the test ends.
func newInstance(t testing.TB, name string, wasm []byte, cfg string, limits wasmhost.Limits) *wasmhost.Instance {
	t.Helper()
	ctx := context.Background()
	p, err := sharedHost(t).Compile(ctx, name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, err := wasmhost.NewInstance(ctx, sharedHost(t), p, []byte(cfg), limits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(ctx) })
	return in
}

// syncWriter is a goroutine-safe log sink printed when a test fails.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startChainGateway writes plugins (name → wasm) into a plugins dir, runs a
// gateway with routes against mq and kf until the test ends and waits until
// it is ready. Routes get the key template, no envelope and a dead-letter
// topic of their topic plus "_dlq" unless set.
func startChainGateway(t *testing.T, mq *gatewaytest.Broker, kf *gatewaytest.KafkaCluster, plugins map[string][]byte, routes ...config.Route) *gateway.Gateway {
	t.Helper()
	dir := t.TempDir()
	for name, wasm := range plugins {
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.MQTT.URL = mq.URL()
	cfg.MQTT.ClientID = "tributary-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	cfg.Kafka.Brokers = kf.Brokers()
	cfg.Kafka.Compression = "none"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Flow.DrainTimeout = 20 * time.Second
	cfg.Plugins.Dir = dir
	cfg.Plugins.Instances = 1
	if cache, err := wasmtest.CompileCacheDir(); err == nil {
		cfg.Plugins.CacheDir = cache // each plugin compiled once per machine, not per test
	}
	for i := range routes {
		r := &routes[i]
		if r.To.Key == "" {
			r.To.Key = config.DefaultKeyTemplate
		}
		if r.To.Envelope == "" {
			r.To.Envelope = config.EnvelopeNone
		}
		if r.DeadLetter == "" {
			r.DeadLetter = r.To.Topic + "_dlq"
		}
		if r.QoS == 0 {
			r.QoS = 1
		}
	}
	cfg.Routes = routes
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncWriter{}
	gw, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	gatewaytest.WaitFor(t, 20*time.Second, func() error {
		if gw.AdminAddr() == "" {
			return fmt.Errorf("admin not listening yet")
		}
		resp, err := http.Get("http://" + gw.AdminAddr() + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		return nil
	})
	return gw
}

// recordHeader returns the value of r's first header called name, "" if none.
func recordHeader(r *kgo.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}
