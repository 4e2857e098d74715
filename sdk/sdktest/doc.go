// Package sdktest builds plugin guests from Go source for tests and holds the
// ABI conformance kit that every host and guest pair must pass.
//
//   - [Build] compiles a Go guest package with sdk/wasmbuild (GOOS=wasip1
//     GOARCH=wasm -buildmode=c-shared), once per directory per test binary;
//     [BuildConformanceGuest] builds the conformance guest shipped in
//     sdk/sdktest/guest; [BuildC] compiles a C guest against
//     sdk/c/tributary.h, skipping without clang unless
//     TRIBUTARY_REQUIRE_CLANG=1; [BuildAS] compiles an AssemblyScript
//     guest with the SDK in sdk/assemblyscript (npm ci of the pinned
//     compiler once per machine into [NPMCacheDir], then asc), skipping
//     without node and npm unless TRIBUTARY_REQUIRE_NODE=1.
//   - [Conformance] runs the ABI test vectors through a [Caller], the
//     host-side function that hands an input frame to a guest instance and
//     returns its result frame. The guest's behaviour for each vector is
//     specified in sdk/ABI.md, "Appendix: conformance guest".
//   - [Frame] and [Call] build frames and decode results for ad-hoc tests.
//
// It imports only the standard library, sdk/abi and sdk/wasmbuild (never
// wasmhost or sdk),
// so a host's tests can use it without an import cycle.
package sdktest
