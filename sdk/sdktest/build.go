package sdktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-gw/tributary/sdk/wasmbuild"
)

type build struct {
	n    int // names the output file
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
	tmpOnce  sync.Once
	tmpDir   string
	tmpErr   error
)

// Build compiles the Go guest package in dir with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and returns the path of the .wasm file. Each directory
// is built once per test binary (concurrent callers wait for the one build)
// into a directory from os.MkdirTemp that outlives single tests; call
// [Cleanup] from TestMain to remove it, or leave it to the OS's temp
// cleaning. On a failed build Build fails the test with the compiler output.
//
// The build is [wasmbuild.GoBuild], with the first go on PATH (go test puts
// the running toolchain's first).
func Build(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("sdktest: guest dir %q: %v", dir, err)
	}
	buildsMu.Lock()
	b, ok := builds[abs]
	if !ok {
		b = &build{n: len(builds)}
		builds[abs] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = compile(abs, b.n) })
	if b.err != nil {
		t.Fatalf("sdktest: %v", b.err)
	}
	return b.path
}

// BuildConformanceGuest builds the conformance guest in sdk/sdktest/guest
// (see [Build]) and returns the .wasm path.
func BuildConformanceGuest(t testing.TB) string {
	t.Helper()
	return Build(t, GuestDir())
}

// GuestDir returns the directory of the conformance guest's source, found
// next to this package's source file.
func GuestDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "guest")
}

// RequireClangEnv names the environment variable that turns missing clang or wasm-ld from a
// skip into a test failure in [BuildC]. CI sets it to 1.
const RequireClangEnv = "TRIBUTARY_REQUIRE_CLANG"

// BuildC compiles the C guest source file src with [wasmbuild.CBuild] against
// sdk/c/tributary.h, adding flags, into the test's temp dir and returns the .wasm bytes.
// Without clang and wasm-ld the test is skipped with install instructions, or fails when
// TRIBUTARY_REQUIRE_CLANG=1; a failed build fails the test with the compiler output.
func BuildC(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	if err := wasmbuild.CToolsMissing(); err != nil {
		if os.Getenv(RequireClangEnv) == "1" {
			t.Fatalf("sdktest: %v (%s=1)", err, RequireClangEnv)
		}
		t.Skipf("sdktest: %v; set %s=1 to fail instead of skipping", err, RequireClangEnv)
	}
	_, file, _, _ := runtime.Caller(0)
	include := filepath.Join(filepath.Dir(file), "..", "c")
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c")+".wasm")
	if err := wasmbuild.CBuild(context.Background(), src, out, include, flags...); err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// Cleanup removes the directory Build writes into. Call it from TestMain
// after m.Run; later Build calls in the same process fail.
func Cleanup() {
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
}

func compile(dir string, n int) (string, error) {
	tmpOnce.Do(func() { tmpDir, tmpErr = os.MkdirTemp("", "tributary-sdktest-") })
	if tmpErr != nil {
		return "", fmt.Errorf("temp dir for guests: %w", tmpErr)
	}
	out := filepath.Join(tmpDir, fmt.Sprintf("%s-%d.wasm", filepath.Base(dir), n))
	if err := wasmbuild.GoBuild(context.Background(), dir, out); err != nil {
		return "", err
	}
	return out, nil
}

// RequireNodeEnv names the environment variable that turns missing node or npm from a skip
// into a test failure in [BuildAS]. CI sets it to 1.
const RequireNodeEnv = "TRIBUTARY_REQUIRE_NODE"

type asBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	asMu      sync.Mutex
	asBuilds  = map[string]*asBuild{}
	npmOnce   sync.Once
	npmModDir string
	npmErr    error
)

// NPMCacheDir returns the folder where [BuildAS] keeps the AssemblyScript compiler installed
// from sdk/assemblyscript/package-lock.json, shared by every test binary of this user on this
// machine (beside wasmhost/wasmtest.CompileCacheDir), so npm ci runs once per lock file and
// machine rather than once per test. It creates the folder on first use.
//
// The folder must be this user's alone (mode 0700): the compiler in it runs. When it is not,
// or cannot be made, NPMCacheDir returns an error.
func NPMCacheDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tributary-test-npm-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ownedByMe(fi) {
		return "", fmt.Errorf("%s is not a directory of mode 0700 owned by this user: remove it", dir)
	}
	return dir, nil
}

// ASSDKDir returns the directory of the AssemblyScript SDK, sdk/assemblyscript.
func ASSDKDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "assemblyscript")
}

// BuildAS compiles the AssemblyScript guest entry (a .ts file inside this repository that
// imports the SDK in sdk/assemblyscript by relative path) with [wasmbuild.ASBuild] and
// [wasmbuild.ASFlags] and returns the .wasm bytes. The compiler is installed once per machine
// with npm ci into [NPMCacheDir]; each entry is built once per test binary. Without node and
// npm the test is skipped with install instructions, or fails when TRIBUTARY_REQUIRE_NODE=1;
// a failed build fails the test with the compiler output.
func BuildAS(t testing.TB, entry string) []byte {
	t.Helper()
	ASCompiler(t)
	abs, err := filepath.Abs(entry)
	if err != nil {
		t.Fatalf("sdktest: guest %q: %v", entry, err)
	}
	asMu.Lock()
	b, ok := asBuilds[abs]
	if !ok {
		b = &asBuild{}
		asBuilds[abs] = b
	}
	asMu.Unlock()
	b.once.Do(func() { b.wasm, b.err = compileAS(abs) })
	if b.err != nil {
		t.Fatalf("sdktest: %v", b.err)
	}
	return b.wasm
}

// ASCompiler returns the node_modules folder holding the AssemblyScript compiler the SDK pins
// (sdk/assemblyscript/package-lock.json), installed with npm ci once per machine into
// [NPMCacheDir] and once per test binary looked up. Without node and npm the test is skipped
// with install instructions, or fails when TRIBUTARY_REQUIRE_NODE=1; a failed install fails
// the test.
func ASCompiler(t testing.TB) string {
	t.Helper()
	if err := wasmbuild.ASToolsMissing(); err != nil {
		if os.Getenv(RequireNodeEnv) == "1" {
			t.Fatalf("sdktest: %v (%s=1)", err, RequireNodeEnv)
		}
		t.Skipf("sdktest: %v; set %s=1 to fail instead of skipping", err, RequireNodeEnv)
	}
	dir, err := npmModules()
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return dir
}

// npmModules installs the SDK's pinned compiler once per test binary (see ASCompiler).
func npmModules() (string, error) {
	npmOnce.Do(func() {
		var cache string
		if cache, npmErr = NPMCacheDir(); npmErr == nil {
			npmModDir, npmErr = wasmbuild.NPMInstall(context.Background(), ASSDKDir(), cache)
		}
	})
	return npmModDir, npmErr
}

func compileAS(entry string) ([]byte, error) {
	ctx := context.Background()
	sdk := ASSDKDir()
	if _, err := npmModules(); err != nil {
		return nil, err
	}
	// asc runs in the repository root, so the SDK's abort handler has a fixed internal name.
	root := filepath.Clean(filepath.Join(sdk, "..", ".."))
	rel, err := filepath.Rel(root, entry)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("AssemblyScript guest %s is not inside the repository %s", entry, root)
	}
	tmp, err := os.MkdirTemp("", "tributary-as-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "guest.wasm")
	flags := wasmbuild.ASFlags("sdk/assemblyscript/assembly/log/abortHandler")
	if err := wasmbuild.ASBuild(ctx, npmModDir, root, filepath.ToSlash(rel), out, flags...); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}
