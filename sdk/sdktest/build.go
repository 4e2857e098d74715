package sdktest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
