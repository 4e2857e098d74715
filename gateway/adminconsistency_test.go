package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

// abiModule returns a minimal ABI v1 plugin (wasmtest's passthrough): tributary_init
// succeeds, or fails with initErr when it is set; tag, in a data segment, makes distinct
// versions of the same code.
func abiModule(initErr, tag string) []byte {
	const errAt = 2048
	m := wasmtest.PassthroughModule(64)
	if initErr != "" {
		m.Funcs[2].Body = wasmtest.AppendSLEB([]byte{0x42}, errAt<<32|int64(len(initErr))) // tributary_init
		m.Data = append(m.Data, wasmtest.Data{Offset: errAt, Bytes: []byte(initErr)})
	}
	m.Data = append(m.Data, wasmtest.Data{Offset: 4096, Bytes: []byte(tag)})
	return m.Bytes()
}

// tenantState is what GET /api/v1/tenants/acme says about plugin p: the version acme's route
// runs and the version in the folder.
func tenantState(t *testing.T, api, token string) (serving, stored string) {
	t.Helper()
	code, resp := apiCall(t, "GET", api+"/tenants/acme", token, nil)
	var ti struct {
		Routes []struct {
			Stages []struct{ Plugin, Version string }
		}
		Plugins []struct{ Name, Version string }
	}
	if err := json.Unmarshal([]byte(resp), &ti); err != nil || code != 200 {
		t.Fatalf("GET tenant = %d %s (%v)", code, resp, err)
	}
	for _, r := range ti.Routes {
		for _, s := range r.Stages {
			if s.Plugin == "p" {
				serving = s.Version
			}
		}
	}
	for _, p := range ti.Plugins {
		if p.Name == "p" {
			stored = p.Version
		}
	}
	return serving, stored
}

// TestAdminAPI_ConcurrentChangesOfOnePlugin sends concurrent uploads, rollbacks and deletes
// of one tenant plugin, mixing versions whose init fails with good ones: every refused
// upload answers 422, and afterwards the file on disk is the version serving, a good one.
// Then concurrent uploads where only one version is good: that one serves and is on disk.
// Finally a fresh Load and New of the configuration succeed (no broken version was left).
func TestAdminAPI_ConcurrentChangesOfOnePlugin(t *testing.T) {
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	root := t.TempDir()
	cfgPath, tenantsDir, pluginsDir := filepath.Join(root, "tributary.yaml"), filepath.Join(root, "tenants"), filepath.Join(root, "plugins")
	for _, d := range []string{filepath.Join(tenantsDir, "acme"), pluginsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	clientID := "tributary-" + strings.ReplaceAll(t.Name(), "/", "-")
	doc := fmt.Sprintf(`
mqtt: {url: %q, client_id: %q, reconnect_max: 500ms}
kafka: {brokers: [%s], compression: none}
admin: {listen: "127.0.0.1:0"}
flow: {drain_timeout: 20s}
plugins: {dir: %q, cache_dir: %q}
tenants: {dir: %q}
`, mq.URL(), clientID, strings.Join(kf.Brokers(), ", "), pluginsDir, compileCache(t), tenantsDir)
	tenant := `
mqtt_prefixes: [acme/]
kafka_prefixes: [acme.]
admin_token: ` + acmeToken + `
routes:
  - name: r
    from: ["acme/#"]
    chain: [{plugin: p}]
    to: {topic: acme.out}
`
	pFile := filepath.Join(tenantsDir, "acme", "p.wasm")
	goodHashes := map[string]bool{}
	good := func(tag string) []byte {
		m := abiModule("", tag)
		goodHashes[sha(m)] = true
		return m
	}
	bad := func(tag string) []byte { return abiModule("refused by this version", tag) }
	for file, data := range map[string][]byte{cfgPath: []byte(doc), filepath.Join(tenantsDir, "acme", config.TenantFile): []byte(tenant),
		pFile: good("first")} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, cfg, gateway.WithReloadFrom(cfgPath, nil))
	api := "http://" + gw.AdminAddr() + "/api/v1"
	pluginURL := api + "/tenants/acme/plugins/p"

	type op struct {
		method, url string
		body        []byte
		bad         bool
	}
	run := func(ops []op) (okVersions []string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, o := range ops {
			wg.Go(func() {
				code, resp := apiCall(t, o.method, o.url, acmeToken, o.body)
				switch {
				case o.bad && code != 422:
					t.Errorf("op %d: %s of a version whose init fails = %d %s, want 422", i, o.method, code, resp)
				case o.method == "PUT" && !o.bad && code != 200:
					t.Errorf("op %d: PUT of a good version = %d %s, want 200", i, code, resp)
				case code == 200:
					var v struct{ Version string }
					_ = json.Unmarshal([]byte(resp), &v)
					mu.Lock()
					okVersions = append(okVersions, v.Version)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return okVersions
	}
	check := func(phase string) string {
		t.Helper()
		serving, stored := tenantState(t, api, acmeToken)
		disk, err := os.ReadFile(pFile)
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		if sha(disk) != serving || stored != serving {
			t.Fatalf("%s: disk holds %.12s (listed %.12s) but %.12s serves", phase, sha(disk), stored, serving)
		}
		if !goodHashes[sha(disk)] {
			t.Fatalf("%s: the version on disk, %.12s, is not a good one", phase, sha(disk))
		}
		return serving
	}

	// Phase 1: mixed changes.
	var ops []op
	for i := range 4 {
		ops = append(ops,
			op{"PUT", pluginURL, bad(fmt.Sprint("bad-", i)), true},
			op{"PUT", pluginURL, good(fmt.Sprint("good-", i)), false})
	}
	ops = append(ops, op{"POST", pluginURL + "/rollback", nil, false}, op{"DELETE", pluginURL, nil, false})
	run(ops)
	check("after mixed changes")

	// Phase 2: one good version among bad ones, no rollbacks: it must be what serves.
	ops = ops[:0]
	for i := range 4 {
		ops = append(ops, op{"PUT", pluginURL, bad(fmt.Sprint("bad2-", i)), true})
	}
	last := good("the-one")
	ops = append(ops, op{"PUT", pluginURL, last, false})
	if oks := run(ops); !slices.Equal(oks, []string{sha(last)}) {
		t.Errorf("successful uploads answered %v, want only %.12s", oks, sha(last))
	}
	if got := check("after one good upload among bad ones"); got != sha(last) {
		t.Errorf("%.12s serves, want the last successful upload %.12s", got, sha(last))
	}
	// A refused version never enters the history: a rollback goes to a good one.
	code, resp := apiCall(t, "GET", api+"/tenants/acme", acmeToken, nil)
	if code != 200 || strings.Contains(resp, sha(bad("bad2-0"))) {
		t.Errorf("a refused version is listed: %s", resp)
	}

	// A restart would come up: the configuration and the folder load, every plugin inits.
	if cfg, err = config.Load(cfgPath, nil); err != nil {
		t.Fatal(err)
	}
	if _, err = gateway.CheckPlugins(context.Background(), cfg, nil); err != nil {
		t.Fatalf("the plugins as left do not load: %v", err)
	}
	if _, err = gateway.New(cfg, gateway.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatalf("a new gateway from the folder as left: %v", err)
	}
}

// TestAdminAPI_UploadCyclesDoNotLeak uploads distinct versions of a tenant plugin and rolls
// each back, through the admin API of a running gateway: the Go heap after the cycles is
// within 20% of the heap before them (compiled modules, pools and their metrics are freed
// with the last user). 30 cycles by default, 1,000 with TRIBUTARY_LONG_TESTS=1.
func TestAdminAPI_UploadCyclesDoNotLeak(t *testing.T) {
	cycles := 30
	if os.Getenv("TRIBUTARY_LONG_TESTS") == "1" {
		cycles = 1000
	}
	mq := gatewaytest.Mosquitto(t)
	kf := gatewaytest.Kafka(t)
	s := newTenantSetup(t, mq.URL(), kf, map[string]string{
		"acme": tenantDoc("acme", "p", "admin_token: "+acmeToken),
	})
	if err := os.WriteFile(filepath.Join(s.tenantsDir, "acme", "p.wasm"), abiModule("", "first"), 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, s.load(t))
	url := "http://" + gw.AdminAddr() + "/api/v1/tenants/acme/plugins/p"
	cycle := func(i int) {
		if code, resp := apiCall(t, "PUT", url, acmeToken, abiModule("", fmt.Sprint("cycle ", i))); code != 200 {
			t.Fatalf("cycle %d: PUT = %d %s", i, code, resp)
		}
		if code, resp := apiCall(t, "POST", url+"/rollback", acmeToken, nil); code != 200 {
			t.Fatalf("cycle %d: rollback = %d %s", i, code, resp)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for i := range 5 { // warm up: metrics, stores, buffers
		cycle(-i - 1)
	}
	before := heap()
	for i := range cycles {
		cycle(i)
	}
	after := heap()
	t.Logf("Go heap %d KiB before %d upload/rollback cycles, %d KiB after", before>>10, cycles, after>>10)
	if after > before+before/5 {
		t.Errorf("heap grew from %d to %d KiB over %d cycles: more than 20%%", before>>10, after>>10, cycles)
	}
}
