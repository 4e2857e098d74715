package sdksource

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sdkDir is the repository's SDK module, relative to this package's folder.
var sdkDir = filepath.Join("..", "..", "..", "..", "sdk")

// The carried copy is the SDK as it is in the repository: regenerate it after changing sdk/.
func TestCopyMatchesSDK(t *testing.T) {
	want, err := Collect(sdkDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	var diff []string
	for name, b := range want {
		if c, ok := got[name]; !ok {
			diff = append(diff, name+" (missing from the copy)")
		} else if !bytes.Equal(c, b) {
			diff = append(diff, name+" (differs)")
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diff = append(diff, name+" (no longer in sdk/)")
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Fatalf("%s is stale: run go generate ./cmd/tributary/internal/sdksource\n  %s", ArchiveName, strings.Join(diff, "\n  "))
	}
	for _, must := range []string{"go.mod", "ABI.md", "doc.go", "abi/abi.go", "abi/module.go", "jsonfield/fields.go"} {
		if _, ok := got[must]; !ok {
			t.Errorf("the copy lacks %s", must)
		}
	}
}

func TestCarried(t *testing.T) {
	for rel, want := range map[string]bool{
		"go.mod": true, "ABI.md": true, "doc.go": true, "abi/abi.go": true, "sdktest/guest/main.go": true,
		"abi/abi_test.go": false, "abi/testdata/x.go": false, "c/tributary.h": false, "assemblyscript/README.md": false,
		".hidden/x.go": false, "_old/x.go": false, "x.wasm": false, "abi/go.mod": false,
	} {
		if got := Carried(rel); got != want {
			t.Errorf("Carried(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "tributary-sdk")
	names, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := Files()
	if len(names) != len(files) || !slices.IsSorted(names) {
		t.Fatalf("Write returned %d names (sorted %v), want the %d carried", len(names), slices.IsSorted(names), len(files))
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil || !bytes.Equal(b, files[n]) {
			t.Fatalf("%s written wrongly: %v", n, err)
		}
	}
	if _, err := Write(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Write: %v, want an error naming %s", err, dir)
	}
	v, err := GoVersion()
	if err != nil || v == "" || !strings.Contains(string(files["go.mod"]), "\ngo "+v+"\n") {
		t.Fatalf("GoVersion() = %q, %v", v, err)
	}
	if !strings.HasPrefix(string(files["go.mod"]), "module "+Module+"\n") {
		t.Fatalf("carried go.mod does not declare %s", Module)
	}
}

func TestUnpackRejects(t *testing.T) {
	if _, err := Unpack([]byte("not gzip")); err == nil {
		t.Fatal("Unpack accepted garbage")
	}
}
