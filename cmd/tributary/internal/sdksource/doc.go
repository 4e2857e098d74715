// Package sdksource carries the Go SDK module's source (github.com/tributary-gw/tributary/sdk,
// the repository's sdk folder) inside the tributary binary, so that `tributary plugin new` and
// `tributary dev` can write it where a plugin's go.mod points to it (a replace directive),
// whether or not the module is published and with no network.
//
// Go cannot embed files of another module, so the copy is generated: sdk.tar.gz, written by
// `go generate` (Pack over ../../../../sdk) and committed. TestCopyMatchesSDK fails when it
// differs from sdk/, naming the files. It holds go.mod, the top-level documents (*.md) and
// every non-test .go file of the module, nothing from testdata.
//
// The main entry points are Files, Write and GoVersion.
package sdksource

//go:generate go run generate.go
