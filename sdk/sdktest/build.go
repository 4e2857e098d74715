package sdktest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
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
// The go command is $GOROOT/bin/go of the running toolchain when present,
// else the first go on PATH.
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
	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	out := filepath.Join(tmpDir, fmt.Sprintf("%s-%d.wasm", filepath.Base(dir), n))
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building guest %s: %v\n%s", dir, err, output.Bytes())
	}
	return out, nil
}

func goCommand() (string, error) {
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command not found in GOROOT or PATH: %w", err)
	}
	return p, nil
}
