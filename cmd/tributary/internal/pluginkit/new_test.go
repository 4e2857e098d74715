package pluginkit

import (
	"bytes"
	"go/format"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckName(t *testing.T) {
	tests := []struct{ name, wantErr string }{
		{name: "celsius"},
		{name: "unit-convert2"},
		{name: "", wantErr: "empty"},
		{name: "Celsius", wantErr: "lower-case letter"},
		{name: "2x", wantErr: "lower-case letter"},
		{name: "x_linux", wantErr: "'_'"},
		{name: "a.b", wantErr: "'.'"},
		{name: "../x", wantErr: "start with"},
		{name: strings.Repeat("a", 65), wantErr: "longer than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckName(tc.name)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CheckName(%q) = %v, want error containing %q", tc.name, err, tc.wantErr)
			}
		})
	}
}

func TestNew(t *testing.T) {
	wantFiles := []string{"main.go", "demo.go", "demo_test.go", "README.md", "testdata/input.jsonl"}
	inModule := t.TempDir()
	if err := os.WriteFile(filepath.Join(inModule, "go.mod"), []byte("// comment\nmodule example.com/mine\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		parent        string
		module        string
		wantGoMod     string // module line written; "" for no go.mod
		wantEnclosing string
	}{
		{name: "outside a module", parent: filepath.Join(t.TempDir(), "plugins"), wantGoMod: "demo"},
		{name: "outside a module with --module", parent: t.TempDir(), module: "example.com/demo", wantGoMod: "example.com/demo"},
		{name: "inside a module", parent: filepath.Join(inModule, "plugins"), wantEnclosing: "example.com/mine"},
		{name: "inside a module with --module", parent: filepath.Join(inModule, "nested"), module: "example.com/own", wantGoMod: "example.com/own"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(NewOptions{Name: "demo", Parent: tc.parent, Module: tc.module})
			if err != nil {
				t.Fatal(err)
			}
			want := wantFiles
			if tc.wantGoMod != "" {
				want = append(slices.Clone(wantFiles), "go.mod")
			}
			if !slices.Equal(c.Files, want) || c.Dir != filepath.Join(tc.parent, "demo") {
				t.Fatalf("created %s with %v, want %v", c.Dir, c.Files, want)
			}
			if c.GoMod != tc.wantGoMod || c.Enclosing != tc.wantEnclosing || c.Ready() {
				t.Fatalf("GoMod %q, Enclosing %q, Ready %v; want %q, %q, false", c.GoMod, c.Enclosing, c.Ready(), tc.wantGoMod, tc.wantEnclosing)
			}
			for _, f := range want {
				b, err := os.ReadFile(filepath.Join(c.Dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), "{{") || len(b) == 0 {
					t.Errorf("%s: empty or unrendered template", f)
				}
				if strings.HasSuffix(f, ".go") {
					if formatted, err := format.Source(b); err != nil || !bytes.Equal(formatted, b) {
						t.Errorf("%s is not gofmt-formatted (%v)", f, err)
					}
				}
			}
			if tc.wantGoMod != "" {
				b, _ := os.ReadFile(filepath.Join(c.Dir, "go.mod"))
				if !strings.HasPrefix(string(b), "module "+tc.wantGoMod+"\n\ngo ") {
					t.Errorf("go.mod = %q", b)
				}
			}
			main, _ := os.ReadFile(filepath.Join(c.Dir, "main.go"))
			if !strings.Contains(string(main), "// Command demo is a Tributary plugin") {
				t.Errorf("main.go does not name the plugin:\n%s", main)
			}

			// Never overwrite: a second New, and New over a file, fail and change nothing.
			if _, err := New(NewOptions{Name: "demo", Parent: tc.parent}); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("second New: %v, want an 'already exists' error", err)
			}
			if b, _ := os.ReadFile(filepath.Join(c.Dir, "main.go")); string(b) != string(main) {
				t.Error("second New changed main.go")
			}
		})
	}
}

func TestNew_RefusesExistingFile(t *testing.T) {
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "demo"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(NewOptions{Name: "demo", Parent: parent}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("New over a file: %v, want an 'already exists' error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "demo")); string(b) != "mine" {
		t.Fatal("New changed an existing file")
	}
	if _, err := New(NewOptions{Name: "Bad_Name", Parent: parent}); err == nil {
		t.Fatal("New accepted a bad name")
	}
}
