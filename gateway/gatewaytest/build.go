package gatewaytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds caches BuildBinary results for the life of the test binary.
var builds struct {
	mu   sync.Mutex
	dir  string
	seq  int
	byID map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds the main package pkg of this module (a path relative to
// the module root such as "./cmd/tributary", or a full import path) with go
// build and extra flags (such as "-race"), and returns the executable's path.
// The build runs once per test binary for each (pkg, flags); later calls
// return the same file, and a failed build fails every caller with the
// compiler's output. Binaries live in one temp dir for the life of the test
// binary; call [RemoveBuilds] from TestMain to delete it.
func BuildBinary(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	id := pkg + "\x00" + strings.Join(flags, "\x00")
	builds.mu.Lock()
	if builds.byID == nil {
		builds.byID = make(map[string]*build)
	}
	b := builds.byID[id]
	if b == nil {
		b = &build{}
		builds.byID[id] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg, flags) })
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.path
}

func goBuild(pkg string, flags []string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	builds.mu.Lock()
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "gatewaytest-bin-"); err != nil {
			builds.mu.Unlock()
			return "", fmt.Errorf("temp dir: %w", err)
		}
	}
	dir := builds.dir
	builds.seq++
	n := builds.seq
	builds.mu.Unlock()
	out := filepath.Join(dir, fmt.Sprintf("%s-%d", filepath.Base(pkg), n))
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, output.Bytes())
	}
	return out, nil
}

// RemoveBuilds deletes the binaries built by [BuildBinary]. Call it from
// TestMain after m.Run; later BuildBinary calls in the same process fail.
func RemoveBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
}

var moduleRoot struct {
	once sync.Once
	dir  string
	err  error
}

// ModuleRoot returns the directory holding this module's go.mod, found with
// `go env GOMOD` from the current directory (a test runs in its package's
// directory).
func ModuleRoot() (string, error) {
	moduleRoot.once.Do(func() {
		out, err := exec.Command(goTool(), "env", "GOMOD").Output()
		if err != nil {
			moduleRoot.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			moduleRoot.err = errors.New("go env GOMOD: not inside a module")
			return
		}
		moduleRoot.dir = filepath.Dir(gomod)
	})
	return moduleRoot.dir, moduleRoot.err
}

// goTool returns the go command: `go test` puts its own GOROOT/bin first on
// PATH, so this is the toolchain running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}
