package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// writeTenant writes dir/name/tenant.yaml.
func writeTenant(t *testing.T, dir, name, doc string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name, config.TenantFile)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadTenants(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("acme-token-77-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTenant(t, dir, "acme", `
mqtt_prefixes: [acme/]
kafka_prefixes: [acme.]
limits: {messages_per_second: 500, call_timeout: 200ms, max_instances: 4, max_message_bytes: 1024}
admin_token_file: `+tokenFile+`
routes:
  - name: temps
    from: [acme/+/temp]
    to: {topic: acme.temps}
`)
	if err := os.MkdirAll(filepath.Join(dir, "not-a-tenant"), 0o755); err != nil { // no tenant.yaml
		t.Fatal(err)
	}
	doc := `
plugins: {dir: testdata/plugins}
tenants:
  dir: ` + dir + `
  inline:
    - name: globex
      mqtt_prefixes: [globex/]
      kafka_prefixes: [globex_]
      routes:
        - name: temps
          from: [globex/#]
          qos: 0
          to: {topic: "globex_{{.Segment 1}}"}
          dead_letter: globex_dlq
`
	cfg, err := config.LoadBytes([]byte(doc), nil)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	ts := cfg.AllTenants()
	if len(ts) != 2 || ts[0].Name != "globex" || ts[1].Name != "acme" {
		t.Fatalf("tenants = %+v, want globex (inline) then acme (folder)", ts)
	}
	acme := cfg.Tenant("acme")
	if acme.Dir != filepath.Join(dir, "acme") || acme.File == "" {
		t.Errorf("acme dir/file = %q/%q", acme.Dir, acme.File)
	}
	if acme.AdminToken.Value() != "acme-token-77-0123456789" {
		t.Errorf("acme token not read from admin_token_file")
	}
	if acme.Limits.CallTimeout != 200*time.Millisecond || acme.Limits.MessagesPerSecond != 500 {
		t.Errorf("acme limits = %+v", acme.Limits)
	}
	if r := acme.Routes[0]; r.QoS != 1 || r.DeadLetter != "acme.temps_dlq" || r.To.Key != config.DefaultKeyTemplate {
		t.Errorf("acme route defaults not applied: %+v", r)
	}
	if g := cfg.Tenant("globex"); g.Routes[0].QoS != 0 || g.Dir != absPath(t, "testdata/plugins/globex") {
		t.Errorf("globex = %+v", g)
	}
	two := config.Tenant{Limits: config.TenantLimits{MaxInstances: 5},
		Routes: []config.Route{{Chain: []config.Stage{{Plugin: "a"}}}, {Chain: []config.Stage{{Plugin: "b"}}}}}
	if got := two.InstancesPerStage(8); got != 2 {
		t.Errorf("InstancesPerStage(8) with max_instances 5 over 2 stages = %d, want 2", got)
	}
	if got := (&config.Tenant{}).InstancesPerStage(8); got != 8 {
		t.Errorf("InstancesPerStage(8) without a cap = %d, want 8", got)
	}
}

func TestTenantErrors(t *testing.T) {
	tests := []struct {
		name    string
		folder  string // tenant.yaml of tenant "acme" under tenants.dir, if set
		inline  string // YAML list items under tenants.inline, if set
		wantErr []string
	}{
		{
			name:    "filter outside namespace",
			inline:  "- {name: acme, mqtt_prefixes: [acme/], kafka_prefixes: [acme.], routes: [{name: r, from: [acme/#, other/#, '#', '+/x'], to: {topic: acme.t}}]}",
			wantErr: []string{`routes[0] (r).from[1]: topic filter "other/#" is outside tenant acme's MQTT namespace`, `from[2]: topic filter "#"`, `from[3]: topic filter "+/x"`},
		},
		{
			name:    "kafka topic outside namespace",
			inline:  "- {name: acme, mqtt_prefixes: [acme/], kafka_prefixes: [acme.], routes: [{name: r, from: [acme/#], to: {topic: globex.t}, dead_letter: dlq}]}",
			wantErr: []string{`to.topic: Kafka topic "globex.t" is outside tenant acme's Kafka namespace`, `dead_letter: Kafka topic "dlq" is outside`},
		},
		{
			name:    "template may escape",
			inline:  "- {name: acme, mqtt_prefixes: [acme/], kafka_prefixes: [acme.], routes: [{name: r, from: [acme/#], to: {topic: '{{.Segment 1}}'}, dead_letter: acme.dlq}]}",
			wantErr: []string{`to.topic: Kafka topic "{{.Segment 1}}" is outside tenant acme's Kafka namespace`},
		},
		{
			name:    "namespace required",
			inline:  "- {name: acme, routes: [{name: r, from: [acme/#], to: {topic: acme.t}}]}",
			wantErr: []string{"tenants.inline[0] (acme).mqtt_prefixes: at least one", "tenants.inline[0] (acme).kafka_prefixes: at least one"},
		},
		{
			name:    "duplicate tenant",
			inline:  "- {name: acme, mqtt_prefixes: [a/], kafka_prefixes: [a.], routes: [{name: r, from: [a/#], to: {topic: a.t}}]}",
			folder:  "mqtt_prefixes: [a/]\nkafka_prefixes: [a.]\nroutes: [{name: r, from: [a/#], to: {topic: a.t}}]\n",
			wantErr: []string{`duplicate tenant "acme", also tenants.inline[0] (acme)`},
		},
		{
			name:    "unknown key in tenant file",
			folder:  "mqtt_prefixes: [a/]\nkafka_prefixes: [a.]\nlimitz: {}\nroutes: [{name: r, from: [a/#], to: {topic: a.t}}]\n",
			wantErr: []string{"tenant.yaml: limitz: unknown key"},
		},
		{
			name:    "bad tenant yaml",
			folder:  "routes: [\n",
			wantErr: []string{"tenant.yaml:1: invalid YAML"},
		},
		{
			name:    "name differs from folder",
			folder:  "name: other\nmqtt_prefixes: [a/]\nkafka_prefixes: [a.]\nroutes: [{name: r, from: [a/#], to: {topic: a.t}}]\n",
			wantErr: []string{`"other" differs from the folder name "acme"`},
		},
		{
			name:    "too few instances",
			inline:  "- {name: acme, mqtt_prefixes: [a/], kafka_prefixes: [a.], limits: {max_instances: 1}, routes: [{name: r, from: [a/#], to: {topic: a.t}, chain: [{plugin: celsius}, {plugin: celsius}]}]}",
			wantErr: []string{"limits.max_instances: 1 is fewer than the 2 chain stages"},
		},
		{
			name:    "short token and reserved name",
			inline:  "- {name: _, admin_token: short, mqtt_prefixes: [a/], kafka_prefixes: [a.], routes: [{name: r, from: [a/#], to: {topic: a.t}}]}",
			wantErr: []string{`tenants.inline[0] (_).name: "_" is reserved`, "tenants.inline[0] (_).admin_token: an admin token must be at least 16 bytes"},
		},
		{
			name: "overlapping namespaces",
			inline: "- {name: acme, mqtt_prefixes: [a/], kafka_prefixes: [a.], routes: [{name: r, from: [a/#], to: {topic: a.t}}]}\n" +
				"    - {name: acme2, mqtt_prefixes: [a/x/], kafka_prefixes: [a], routes: [{name: r, from: [a/x/#], to: {topic: a.u}}]}",
			wantErr: []string{`tenants.inline[1] (acme2).mqtt_prefixes: "a/x/" overlaps tenant acme's "a/"`, `tenants.inline[1] (acme2).kafka_prefixes: "a" overlaps tenant acme's "a."`},
		},
		{
			name:    "bad limits",
			inline:  "- {name: acme, mqtt_prefixes: [a/], kafka_prefixes: [a.], limits: {messages_per_second: -1, call_timeout: -1s}, routes: [{name: r, from: [a/#], to: {topic: a.t}}]}",
			wantErr: []string{"limits.messages_per_second: -1 must not be negative", "limits.call_timeout: -1s must not be negative"},
		},
		{
			name:    "missing tenant plugin",
			inline:  "- {name: acme, mqtt_prefixes: [a/], kafka_prefixes: [a.], routes: [{name: r, from: [a/#], to: {topic: a.t}, chain: [{plugin: nope}]}]}",
			wantErr: []string{`tenants.inline[0] (acme).routes[0] (r).chain[0].plugin: plugin "nope": file ` + absPath(t, "testdata/plugins/nope.wasm") + ` does not exist`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "plugins: {dir: testdata/plugins}\ntenants:\n"
			if tt.folder != "" {
				dir := t.TempDir()
				writeTenant(t, dir, "acme", tt.folder)
				doc += "  dir: " + dir + "\n"
			}
			if tt.inline != "" {
				doc += "  inline:\n    " + tt.inline + "\n"
			}
			cfg, err := config.LoadBytes([]byte(doc), nil)
			if tt.folder != "" {
				// A folder tenant's problems hold that tenant alone: the load succeeds.
				if err != nil {
					t.Fatalf("LoadBytes: %v; want the folder tenant held", err)
				}
				broken := cfg.BrokenTenants()
				if len(broken) != 1 || broken[0].Name != "acme" || cfg.Tenant("acme") != nil && cfg.Tenant("acme").File != "" {
					t.Fatalf("BrokenTenants = %+v, want acme held and out of AllTenants", broken)
				}
				err = broken[0].Err
			}
			if err == nil {
				t.Fatalf("LoadBytes succeeded, want errors %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestTenantPluginsShadowShared(t *testing.T) {
	dir := t.TempDir()
	writeTenant(t, dir, "acme", "mqtt_prefixes: [a/]\nkafka_prefixes: [a.]\nroutes: [{name: r, from: [a/#], to: {topic: a.t}, chain: [{plugin: celsius}, {plugin: own}]}]\n")
	own := filepath.Join(dir, "acme", "own.wasm")
	if err := os.WriteFile(own, []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes([]byte("plugins: {dir: testdata/plugins}\ntenants: {dir: "+dir+"}\n"), nil)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	acme := cfg.Tenant("acme")
	if got := cfg.TenantPluginPath(acme, "own"); got != own {
		t.Errorf("own plugin path = %q, want %q", got, own)
	}
	if got := cfg.TenantPluginPath(acme, "celsius"); got != absPath(t, "testdata/plugins/celsius.wasm") {
		t.Errorf("shared plugin path = %q", got)
	}
}

func TestMQTTAllowed(t *testing.T) {
	tn := &config.Tenant{MQTTPrefixes: []string{"acme/", "sites/7"}}
	for f, want := range map[string]bool{
		"acme/#": true, "acme/+/temp": true, "acme/a/b": true, "sites/7/#": true, "sites/70/x": true,
		"#": false, "+/temp": false, "acme": false, "acm/#": false, "other/acme/#": false, "sites/+": false,
	} {
		if got := tn.MQTTAllowed(f); got != want {
			t.Errorf("MQTTAllowed(%q) = %v, want %v", f, got, want)
		}
	}
}

// TestBrokenFolderTenantIsHeldAlone: a folder tenant that does not load is left out and
// reported; the operator's routes and the other tenants load.
func TestBrokenFolderTenantIsHeldAlone(t *testing.T) {
	dir := t.TempDir()
	writeTenant(t, dir, "good", "mqtt_prefixes: [g/]\nkafka_prefixes: [g.]\nroutes: [{name: r, from: [g/#], to: {topic: g.t}}]\n")
	writeTenant(t, dir, "bad", "mqtt_prefixes: [b/]\nkafka_prefixes: [b.]\nroutes: [{name: r, from: [other/#], to: {topic: b.t}, chain: [{plugin: missing}]}]\n")
	cfg, err := config.LoadBytes([]byte("plugins: {dir: testdata/plugins}\ntenants: {dir: "+dir+"}\n"), nil)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	if cfg.Tenant("good") == nil || cfg.Tenant("bad") != nil {
		t.Fatalf("tenants = %+v, want good only", cfg.AllTenants())
	}
	broken := cfg.BrokenTenants()
	if len(broken) != 1 || broken[0].Name != "bad" {
		t.Fatalf("BrokenTenants = %+v, want bad", broken)
	}
	for _, want := range []string{`topic filter "other/#" is outside tenant bad's MQTT namespace`, `plugin "missing": file`} {
		if !strings.Contains(broken[0].Err.Error(), want) {
			t.Errorf("bad's error does not contain %q:\n%v", want, broken[0].Err)
		}
	}
}

// TestOverlapHoldsTheNewerFolderTenant: a tenant.yaml written to claim another folder
// tenant's namespace holds its own tenant, not the one that was there first.
func TestOverlapHoldsTheNewerFolderTenant(t *testing.T) {
	dir := t.TempDir()
	// "aaa" sorts first, so order alone would blame "zzz", the tenant that was there first.
	writeTenant(t, dir, "zzz", "mqtt_prefixes: [z/]\nkafka_prefixes: [z.]\nroutes: [{name: r, from: [z/#], to: {topic: z.t}}]\n")
	writeTenant(t, dir, "aaa", "mqtt_prefixes: [z/x/]\nkafka_prefixes: [a.]\nroutes: [{name: r, from: [z/x/#], to: {topic: a.t}}]\n")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "zzz", config.TenantFile), old, old); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes([]byte("plugins: {dir: testdata/plugins}\ntenants: {dir: "+dir+"}\n"), nil)
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	broken := cfg.BrokenTenants()
	if len(broken) != 1 || broken[0].Name != "aaa" || cfg.Tenant("zzz") == nil {
		t.Fatalf("BrokenTenants = %+v, want aaa held and zzz loaded", broken)
	}
	if !strings.Contains(broken[0].Err.Error(), `"z/x/" overlaps tenant zzz's "z/"`) {
		t.Errorf("aaa's error: %v", broken[0].Err)
	}
}
