package tenants_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestExampleLoads loads the example the way `tributary run` does (strict: unknown keys,
// namespace violations and missing plugin files are errors), with plugins.dir pointing at
// empty stand-ins for the shared plugins and token files written by the test.
func TestExampleLoads(t *testing.T) {
	plugins := t.TempDir()
	for _, name := range []string{"units", "filter"} {
		if err := os.WriteFile(filepath.Join(plugins, name+".wasm"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The tenant files name /run/secrets/...; point them at test files instead by copying
	// the tenants folder with the paths replaced.
	tenants := t.TempDir()
	for _, name := range []string{"acme", "globex"} {
		doc, err := os.ReadFile(filepath.Join("tenants", name, config.TenantFile))
		if err != nil {
			t.Fatal(err)
		}
		secret := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(secret, []byte(name+"-example-token-0123456789\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		doc = []byte(strings.ReplaceAll(string(doc), "/run/secrets/"+name+"-admin", secret))
		if err := os.MkdirAll(filepath.Join(tenants, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tenants, name, config.TenantFile), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load("tributary.yaml", []string{
		"TRIBUTARY_PLUGINS__DIR=" + plugins, "TRIBUTARY_TENANTS__DIR=" + tenants,
		"TRIBUTARY_ADMIN__TOKEN=operator-example-token-0123456789",
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	got := map[string]config.Tenant{}
	for _, tn := range cfg.AllTenants() {
		got[tn.Name] = tn
	}
	if len(got) != 2 || got["acme"].Limits.MessagesPerSecond != 2000 || got["globex"].Routes[0].DeadLetter != "globex.meters_dlq" {
		t.Fatalf("tenants = %+v", got)
	}
	if got["acme"].AdminToken.Value() != "acme-example-token-0123456789" {
		t.Errorf("acme's admin token was not read from its file")
	}
}
