// Command reshape is the first-party Tributary plugin that restructures
// JSON objects: select, drop, rename, move and nest fields, and add
// constants and MQTT topic levels. See README.md for the configuration; the
// logic lives in reshape.go. The operations compile, at configuration time,
// to one jsonfield.Edit, so a message costs one jsonfield call (one host
// call in wasm) whatever the number of operations; reference_test.go keeps
// the former one-call-per-change implementation and checks that the two
// give the same outputs and errors.
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It
// imports only the standard library and the Tributary SDK (sdk, sdk/jsonfield),
// never gateway or wasmhost. Entry point: the handler registered in main.go's
// init, configured by the route stage's config (decoded in an sdk.OnInit hook,
// so bad configuration fails the load).
package main
