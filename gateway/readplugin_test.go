//go:build unix

package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/gateway/internal/regularfile"
)

// TestReadPlugin_TenantFolderConfined: a tenant's plugin file that is a symbolic link to
// another tenant's plugin is refused, naming the file; a link inside the tenant's folder is
// followed, and the operator's plugins.dir (not confined) may link anywhere.
func TestReadPlugin_TenantFolderConfined(t *testing.T) {
	base := t.TempDir()
	acme, other, shared := filepath.Join(base, "acme"), filepath.Join(base, "other"), filepath.Join(base, "plugins")
	for _, d := range []string{filepath.Join(acme, "..data"), other, shared} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(other, "units.wasm"), filepath.Join(acme, "..data", "mine.wasm")} {
		if err := os.WriteFile(f, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(acme, "units.wasm"):   filepath.Join(other, "units.wasm"),
		filepath.Join(acme, "mine.wasm"):    filepath.Join("..data", "mine.wasm"),
		filepath.Join(shared, "units.wasm"): filepath.Join(other, "units.wasm"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	lim := ModuleLimits(config.Default().Plugins.Limits)
	_, err := readPlugin(filepath.Join(acme, "units.wasm"), acme, lim)
	var esc *regularfile.EscapeError
	if !errors.As(err, &esc) || esc.Path != filepath.Join(acme, "units.wasm") {
		t.Errorf("tenant plugin linked to another tenant's: %v, want an EscapeError naming it", err)
	}
	if _, err := readPlugin(filepath.Join(acme, "mine.wasm"), acme, lim); err != nil {
		t.Errorf("tenant plugin linked inside its folder: %v", err)
	}
	if _, err := readPlugin(filepath.Join(shared, "units.wasm"), "", lim); err != nil {
		t.Errorf("plugins.dir link: %v", err)
	}
	// A tenant stage that falls back to plugins.dir is not confined to the tenant's folder.
	if _, err := readPlugin(filepath.Join(shared, "units.wasm"), acme, lim); err != nil {
		t.Errorf("tenant stage from plugins.dir: %v", err)
	}
}
