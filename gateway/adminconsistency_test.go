package gateway_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/gatewaytest"
)

// abiModule returns a minimal ABI v1 plugin, assembled here: tributary_init succeeds, or
// fails with initErr when it is set; tag, in a custom section, makes distinct versions of the
// same code. Its handler is never called by the tests using it.
func abiModule(initErr, tag string) []byte {
	uleb := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	sleb := func(b []byte, v int64) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	name := func(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }
	section := func(out []byte, id byte, payload []byte) []byte {
		return append(uleb(append(out, id), uint64(len(payload))), payload...)
	}
	fn := func(code []byte) []byte { // no locals
		code = append([]byte{0}, code...)
		return append(uleb(nil, uint64(len(code))), code...)
	}
	const errAt = 2048
	initResult := int64(0)
	if initErr != "" {
		initResult = errAt<<32 | int64(len(initErr))
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = section(out, 1, []byte{3, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7e})
	out = section(out, 3, []byte{4, 0, 1, 2, 2})
	out = section(out, 5, []byte{1, 0, 1}) // one page
	exp := []byte{5}
	for i, n := range []string{"tributary_abi_v1", "tributary_alloc", "tributary_init", "tributary_handle"} {
		exp = append(name(exp, n), 0, byte(i))
	}
	exp = append(name(exp, "memory"), 2, 0)
	out = section(out, 7, exp)
	code := []byte{4}
	code = append(code, fn([]byte{0x0b})...)
	code = append(code, fn(append(sleb([]byte{0x41}, 1024), 0x0b))...)
	code = append(code, fn(append(sleb([]byte{0x42}, initResult), 0x0b))...)
	code = append(code, fn(append(sleb([]byte{0x42}, 0), 0x0b))...)
	out = section(out, 10, code)
	data := append([]byte{1, 0, 0x41}, sleb(nil, errAt)...)
	data = name(append(data, 0x0b), initErr)
	out = section(out, 11, data)
	return section(out, 0, append(name(nil, "tributary-test"), tag...))
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
plugins: {dir: %q}
tenants: {dir: %q}
`, mq.URL(), clientID, strings.Join(kf.Brokers(), ", "), pluginsDir, tenantsDir)
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
