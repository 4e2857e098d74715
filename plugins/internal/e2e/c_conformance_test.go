package e2e

import "testing"

// TestCGuest_Conformance runs the ABI conformance kit against the C guest
// (plugins/c/conformance), built from source with clang: the proof that
// sdk/ABI.md alone is enough to write a guest.
func TestCGuest_Conformance(t *testing.T) {
	checkConformance(t, "c-conformance", buildCGuest(t, "conformance"))
}

// TestCGuest_Init checks the C guest's init: configurations accepted and rejected.
func TestCGuest_Init(t *testing.T) {
	checkInit(t, "c-conformance", buildCGuest(t, "conformance"), initCases)
}

// TestCGuest_Failures checks the optional commands that end an instance:
// each is classified by the host as the ABI says.
func TestCGuest_Failures(t *testing.T) {
	checkFailures(t, "c-conformance", buildCGuest(t, "conformance"), "hello from C")
}
