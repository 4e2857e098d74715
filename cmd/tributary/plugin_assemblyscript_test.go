package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/pluginkit"
)

// TestPluginNew_AssemblyScript checks what `plugin new --lang assemblyscript` prints and
// writes; pluginkit's TestNew_AssemblyScriptBuildsAndRuns builds and runs the result.
func TestPluginNew_AssemblyScript(t *testing.T) {
	tmp := t.TempDir()
	code, out, errOut := runPlugin(t, "new", "to-f", "--lang", "assemblyscript", "--dir", tmp)
	if code != 0 {
		t.Fatalf("plugin new: exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(tmp, "to-f")
	compiler, err := pluginkit.ASCompilerVersion()
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "plugin new output", out,
		"created AssemblyScript plugin to-f in "+dir, filepath.Join(dir, "assembly", "index.ts"),
		filepath.Join(dir, "tributary-sdk")+string(filepath.Separator), `"@tributary-gw/sdk": "file:tributary-sdk"`,
		"  cd "+dir+"\n", "  npm install ", "the AssemblyScript compiler "+compiler, "  npm run build ",
		"  tributary plugin test ../to-f.wasm --input testdata/input.jsonl --config '{\"field\":\"temp\",\"unit\":\"F\"}'\n")
	for _, f := range []string{"package.json", "assembly/index.ts", "testdata/input.jsonl", "tributary-sdk/assembly/exports.ts"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Error(err)
		}
	}
	if code, _, errOut := runPlugin(t, "new", "x", "--lang", "rust", "--dir", tmp); code != 2 || !strings.Contains(errOut, `--lang "rust"`) {
		t.Errorf("plugin new --lang rust: exit %d, stderr %q; want 2 naming the flag", code, errOut)
	}
}

func TestPluginBuild_AssemblyScriptFolder(t *testing.T) {
	tmp := t.TempDir()
	if code, out, errOut := runPlugin(t, "new", "to-f", "--lang", "assemblyscript", "--dir", tmp); code != 0 {
		t.Fatalf("plugin new: exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(tmp, "to-f")
	code, _, errOut := runPlugin(t, "build", dir)
	if code != 1 {
		t.Fatalf("plugin build of an AssemblyScript folder: exit %d, want 1; stderr:\n%s", code, errOut)
	}
	wantContains(t, "stderr", errOut, "AssemblyScript plugin", "npm run build", "../to-f.wasm")
}
