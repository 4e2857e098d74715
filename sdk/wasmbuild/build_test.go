package wasmbuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "hello")
	writeFile(t, filepath.Join(src, "go.mod"), "module example.com/hello\n\ngo 1.24\n")
	writeFile(t, filepath.Join(src, "main.go"), "package main\n\n//go:wasmexport hello_answer\nfunc answer() int32 { return 42 }\n\nfunc main() {}\n")
	out := filepath.Join(dir, "cache", "hello.wasm")

	var progress bytes.Buffer
	built, err := Build(ctx, src, out, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !built || !strings.Contains(progress.String(), "building plugin hello from "+src) {
		t.Fatalf("built = %v, progress %q; want a build with a progress line", built, progress.String())
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("%s does not start with the wasm magic", out)
	}

	progress.Reset()
	if built, err := Build(ctx, src, out, &progress); err != nil || built || progress.Len() != 0 {
		t.Fatalf("second Build: built = %v, err = %v, progress %q; want nothing to do", built, err, progress.String())
	}

	// A source file newer than the module makes it stale.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "main.go"), future, future); err != nil {
		t.Fatal(err)
	}
	if stale, err := Stale(src, out); err != nil || !stale {
		t.Fatalf("Stale after touching main.go = %v, %v; want true", stale, err)
	}

	// A broken source is an error carrying the compiler's words, and leaves the old module.
	writeFile(t, filepath.Join(src, "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	if err := os.Chtimes(filepath.Join(src, "main.go"), future, future); err != nil {
		t.Fatal(err)
	}
	_, err = Build(ctx, src, out, &progress)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") || !strings.Contains(err.Error(), src) {
		t.Fatalf("Build of a broken plugin: err = %v, want one naming %s and undefinedThing", err, src)
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, wasm) {
		t.Error("a failed build replaced the previous module")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "cache", ".hello.wasm.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestStale_Errors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name, src, wantErr string
	}{
		{name: "missing folder", src: filepath.Join(empty, "nope"), wantErr: "nope"},
		{name: "no go files", src: empty, wantErr: "no .go files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Stale(tc.src, filepath.Join(empty, "x.wasm")); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Stale(%s) error = %v, want one containing %q", tc.src, err, tc.wantErr)
			}
		})
	}
}
