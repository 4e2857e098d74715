// Package wasmbuild compiles a Go guest (a plugin or a test guest) into a .wasm reactor module
// with the toolchain on PATH: GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build
// -buildmode=c-shared. It is the one place that command line is written: `tributary plugin
// build` ([GoBuild] with [ReleaseFlags]), `tributary dev` and the soak benchmark ([Build],
// which rebuilds only when the module is missing or older than its source) and the tests
// (through sdk/sdktest.Build) all use it. C guests are built with clang ([CBuild]) and
// AssemblyScript guests with asc from npm ([NPMInstall] once, then [ASBuild] with [ASFlags]).
//
// It runs on the host, never in a guest, and imports only the standard library, so every
// package of the module, sdk/sdktest included, may use it.
package wasmbuild
