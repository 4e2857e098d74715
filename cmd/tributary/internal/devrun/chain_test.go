package devrun

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/wasmhost/wasmtest"
)

func TestChainPlugins(t *testing.T) {
	if got, want := chainPlugins(), []string{"filter", "topic-fields", "units"}; !slices.Equal(got, want) {
		t.Fatalf("chainPlugins() = %q, want %q", got, want)
	}
}

func TestFirstPartySource(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{filepath.Join(a, "plugins", "only-a"), filepath.Join(b, "plugins", "only-b"),
		filepath.Join(a, "plugins", "both"), filepath.Join(b, "plugins", "both"), filepath.Join(a, "plugins", "no-go")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(dir) != "no-go" {
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct{ name, want string }{
		{"only-a", filepath.Join(a, "plugins", "only-a")},
		{"only-b", filepath.Join(b, "plugins", "only-b")},
		{"both", filepath.Join(a, "plugins", "both")},
		{"no-go", ""},
		{"absent", ""},
	}
	for _, tc := range tests {
		if got := firstPartySource(tc.name, "", a, b); got != tc.want {
			t.Errorf("firstPartySource(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

var (
	pluginCacheOnce sync.Once
	pluginCacheDir  string
	pluginCacheErr  error
)

// testPluginCache returns a plugin cache shared by this test binary's Run calls, so the
// example's first-party plugins are built once rather than into the user's cache folder.
// TestMain removes it.
func testPluginCache(t *testing.T) string {
	t.Helper()
	pluginCacheOnce.Do(func() { pluginCacheDir, pluginCacheErr = os.MkdirTemp("", "tributary-devrun-plugins-") })
	if pluginCacheErr != nil {
		t.Fatal(pluginCacheErr)
	}
	return pluginCacheDir
}

// loadSharingCompiles is config.LoadBytes with plugins.cache_dir set to the compile cache test
// binaries share (wasmtest.CompileCacheDir), so the example's plugins are compiled once per
// machine rather than once per test.
func loadSharingCompiles(b []byte, env []string) (*config.Config, error) {
	cfg, err := config.LoadBytes(b, env)
	if err == nil && cfg.Plugins.CacheDir == "" {
		if dir, derr := wasmtest.CompileCacheDir(); derr == nil {
			cfg.Plugins.CacheDir = dir
		}
	}
	return cfg, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginCacheDir != "" {
		_ = os.RemoveAll(pluginCacheDir)
	}
	os.Exit(code)
}
