//go:build unix

package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/gateway/config"
)

// TestHostileTenantFilesAreRefused: a tenant.yaml that is a named pipe (which os.ReadFile
// would wait on for ever), larger than MaxTenantFileBytes, or a symbolic link out of its
// folder (to another tenant's file) holds its own tenant with an error naming the file;
// loading returns and the other tenants load, one laid out as a Kubernetes ConfigMap mount
// (links inside the folder) among them.
func TestHostileTenantFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	writeTenant(t, dir, "good", "mqtt_prefixes: [g/]\nkafka_prefixes: [g.]\nroutes: [{name: r, from: [g/#], to: {topic: g.t}}]\n")
	if err := os.MkdirAll(filepath.Join(dir, "pipe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe", config.TenantFile), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	writeTenant(t, dir, "huge", "mqtt_prefixes: [h/]\n#"+strings.Repeat("x", config.MaxTenantFileBytes)+"\n")
	link := filepath.Join(dir, "link")
	if err := os.MkdirAll(link, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "good", config.TenantFile), filepath.Join(link, config.TenantFile)); err != nil {
		t.Fatal(err)
	}
	// A ConfigMap mount: tenant.yaml -> ..data/tenant.yaml, ..data -> ..2026_12_07_01
	cm := filepath.Join(dir, "cm")
	if err := os.MkdirAll(filepath.Join(cm, "..2026_12_07_01"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cm, "..2026_12_07_01", config.TenantFile),
		[]byte("mqtt_prefixes: [c/]\nkafka_prefixes: [c.]\nroutes: [{name: r, from: [c/#], to: {topic: c.t}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for old, name := range map[string]string{"..2026_12_07_01": "..data", filepath.Join("..data", config.TenantFile): config.TenantFile} {
		if err := os.Symlink(old, filepath.Join(cm, name)); err != nil {
			t.Fatal(err)
		}
	}

	type loaded struct {
		cfg *config.Config
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		cfg, err := config.LoadBytes([]byte("plugins: {dir: testdata/plugins}\ntenants: {dir: "+dir+"}\n"), nil)
		done <- loaded{cfg, err}
	}()
	var l loaded
	select {
	case l = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("loading a tenants.dir with a named pipe as a tenant.yaml did not return")
	}
	if l.err != nil {
		t.Fatalf("LoadBytes: %v", l.err)
	}
	if l.cfg.Tenant("good") == nil || l.cfg.Tenant("cm") == nil {
		t.Fatalf("tenants = %+v, want good and cm", l.cfg.AllTenants())
	}
	want := map[string]string{"pipe": "not a regular file", "huge": "more than the 1048576 allowed",
		"link": "leads out of " + link + " through a symbolic link"}
	broken := l.cfg.BrokenTenants()
	if len(broken) != len(want) {
		t.Fatalf("BrokenTenants = %+v, want pipe, huge and link", broken)
	}
	for _, b := range broken {
		if w, ok := want[b.Name]; !ok || !strings.Contains(b.Err.Error(), w) || !strings.Contains(b.Err.Error(), b.File) {
			t.Errorf("tenant %s: %v, want an error naming %s and containing %q", b.Name, b.Err, b.File, w)
		}
	}
}
