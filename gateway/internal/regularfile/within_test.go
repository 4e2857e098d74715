//go:build unix

package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReadIn: links that stay in the folder are followed (a Kubernetes ConfigMap mount),
// links and paths that leave it are an EscapeError, whether the target exists or not.
func TestReadIn(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "acme")
	for _, d := range []string{filepath.Join(dir, "..2026_12_07"), filepath.Join(base, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "..2026_12_07", "tenant.yaml"), "name: acme\n")
	write(filepath.Join(base, "other", "units.wasm"), "other's plugin")
	links := map[string]string{
		"..data":      "..2026_12_07",
		"tenant.yaml": filepath.Join("..data", "tenant.yaml"),
		"units.wasm":  filepath.Join("..", "other", "units.wasm"),
		"abs.wasm":    filepath.Join(base, "other", "units.wasm"),
		"gone.wasm":   filepath.Join(base, "other", "missing.wasm"),
		"sub":         filepath.Join(base, "other"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := ReadIn(dir, "tenant.yaml", 64); err != nil || string(b) != "name: acme\n" {
		t.Fatalf("ReadIn(ConfigMap link) = %q, %v", b, err)
	}
	for _, name := range []string{"units.wasm", "abs.wasm", "gone.wasm", filepath.Join("sub", "units.wasm"), filepath.Join("..", "other", "units.wasm")} {
		_, err := ReadIn(dir, name, 64)
		var esc *EscapeError
		if !errors.As(err, &esc) || esc.Dir != dir {
			t.Errorf("ReadIn(%s) = %v, want an EscapeError naming %s", name, err, dir)
		}
	}
}
