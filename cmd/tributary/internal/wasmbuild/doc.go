// Package wasmbuild turns a Go plugin's source folder into a .wasm module for `tributary dev`,
// with the toolchain on PATH: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It rebuilds
// only when the module is missing or older than its source.
//
// `tributary plugin build` uses GoBuild, which always builds and takes extra flags
// (ReleaseFlags).
//
// The main entry point is Build. The package imports nothing of ours.
package wasmbuild
