package pluginkit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/sdksource"
	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/sdk/wasmbuild"
	"github.com/tributary-gw/tributary/wasmhost"
)

var updateASSDK = flag.Bool("update-as-sdk", false, "rewrite the embedded copy of sdk/assemblyscript (go generate does this)")

// asSDKSource returns sdk/assemblyscript, found from this file's location.
func asSDKSource(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "sdk", "assemblyscript")
}

// asSDKFiles returns the files of the SDK that plugins need, relative to dir, with contents:
// package.json, README.md and assembly/*.ts.
func asSDKFiles(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	names, err := fs.Glob(fsys, "assembly/*.ts")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(names, "package.json", "README.md") {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

// TestAssemblyScriptSDKCopy fails when the embedded copy of the AssemblyScript SDK differs
// from sdk/assemblyscript; go generate (or -update-as-sdk) rewrites it.
func TestAssemblyScriptSDKCopy(t *testing.T) {
	src := asSDKSource(t)
	want := asSDKFiles(t, os.DirFS(src))
	archive := filepath.Join("assemblyscript", "sdk.tar.gz")
	var got map[string][]byte
	if *updateASSDK {
		b, err := sdksource.PackFiles(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(archive, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// The embedded archive is the old one until the next build: read the new one back.
		if got, err = sdksource.Unpack(b); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if got, err = asSDK(); err != nil {
			t.Fatal(err)
		}
	}
	var gotNames, wantNames []string
	for n := range got {
		gotNames = append(gotNames, n)
	}
	for n := range want {
		wantNames = append(wantNames, n)
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Fatalf("embedded AssemblyScript SDK has %v, %s has %v: run go generate ./cmd/tributary/internal/pluginkit", gotNames, src, wantNames)
	}
	for n, b := range want {
		if !bytes.Equal(got[n], b) {
			t.Errorf("embedded AssemblyScript SDK: %s differs from %s: run go generate ./cmd/tributary/internal/pluginkit", n, filepath.Join(src, n))
		}
	}
}

func TestNew_AssemblyScript(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "plugins")
	c, err := New(NewOptions{Name: "to-f", Parent: parent, Lang: LangAssemblyScript})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "to-f")
	for _, f := range []string{"package.json", "assembly/index.ts", "README.md", "testdata/input.jsonl", ".gitignore", "tributary-sdk/package.json", "tributary-sdk/assembly/index.ts", "tributary-sdk/assembly/exports.ts"} {
		if !slices.Contains(c.Files, f) {
			t.Errorf("Files %v lacks %s", c.Files, f)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Error(err)
		}
	}
	var pkg struct {
		Name            string            `json:"name"`
		Scripts         map[string]string `json:"scripts"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("package.json: %v\n%s", err, raw)
	}
	compiler, err := ASCompilerVersion()
	if err != nil {
		t.Fatal(err)
	}
	wantBuild := "asc assembly/index.ts -o ../to-f.wasm " + strings.Join(wasmbuild.ASFlags(ASAbortHandler), " ")
	if pkg.Name != "to-f" || pkg.Scripts["build"] != wantBuild || pkg.DevDependencies["assemblyscript"] != compiler ||
		pkg.DevDependencies["@tributary-gw/sdk"] != "file:"+ASSDKFolder {
		t.Fatalf("package.json = %+v, want name to-f, build %q, assemblyscript %s, the SDK from file:%s", pkg, wantBuild, compiler, ASSDKFolder)
	}
	if _, err := New(NewOptions{Name: "to-f", Parent: parent, Lang: LangAssemblyScript}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second New = %v, want already exists", err)
	}
	if _, err := New(NewOptions{Name: "x", Parent: parent, Lang: "rust"}); err == nil || !strings.Contains(err.Error(), `"rust"`) {
		t.Fatalf("New with lang rust = %v, want an error naming it", err)
	}
}

// TestNew_AssemblyScriptBuildsAndRuns builds a new AssemblyScript plugin as its package.json
// does (asc and flags from the scripts, the SDK resolved from node_modules/@tributary-gw/sdk)
// with the compiler sdktest installs once per machine instead of npm install (no network), and
// runs its testdata through Test: the sample converts, passes, rejects as its README says.
func TestNew_AssemblyScriptBuildsAndRuns(t *testing.T) {
	modules := sdktest.ASCompiler(t) // skips without node and npm, installs once
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	parent := t.TempDir()
	if _, err := New(NewOptions{Name: "to-f", Parent: parent, Lang: LangAssemblyScript}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "to-f")
	// What npm install would make: the compiler and the SDK (a link to tributary-sdk).
	nm := filepath.Join(dir, "node_modules")
	if err := os.MkdirAll(filepath.Join(nm, "@tributary-gw"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		filepath.Join(nm, "assemblyscript"):       filepath.Join(modules, "assemblyscript"),
		filepath.Join(nm, "binaryen"):             filepath.Join(modules, "binaryen"),
		filepath.Join(nm, "long"):                 filepath.Join(modules, "long"),
		filepath.Join(nm, "@tributary-gw", "sdk"): filepath.Join("..", "..", ASSDKFolder),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(parent, "to-f.wasm")
	if err := wasmbuild.ASBuild(ctx, modules, dir, "assembly/index.ts", out, wasmbuild.ASFlags(ASAbortHandler)...); err != nil {
		t.Fatal(err)
	}
	host := newHost(t)
	p, err := Load(ctx, host, out, wasmhost.ModuleLimits{})
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := ReadInputFile(filepath.Join(dir, "testdata", "input.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Test(ctx, host, p, inputs, TestOptions{Config: []byte(`{"field":"temp","unit":"F"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	rep.Print(&printed)
	for _, want := range []string{`{"temp":70.7}`, `{"temp":24.8}`, `{"rh":41}`, "unit=F", "field temp: want a number", "payload is not JSON"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("plugin test output lacks %q:\n%s", want, printed.String())
		}
	}
	if rep.Outputs != 3 || rep.DeadLetters != 2 {
		t.Errorf("outputs %d, dead letters %d; want 3 and 2:\n%s", rep.Outputs, rep.DeadLetters, printed.String())
	}
}
