package e2e

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tributary-gw/tributary/sdk/sdktest"
)

// buildASGuest compiles plugins/assemblyscript/<name>/<name>.ts with sdktest.BuildAS
// (skipped without node and npm unless TRIBUTARY_REQUIRE_NODE=1) and returns the .wasm bytes.
func buildASGuest(t testing.TB, name string) []byte {
	t.Helper()
	return sdktest.BuildAS(t, filepath.Join(repoRoot(t), "plugins", "assemblyscript", name, name+".ts"))
}

// TestASGuest_Conformance runs the ABI conformance kit against the AssemblyScript guest
// (plugins/assemblyscript/conformance), built from source with asc and the SDK in
// sdk/assemblyscript, through Instance.Handle as TestCGuest_Conformance does.
func TestASGuest_Conformance(t *testing.T) {
	checkConformance(t, "as-conformance", buildASGuest(t, "conformance"))
}

// TestASGuest_Init checks the AssemblyScript guest's init, with a surrogate pair and escapes
// in the error text too.
func TestASGuest_Init(t *testing.T) {
	cases := append(slices.Clone(initCases), initCase{`{"fail_init":"a\"b\\c\n\ud83d\ude00"}`, "a\"b\\c\n\U0001F600"})
	checkInit(t, "as-conformance", buildASGuest(t, "conformance"), cases)
}

// TestASGuest_Failures checks the optional commands that end an instance: each is classified
// by the host as the ABI says, and a log line reaches the host.
func TestASGuest_Failures(t *testing.T) {
	checkFailures(t, "as-conformance", buildASGuest(t, "conformance"), "hello from AssemblyScript")
}
