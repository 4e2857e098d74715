package plugins

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The carried files are the plugin folders' non-test .go files, byte for byte.
func TestSource(t *testing.T) {
	if got, want := Names(), []string{"filter", "topic-fields", "units"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	for _, name := range Names() {
		files := Source(name)
		disk, _ := filepath.Glob(filepath.Join(name, "*.go"))
		n := 0
		for _, p := range disk {
			if filepath.Ext(p) == ".go" && !bytes.HasSuffix([]byte(p), []byte("_test.go")) {
				n++
				b, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(files[filepath.Base(p)], b) {
					t.Errorf("%s: carried copy differs or missing (%v)", p, err)
				}
			}
		}
		if n == 0 || len(files) != n {
			t.Errorf("plugin %s: %d files carried, %d non-test .go files on disk", name, len(files), n)
		}
	}
	if Source("sparkplug") != nil || Source("nope") != nil {
		t.Error("Source returned files of a plugin not carried")
	}
}
