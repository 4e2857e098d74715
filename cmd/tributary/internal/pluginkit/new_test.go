package pluginkit

import (
	"bytes"
	"go/format"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
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
	checkout := t.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module "+TributaryModule+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "plugins")
	tests := []struct {
		name          string
		parent        string
		module        string
		wantGoMod     string // module line written; "" for no go.mod
		wantEnclosing string
		wantSDK       bool   // the SDK's source written into demo/tributary-sdk
		wantReady     bool   // builds as created
		wantWasm      string // Created.Wasm
		wantStep      string // in NextSteps
	}{
		{name: "outside a module", parent: outside, wantGoMod: "demo", wantSDK: true, wantReady: true,
			wantWasm: filepath.Join(outside, "demo.wasm"), wantStep: "tributary plugin build ."},
		{name: "outside a module with --module", parent: t.TempDir(), module: "example.com/demo", wantGoMod: "example.com/demo", wantSDK: true, wantReady: true},
		{name: "inside a module", parent: filepath.Join(inModule, "plugins"), wantEnclosing: "example.com/mine", wantSDK: true,
			wantStep: "go mod edit -require=github.com/tributary-gw/tributary/sdk@" + sdksource.Version + " -replace=github.com/tributary-gw/tributary/sdk=./plugins/demo/tributary-sdk ../../go.mod"},
		{name: "inside a module with --module", parent: filepath.Join(inModule, "nested"), module: "example.com/own", wantGoMod: "example.com/own", wantSDK: true, wantReady: true},
		{name: "inside the tributary checkout", parent: filepath.Join(checkout, "plugins"), wantEnclosing: TributaryModule, wantReady: true,
			wantWasm: filepath.Join(checkout, "build", "plugins", "demo.wasm"), wantStep: "tributary plugin test ../../build/plugins/demo.wasm"},
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
			if c.GoMod != tc.wantGoMod || c.Enclosing != tc.wantEnclosing || c.Ready() != tc.wantReady {
				t.Fatalf("GoMod %q, Enclosing %q, Ready %v; want %q, %q, %v", c.GoMod, c.Enclosing, c.Ready(), tc.wantGoMod, tc.wantEnclosing, tc.wantReady)
			}
			if tc.wantWasm != "" && c.Wasm != tc.wantWasm {
				t.Errorf("Wasm = %s, want %s", c.Wasm, tc.wantWasm)
			}
			sdkFiles, _ := sdksource.Names()
			if tc.wantSDK {
				if !slices.Equal(c.SDKFiles, sdkFiles) || c.SDKDir() != filepath.Join(c.Dir, SDKFolder) {
					t.Errorf("SDK files %v in %q, want the %d carried ones", c.SDKFiles, c.SDKDir(), len(sdkFiles))
				}
				if _, err := os.Stat(filepath.Join(c.Dir, SDKFolder, "go.mod")); err != nil {
					t.Error(err)
				}
			} else if c.SDKDir() != "" || len(c.SDKFiles) != 0 {
				t.Errorf("SDK written into %s inside the tributary module", c.SDKDir())
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
				goLine, _ := sdksource.GoVersion()
				for _, line := range []string{"module " + tc.wantGoMod + "\n\ngo " + goLine + "\n",
					"\nrequire github.com/tributary-gw/tributary/sdk " + sdksource.Version + "\n",
					"\nreplace github.com/tributary-gw/tributary/sdk => ./tributary-sdk\n"} {
					if !strings.Contains(string(b), line) {
						t.Errorf("go.mod lacks %q:\n%s", line, b)
					}
				}
			}
			var steps []string
			for _, st := range c.NextSteps("tributary") {
				steps = append(steps, st.Command)
			}
			if steps[0] != "cd "+c.Dir || tc.wantStep != "" && !strings.Contains(strings.Join(steps, "\n"), tc.wantStep) {
				t.Errorf("next steps\n%s\nwant cd %s first and a step with %q", strings.Join(steps, "\n"), c.Dir, tc.wantStep)
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

func TestDefaultOutput(t *testing.T) {
	checkout := t.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module "+TributaryModule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	tests := []struct{ src, want string }{
		{filepath.Join(other, "plugins", "x"), filepath.Join(other, "plugins", "x.wasm")},
		{filepath.Join(checkout, "plugins", "x"), filepath.Join(checkout, "build", "plugins", "x.wasm")},
		{filepath.Join(checkout, "examples", "y"), filepath.Join(checkout, "build", "plugins", "y.wasm")},
	}
	for _, tc := range tests {
		if got, err := DefaultOutput(tc.src); err != nil || got != tc.want {
			t.Errorf("DefaultOutput(%s) = %s, %v; want %s", tc.src, got, err, tc.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"plugins/x": "plugins/x", "a b": "'a b'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
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
