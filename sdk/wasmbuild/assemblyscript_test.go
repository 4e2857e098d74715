package wasmbuild_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-gw/tributary/sdk/sdktest"
	"github.com/tributary-gw/tributary/sdk/wasmbuild"
)

func TestNPMInstall_NoLockFile(t *testing.T) {
	dir := t.TempDir()
	_, err := wasmbuild.NPMInstall(context.Background(), dir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "package-lock.json") {
		t.Fatalf("NPMInstall without a lock file: %v, want an error naming %s and package-lock.json", err, dir)
	}
}

// TestASBuild installs the SDK's pinned compiler (once per machine, in the shared cache) and
// builds a broken entry file: the error carries asc's words and names the file.
func TestASBuild(t *testing.T) {
	modules := sdktest.ASCompiler(t) // skips without node and npm, installs once
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cache, err := sdktest.NPMCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	again, err := wasmbuild.NPMInstall(ctx, sdktest.ASSDKDir(), cache)
	if err != nil || again != modules {
		t.Fatalf("second NPMInstall = %s, %v; want the cached %s", again, err, modules)
	}
	dir := t.TempDir() // a good build is what plugins/internal/e2e and pluginkit check
	if err := os.WriteFile(filepath.Join(dir, "bad.ts"), []byte("export function f(): i32 { return undefinedThing; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = wasmbuild.ASBuild(ctx, modules, dir, "bad.ts", filepath.Join(dir, "out", "bad.wasm"))
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") || !strings.Contains(err.Error(), filepath.Join(dir, "bad.ts")) {
		t.Fatalf("ASBuild of a broken entry: %v, want an error naming bad.ts and undefinedThing", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "out", ".bad.wasm.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
