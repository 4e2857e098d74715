package devrun

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNewTokenIsAcceptedAndFresh(t *testing.T) {
	a, b := newToken(), newToken()
	if err := checkToken(a); err != nil {
		t.Errorf("checkToken(newToken()) = %v", err)
	}
	if a == b {
		t.Errorf("two sessions got the same token %q", a)
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789 abcdef"} {
		if checkToken(bad) == nil {
			t.Errorf("checkToken(%q) = nil, want an error", bad)
		}
	}
}

// TestSessionPlugins checks the session's plugin folder is a copy: writing there (as an
// upload through the admin API does) leaves the built plugins alone.
func TestSessionPlugins(t *testing.T) {
	cache := t.TempDir()
	built := filepath.Join(cache, "units.wasm")
	if err := os.WriteFile(built, []byte("built"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := sessionPlugins(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	got, err := os.ReadFile(filepath.Join(dir, "units.wasm"))
	if err != nil || string(got) != "built" {
		t.Fatalf("session copy = %q, %v; want the built module", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "units.wasm"), []byte("uploaded"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(built); string(b) != "built" {
		t.Errorf("an upload to the session changed the built module to %q", b)
	}
}
