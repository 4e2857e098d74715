// Package sdk is the Go guest SDK for Tributary plugins: register a handler
// in init, build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared, and the
// gateway runs it on every message of a route.
//
//	package main
//
//	import "github.com/tributary-gw/tributary/sdk"
//
//	func init() { sdk.Map(upper) } // c-shared modules never run main
//
//	func upper(m *sdk.Message) error {
//		m.SetPayload(bytes.ToUpper(m.Payload()))
//		return nil
//	}
//
//	func main() {}
//
// The entry points are [Handle] (filter, map or split), [Map] and [Filter];
// [Config] and [OnInit] for the route's configuration; [Log] and [Logf].
// The wire format and the raw exports are specified in sdk/ABI.md and
// implemented by package sdk/abi; the raw //go:wasmexport and
// //go:wasmimport declarations live in one wasip1-only file.
//
// # Testing plugins natively
//
// On every other target the same dispatch path is compiled without the
// exports, so a plugin's logic is tested with plain go test (and -race):
// [Init] hands a configuration as the host would, [Process] encodes messages
// into an input frame, runs the registered handler and decodes the result
// frame, and [HandleFrame] works on raw frames.
//
// # Speed in a wasm guest
//
// What costs most per message in a wasm guest is allocating and crossing to
// the host. So: build a message's new payload in a buffer kept
// between calls (the SDK copies it into the result when the handler
// returns; see [Message.SetPayload]); return [One](m) rather than a new
// slice; read and change JSON with sdk/jsonfield's Fields and Edit, one
// host call each for any number of fields. The first-party plugins in
// plugins/ do all three (docs/RATIONALE.md, "sdk", has what they cost).
//
// # Concurrency
//
// A wasm instance is single-threaded and the host never calls into one
// instance concurrently, so none of this package's functions are safe for
// concurrent use; native tests must not call them from parallel tests.
//
// # Imports and module
//
// This package imports only the standard library and sdk/abi. It belongs to the module
// github.com/tributary-gw/tributary/sdk (this folder), which requires nothing, versioned
// v0.<ABI>.<patch> (abi.ModuleVersion: the minor number is the ABI version). Every tributary
// binary carries this module's source for its own version: `tributary plugin new` writes it
// into the new plugin's tributary-sdk folder and points the plugin's go.mod at it.
package sdk
