package gateway

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPluginStores_OnePerFolder: every spelling of a folder gets the same store (so the same
// change lock), a missing folder is made only on request, and a change lock held elsewhere
// makes lock give up with a 503 error once the context is done.
func TestPluginStores_OnePerFolder(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	var s pluginStores
	if _, err := s.get("acme", false); err == nil {
		t.Fatal("get of a missing folder without create succeeded")
	}
	a, err := s.get("acme", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "acme")); err != nil {
		t.Fatalf("folder not made: %v", err)
	}
	for _, spelling := range []string{"acme/", "./acme", filepath.Join(root, "acme"), filepath.Join(root, "x", "..", "acme")} {
		b, err := s.get(spelling, false)
		if err != nil || b != a {
			t.Fatalf("get(%q) = %p, %v; want the store of acme, %p", spelling, b, err, a)
		}
	}
	if other, _ := s.get("globex", true); other == a {
		t.Fatal("two folders share a store")
	}

	if err := a.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = a.lock(ctx)
	var hs interface{ HTTPStatus() int }
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &hs) || hs.HTTPStatus() != http.StatusServiceUnavailable {
		t.Fatalf("lock while held = %v, want a 503 error wrapping the deadline", err)
	}
	a.unlock()
	if err := a.lock(context.Background()); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	a.unlock()
}
