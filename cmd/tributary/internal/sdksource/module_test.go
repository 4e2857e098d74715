package sdksource

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSDKModule runs the SDK module's own tests. A `./...` pattern stops where the nested
// sdk/go.mod begins, so without this the README's `go test ./...` from the repository root
// would leave them out; with it, that one command is still the whole suite. They run as a
// child `go test` in sdk/, with -race when this test binary has it, and their output is shown
// when they fail.
//
// Set TRIBUTARY_SDK_TESTS=skip when the SDK's packages are named on the command line anyway
// (go test ./... ./sdk/...), so they do not run twice.
func TestSDKModule(t *testing.T) {
	if os.Getenv("TRIBUTARY_SDK_TESTS") == "skip" {
		t.Skip("TRIBUTARY_SDK_TESTS=skip: the SDK module's tests are run by their own pattern")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the SDK module's tests need the go command on PATH: %v", err)
	}
	dir, err := filepath.Abs(sdkDir)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"test"}
	if raceEnabled {
		args = append(args, "-race")
	}
	if testing.Short() {
		args = append(args, "-short")
	}
	args = append(args, "./...")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %v in %s: %v\n%s", args, dir, err, out)
	}
	t.Logf("go %v in %s:\n%s", args, dir, out)
}
